"""Running queued work in the test's own thread, so flows are deterministic without sleeps."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


def drain(platform: Platform, *, limit: int = 1000) -> int:
    """Executes queued tasks (and the ones they enqueue) until the queue is empty; returns how many ran."""
    executed = 0
    huey = platform.huey
    while executed < limit:
        task = huey.dequeue()
        if task is None:
            # Scheduled (delayed) tasks become due only through the scheduler; run the due ones now.
            due = huey.read_schedule(huey._get_timestamp())
            if not due:
                return executed
            for scheduled in due:
                huey.enqueue(scheduled)
            continue
        huey.execute(task)
        executed += 1
    raise AssertionError(f"the queue did not empty after {limit} tasks")
