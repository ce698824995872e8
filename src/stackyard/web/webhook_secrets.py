"""Per-process cache of the secrets a webhook may carry, so the hot path skips the database and Fernet."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from stackyard.services.hooks import accepted_secrets
from stackyard.storage.tables import Integration

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

# A rotated-away secret keeps working at most this long in other processes; a new secret (a hook just
# installed) is never refused, because a miss re-reads the database before answering 401.
TTL_SECONDS = 5.0


@dataclass(frozen=True)
class Entry:
    integration_id: int
    secrets: tuple[bytes, ...]
    loaded_at: float


class WebhookSecrets:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def _load(self, name: str) -> Entry | None:
        with self._platform.sessions() as session:
            integration = session.scalar(select(Integration).where(Integration.name == name))
        if integration is None:
            # Not cached: an integration created a moment later must be found at once.
            with self._lock:
                self._entries.pop(name, None)
            return None
        secrets = tuple(s.encode() for s in accepted_secrets(self._platform, integration))
        entry = Entry(integration.id, secrets, time.monotonic())
        with self._lock:
            self._entries[name] = entry
        return entry

    def cached(self, name: str) -> Entry | bool | None:
        """The cached entry, or False when there is none fresh enough."""
        with self._lock:
            if name not in self._entries:
                return False
            entry = self._entries[name]
        if entry is not None and time.monotonic() - entry.loaded_at > TTL_SECONDS:
            return False
        return entry

    def load(self, name: str) -> Entry | None:
        return self._load(name)


def matches(entry: Entry, token: str | None) -> bool:
    if not token:
        return False
    candidate = token.encode()
    matched = False
    for secret in entry.secrets:
        # Compare against every secret so timing does not tell which one (or how many) exist.
        matched |= hmac.compare_digest(secret, candidate)
    return matched
