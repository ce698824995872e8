"""Group commit for webhook deliveries: concurrent requests share one transaction and one writer thread.

A request hands its delivery over and awaits the commit of the batch it landed in, so it still answers
202 only once its delivery is durable. While one batch is being written, the next one fills up; there
is no timer, so a lone delivery is written at once and a burst is written in few transactions. The
batch's one queue message is sent after the commit and before the answers (STYLE.md: store and commit,
then enqueue, then answer), so whoever got a 202 can rely on the worker having been told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from stackyard.services.intake import MAX_BATCH, Accepted, Incoming, Stored

Store = Callable[[Sequence[Incoming]], Stored]
HandOver = Callable[[list[int]], None]

class DeliveryBatcher:
    def __init__(self, store: Store, hand_over: HandOver, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._hand_over = hand_over
        self._max_batch = max_batch
        # One thread, made on first use: the writes of one process are serial anyway (one batch at a
        # time), and this avoids a thread-pool hop per request.
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Incoming, asyncio.Future[Accepted]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Incoming) -> Accepted:
        """Returns once the delivery is committed; raises what the store raised for its batch."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (tests start one per client): nothing from the old one can still be pending.
            self._loop, self._pending, self._writer = loop, [], None
        future: asyncio.Future[Accepted] = loop.create_future()
        self._pending.append((item, future))
        if self._writer is None:
            self._writer = loop.create_task(self._write_batches(loop))
        return await future

    async def _write_batches(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="delivery-writer")
        executor = self._executor
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    stored = await loop.run_in_executor(executor, self._write, [item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), answer in zip(batch, stored.answers, strict=True):
                    # A request whose client went away was cancelled; its delivery is kept all the same.
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._writer = None

    def _write(self, batch: list[Incoming]) -> Stored:
        """On the writer thread: commit the batch, then hand its new deliveries to the worker in one message."""
        stored = self._store(batch)
        self._hand_over(stored.new_ids)
        return stored

    def close(self) -> None:
        """Waits for the batch being written (at shutdown, after the server stopped taking requests)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
