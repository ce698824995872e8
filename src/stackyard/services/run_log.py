"""A run's output in the database, line by line as it happens, bounded in size."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from stackyard.runner.masking import Masker
from stackyard.storage.tables import Run, RunLogLine, utcnow

if TYPE_CHECKING:
    from datetime import datetime

# Lines are written in small transactions: often enough that a follower sees output within a
# fraction of a second, rarely enough that a chatty plan does not become one commit per line.
_FLUSH_LINES = 200
_FLUSH_SECONDS = 0.25


class RunLogWriter:
    """Masks, stamps and stores lines; thread-safe because the heartbeat thread flushes too.

    Past `limit` bytes one notice line is stored and the rest dropped (the run is marked
    `log_truncated`): a runaway loop must not fill the database.
    """

    def __init__(self, sessions: sessionmaker[Session], run_id: int, *, masker: Masker, limit: int) -> None:
        self._sessions = sessions
        self._run_id = run_id
        self._masker = masker
        self._limit = limit
        self._lock = threading.Lock()
        self._pending: list[tuple[datetime, str, str]] = []
        self._last_flush = time.monotonic()
        with sessions() as session:
            self._seq = session.scalar(select(func.coalesce(func.max(RunLogLine.seq), 0)).where(
                RunLogLine.run_id == run_id)) or 0
            self._bytes = session.scalar(select(Run.log_bytes).where(Run.id == run_id)) or 0
        self._truncated = False

    def __call__(self, stream: str, line: str) -> None:
        masked = self._masker.mask(line)
        with self._lock:
            if self._truncated:
                return
            size = len(masked.encode("utf-8", "replace")) + 1
            if self._bytes + size > self._limit:
                self._truncated = True
                masked = f"… log cut here: it reached the limit of {self._limit} bytes (STACKYARD_RUN_LOG_LIMIT)"
                stream = "stackyard"
            self._bytes += size
            self._pending.append((utcnow(), stream, masked))
            due = len(self._pending) >= _FLUSH_LINES or time.monotonic() - self._last_flush >= _FLUSH_SECONDS
        if due or self._truncated:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            if not pending:
                return
            first = self._seq + 1
            self._seq += len(pending)
            with self._sessions.begin() as session:
                session.add_all(
                    RunLogLine(run_id=self._run_id, seq=first + i, at=at, stream=stream, line=line)
                    for i, (at, stream, line) in enumerate(pending)
                )
                session.execute(
                    update(Run)
                    .where(Run.id == self._run_id)
                    .values(log_bytes=self._bytes, log_truncated=self._truncated)
                )


def log_lines(session: Session, run_id: int, *, after: int = 0, limit: int = 5000) -> list[RunLogLine]:
    return list(
        session.scalars(
            select(RunLogLine)
            .where(RunLogLine.run_id == run_id, RunLogLine.seq > after)
            .order_by(RunLogLine.seq)
            .limit(limit)
        )
    )


def log_text(session: Session, run_id: int) -> str:
    lines = session.scalars(select(RunLogLine.line).where(RunLogLine.run_id == run_id).order_by(RunLogLine.seq))
    return "".join(f"{line}\n" for line in lines)
