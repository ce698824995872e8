"""Building the Huey instance from the queue URL: SQLite by default, Redis to scale out."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from huey import Huey, RedisHuey, SqliteHuey


def create_huey(queue_url: str, *, name: str = "stackyard") -> Huey:
    parsed = urlparse(queue_url)
    if parsed.scheme in {"redis", "rediss", "unix"}:
        return RedisHuey(name, url=queue_url, utc=True)
    if parsed.scheme == "sqlite":
        path = Path(queue_url.removeprefix("sqlite:///")) if queue_url.startswith("sqlite:///") else None
        if path is None or not str(path):
            raise ValueError(f"STACKYARD_QUEUE_URL {queue_url!r}: expected sqlite:///path/to/queue.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        # No fsync per message: the database, synced on every commit, is the source of truth, and the
        # sweeper re-sends what a lost message carried (deliveries still `received`, runs still queued
        # or confirmed, pending outbox items). WAL keeps committed messages through a process crash;
        # only a power cut can lose the last ones, and the sweeper covers that within two minutes.
        return SqliteHuey(name, filename=str(path), fsync=False, utc=True)
    raise ValueError(
        f"STACKYARD_QUEUE_URL {queue_url!r}: use sqlite:///path/to/queue.db or redis://host:port/db"
    )


def queue_is_up(huey: Huey) -> bool:
    try:
        huey.pending_count()
    except Exception:
        return False
    return True
