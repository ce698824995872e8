"""Group commit for webhook deliveries: concurrent requests share one transaction and one writer thread.

A request hands its delivery over and awaits the commit of the batch it landed in, so it still answers
202 only once its delivery is durable. While one batch is being written, the next one fills up; there
is no timer, so a lone delivery is written at once and a burst is written in few transactions. The
batch's one queue message is sent after the commit and before the answers (STYLE.md: store and commit,
then enqueue, then answer), so whoever got a 202 can rely on the worker having been told.

The writer is one plain thread fed by a queue and answering through `call_soon_threadsafe`: the writes
of one process are serial anyway, and asyncio's executor machinery (a task, a concurrent future and its
asyncio twin per batch) cost more on the event loop than handing the batch over does (README, "Benchmarks").
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence

from stackyard.services.intake import MAX_BATCH, Accepted, Incoming, Stored

Store = Callable[[Sequence[Incoming]], Stored]
HandOver = Callable[[list[int]], None]
_Batch = list[tuple[Incoming, "asyncio.Future[Accepted]"]]
_Job = tuple[asyncio.AbstractEventLoop, _Batch]


class DeliveryBatcher:
    def __init__(self, store: Store, hand_over: HandOver, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._hand_over = hand_over
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Touched on the event loop only.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: _Batch = []
        self._writing = False

    async def submit(self, item: Incoming) -> Accepted:
        """Returns once the delivery is committed; raises what the store raised for its batch."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (tests start one per client): nothing from the old one can still be pending.
            self._loop, self._pending, self._writing = loop, [], False
        future: asyncio.Future[Accepted] = loop.create_future()
        self._pending.append((item, future))
        if not self._writing:
            # Next turn of the loop, so that the requests that arrived together are written together.
            self._writing = True
            loop.call_soon(self._write_next, loop)
        return await future

    def _write_next(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        if self._thread is None:
            # A daemon, so a process that never calls close() can still exit; close() waits for it.
            self._thread = threading.Thread(target=self._run, name="delivery-writer", daemon=True)
            self._thread.start()
        self._jobs.put((loop, batch))

    def _run(self) -> None:
        """The writer thread: commit a batch, hand it to the worker, pass the outcome back to its loop."""
        while (job := self._jobs.get()) is not None:
            loop, batch = job
            outcome: Stored | Exception
            try:
                outcome = self._store([item for item, _ in batch])
                self._hand_over(outcome.new_ids)
            except Exception as exc:
                outcome = exc
            # RuntimeError: that event loop is closed, so nobody is waiting for these answers.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._finish, loop, batch, outcome)

    def _finish(self, loop: asyncio.AbstractEventLoop, batch: _Batch, outcome: Stored | Exception) -> None:
        """On the event loop: answer the batch's requests, then start on the deliveries that came meanwhile."""
        for index, (_, future) in enumerate(batch):
            # A request whose client went away was cancelled; its delivery is kept all the same.
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome.answers[index])
        if loop is not self._loop:
            return
        if self._pending:
            self._write_next(loop)
        else:
            self._writing = False

    def close(self) -> None:
        """Waits for the batch being written (at shutdown, after the server stopped taking requests)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join()
