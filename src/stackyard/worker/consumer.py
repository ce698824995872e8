"""Running Huey's consumer: alone (`stackyard worker`) or inside the web process (`stackyard serve`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from huey.consumer import Consumer

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


class EmbeddedConsumer(Consumer):
    """Leaves signal handling to uvicorn, which calls stop() from the app's shutdown."""

    def _set_signal_handlers(self) -> None:
        return None


def consumer_options(platform: Platform) -> dict[str, object]:
    return {
        "workers": platform.settings.worker_threads,
        "worker_type": "thread",
        # Idle polling of the SQLite queue backs off to at most 1 s, so new work starts promptly.
        "max_delay": 1.0,
        "periodic": True,
        "check_worker_health": True,
        # SIGTERM finishes running tasks (a plan in progress is handed back: see services/execution).
        "graceful_signal": "TERM",
    }


def start_embedded(platform: Platform) -> EmbeddedConsumer:
    consumer = EmbeddedConsumer(platform.huey, **consumer_options(platform))
    consumer.start()
    return consumer


def stop_embedded(platform: Platform, consumer: EmbeddedConsumer) -> None:
    platform.stopping.set()
    consumer.stop(graceful=True)


def run_standalone(platform: Platform) -> None:
    consumer = Consumer(platform.huey, **consumer_options(platform))
    original = consumer._handle_signal

    def handle(signum: int, frame: object) -> None:
        platform.stopping.set()
        original(signum, frame)

    consumer._handle_signal = handle
    consumer.run()


