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
    sweep: Callable[[], Any]


def register_tasks(platform: Platform) -> Tasks:
    """Registers this process's tasks on its Huey instance (same names in the web and worker processes)."""
    huey = platform.huey

    @huey.task(name="process_deliveries", retries=3, retry_delay=10)
    def process_deliveries(delivery_ids: list[int]) -> None:
        from stackyard.services.deliveries import process_deliveries as run

        run(platform, delivery_ids)

    @huey.periodic_task(crontab(minute="*"), name="sweep")
    def sweep() -> None:
        from stackyard.services.sweep import requeue_stale_deliveries

        requeue_stale_deliveries(platform)

    return Tasks(process_deliveries=process_deliveries, sweep=sweep)
