"""Thin Huey tasks: each one opens a service call; the names are what the queue carries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huey import crontab

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


@dataclass(frozen=True)
class Tasks:
    """Enqueue functions; call them only after the transaction that made the work has committed."""

    process_deliveries: Callable[[list[int]], Any]
    execute_run: Callable[[int], Any]
    execute_run_later: Callable[[int, float], Any]
    send_feedback: Callable[[], Any]
    # The same pass, `delay` seconds from now: backoff and Retry-After (huey's scheduled tasks).
    send_feedback_after: Callable[[float], Any]
    sweep: Callable[[], Any]


def register_tasks(platform: Platform) -> Tasks:
    """Registers this process's tasks on its Huey instance (same names in the web and worker processes)."""
    huey = platform.huey

    @huey.task(name="process_deliveries", retries=3, retry_delay=10)
    def process_deliveries(delivery_ids: list[int]) -> None:
        from stackyard.services.deliveries import process_deliveries as run

        run(platform, delivery_ids)

    # A failure inside a run ends the run (execution catches it); retries cover errors around it, such
    # as a database that is briefly away while claiming. Claims are idempotent, so a retry is safe.
    @huey.task(name="execute_run", retries=2, retry_delay=5)
    def execute_run(run_id: int) -> None:
        from stackyard.services.execution import execute_run as run

        run(platform, run_id)

    def execute_run_later(run_id: int, delay: float) -> Any:
        return execute_run.schedule(args=(run_id,), delay=delay)

    @huey.task(name="send_feedback")
    def send_feedback() -> None:
        from stackyard.services.feedback_sender import send_due_feedback

        send_due_feedback(platform)

    def send_feedback_after(delay: float) -> Any:
        return send_feedback.schedule(delay=delay)

    @huey.periodic_task(crontab(minute="*"), name="sweep")
    def sweep() -> None:
        from stackyard.services.sweep import sweep as run

        run(platform)

    return Tasks(
        process_deliveries=process_deliveries,
        execute_run=execute_run,
        execute_run_later=execute_run_later,
        send_feedback=send_feedback,
        send_feedback_after=send_feedback_after,
        sweep=sweep,
    )
