"""Per-process cache of the tokens and signing keys a webhook may carry: the hot path skips the database and Fernet."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select

from stackyard.gitlab import signatures
from stackyard.logs import get_logger
from stackyard.services.hooks import webhook_credentials
from stackyard.storage.tables import Integration

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)

# A rotated-away secret keeps working at most this long in other processes; a new secret (a hook just
# installed, a signing token just set) is never refused, because a failure re-reads the database first.
TTL_SECONDS = 5.0


@dataclass(frozen=True)
class Credential:
    """One X-Gitlab-Token Stackyard handed out, with the signing keys of the hook(s) that send it."""

    token: bytes
    signing_keys: tuple[bytes, ...]


@dataclass(frozen=True)
class Entry:
    integration_id: int
    credentials: tuple[Credential, ...]
    loaded_at: float


class Refusal(StrEnum):
    """Why a delivery gets 401; the value is the answer's detail."""

    TOKEN = "missing or wrong X-Gitlab-Token"
    SIGNATURE = "webhook-signature does not match the body (check the hook's signing token)"
    MALFORMED = "webhook-id, webhook-timestamp and webhook-signature must all be present and well formed"
    STALE = "webhook-timestamp is too far from this server's clock (replayed delivery, or a clock is wrong)"


@dataclass(frozen=True)
class Judgement:
    refusal: Refusal | None
    # Signature headers arrived, but Stackyard knows no signing token for the hook that sent them.
    unverifiable_signature: bool = False


# The common verdicts, made once: this runs for every delivery.
_ACCEPTED = Judgement(None)
_BAD_TOKEN = Judgement(Refusal.TOKEN)


def judge(
    entry: Entry, headers: Mapping[str, str], body: bytes, *, now: float, tolerance: int
) -> Judgement:
    """X-Gitlab-Token is always required; a Standard Webhooks signature is checked when one arrives.

    The signature is checked with the signing keys paired with the token that matched, so a hand-made
    hook and a hook Stackyard installed are each held to their own signing token. Signature headers
    for which no signing token is known are accepted on the token alone (see README, "Webhooks").
    """
    token = headers.get("x-gitlab-token")
    if not token:
        return _BAD_TOKEN
    candidate = token.encode("utf-8", "replace")
    keys: list[bytes] = []
    matched = False
    for credential in entry.credentials:
        # Compare against every token so timing does not tell which one (or how many) exist.
        if hmac.compare_digest(credential.token, candidate):
            matched = True
            keys.extend(credential.signing_keys)
    if not matched:
        return _BAD_TOKEN
    signed = signatures.signed_headers(headers)
    if signed is None:
        # GitLab before 19.0, or the webhook_signing_token flag off, never signs (A4).
        return _ACCEPTED
    if not keys:
        return Judgement(None, unverifiable_signature=True)
    verdict = signatures.verify(keys, signed, body, now=now, tolerance=tolerance)
    if verdict is signatures.Verdict.VALID:
        return _ACCEPTED
    refusal = {
        signatures.Verdict.MALFORMED: Refusal.MALFORMED,
        signatures.Verdict.STALE: Refusal.STALE,
    }.get(verdict, Refusal.SIGNATURE)
    return Judgement(refusal)


def _keys(signing_token: str | None) -> tuple[bytes, ...]:
    if not signing_token:
        return ()
    try:
        return (signatures.decode_signing_token(signing_token),)
    except ValueError:
        # Stored values are validated on the way in; an unreadable one signs nothing.
        return ()


class WebhookSecrets:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._warned: set[int] = set()

    def load(self, name: str) -> Entry | None:
        """Reads the database (call it off the event loop); None for an unknown integration."""
        with self._platform.sessions() as session:
            integration = session.scalar(select(Integration).where(Integration.name == name))
            if integration is None:
                # Not cached: an integration created a moment later must be found at once.
                with self._lock:
                    self._entries.pop(name, None)
                return None
            pairs = webhook_credentials(self._platform, session, integration)
            integration_id = integration.id
        credentials = tuple(
            Credential(token.encode(), _keys(signing)) for token, signing in pairs
        )
        entry = Entry(integration_id, credentials, time.monotonic())
        with self._lock:
            self._entries[name] = entry
        return entry

    def cached(self, name: str) -> Entry | None:
        """The cached entry while it is fresh, else None (then `load` it)."""
        entry = self._entries.get(name)  # one dict read: atomic, no lock needed
        if entry is None or time.monotonic() - entry.loaded_at > TTL_SECONDS:
            return None
        return entry

    def warn_unverifiable(self, integration_name: str, integration_id: int) -> None:
        """Once per process and integration: a hook signs deliveries with a token Stackyard does not know."""
        with self._lock:
            if integration_id in self._warned:
                return
            self._warned.add(integration_id)
        log.warning(
            "webhook deliveries are signed but no signing token is set: accepted on X-Gitlab-Token alone",
            integration=integration_name,
            hint=f"stackyard integration update {integration_name} --signing-token -",
        )
