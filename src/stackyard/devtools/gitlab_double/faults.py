"""Switchable failures the double injects into /api/v4 answers: before any state changes, or after
it (the request was applied, its answer lost on the way back)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One injected failure: an HTTP status, or "timeout" for a slow answer the client gives up on.

    `applied`: GitLab did the work and only the answer is lost (a proxy's 502 after Rails committed,
    a reset connection, a client timeout), so a retried POST without an idempotency key repeats it.
    """

    kind: str
    retry_after: int = 1
    applied: bool = False


@dataclass
class _Scheduled:
    remaining: int
    status: int | str
    path_contains: str | None
    retry_after: int | None
    method: str | None
    applied: bool


class Faults:
    """Decides, per request, whether to fail it; thread-safe because tests flip it while serving."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scheduled: list[_Scheduled] = []
        self._random: random.Random | None = None
        self._rate = 0.0
        self._kinds: tuple[str, ...] = ()
        self._status_conflicts = 0
        self.timeout_seconds = 2.0
        self.random_retry_after = 1

    def fail_next(
        self,
        count: int = 1,
        status: int | str = 500,
        path_contains: str | None = None,
        retry_after: int | None = None,
        *,
        method: str | None = None,
        after_applying: bool = False,
    ) -> None:
        """status may be "timeout": answer after timeout_seconds, too late for a short client timeout.
        after_applying: the request changes GitLab's state first, then the client sees the failure."""
        with self._lock:
            self._scheduled.append(
                _Scheduled(count, status, path_contains, retry_after, method, after_applying)
            )

    def set_random_failures(
        self,
        rate: float = 0.3,
        seed: int = 1,
        kinds: Iterable[str] = ("500", "502", "429", "timeout"),
    ) -> None:
        with self._lock:
            self._rate = rate
            self._random = random.Random(seed)
            self._kinds = tuple(kinds)

    def status_lock_conflicts(self, count: int) -> None:
        with self._lock:
            self._status_conflicts += count

    def clear(self) -> None:
        with self._lock:
            self._scheduled.clear()
            self._random = None
            self._rate = 0.0
            self._kinds = ()
            self._status_conflicts = 0

    def pick(self, path: str, method: str = "GET") -> Fault | None:
        with self._lock:
            for scheduled in self._scheduled:
                if scheduled.path_contains is not None and scheduled.path_contains not in path:
                    continue
                if scheduled.method is not None and scheduled.method != method:
                    continue
                scheduled.remaining -= 1
                if scheduled.remaining <= 0:
                    self._scheduled.remove(scheduled)
                retry_after = 1 if scheduled.retry_after is None else scheduled.retry_after
                return Fault(str(scheduled.status), retry_after, applied=scheduled.applied)
            if self._random is not None and self._kinds and self._random.random() < self._rate:
                return Fault(self._random.choice(self._kinds), self.random_retry_after)
        return None

    def take_status_conflict(self) -> bool:
        """Consume one injected commit-status lock conflict (GITLAB.md C1 step 1)."""
        with self._lock:
            if self._status_conflicts <= 0:
                return False
            self._status_conflicts -= 1
            return True
