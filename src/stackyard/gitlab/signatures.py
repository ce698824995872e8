"""Standard Webhooks signatures as GitLab 19.0+ sends them with a signing token (GITLAB.md A4).

Pure functions over bytes and strings: no I/O, no clock (the caller passes `now`), so the webhook
hot path and the tests share exactly one implementation of the rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# GitLab generates 32 random bytes (A4); a shorter key is a typo or a weak hand-made secret.
MIN_KEY_BYTES = 16
# Standard Webhooks ids and signatures are short; refuse absurd headers before hashing anything.
MAX_HEADER_CHARS = 4096


class Verdict(StrEnum):
    VALID = "valid"
    MALFORMED = "malformed"
    STALE = "stale"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: str
    signature: str


def signed_headers(headers: Mapping[str, str]) -> SignedHeaders | None:
    """The three signature headers (lower-case names), or None when the delivery carries none of them.

    A delivery carrying only some of them is returned with the missing ones empty: it claims to be
    signed, so it is judged (and found malformed), not waved through as unsigned.
    """
    if ID_HEADER not in headers and TIMESTAMP_HEADER not in headers and SIGNATURE_HEADER not in headers:
        return None
    return SignedHeaders(
        webhook_id=headers.get(ID_HEADER, ""),
        timestamp=headers.get(TIMESTAMP_HEADER, ""),
        signature=headers.get(SIGNATURE_HEADER, ""),
    )


def decode_signing_token(token: str) -> bytes:
    """The HMAC key: the base64-decoded bytes after `whsec_` (GITLAB.md A4). ValueError says what is wrong."""
    token = token.strip()
    if not token.startswith(PREFIX):
        raise ValueError("a signing token starts with whsec_ (copy it from GitLab's hook settings)")
    try:
        key = base64.b64decode(token.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the part after whsec_ is not valid base64") from exc
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a signing token needs at least {MIN_KEY_BYTES} bytes of key after whsec_")
    return key


def new_signing_token() -> str:
    """A token in GitLab's own format: `whsec_` + base64 of 32 random bytes (GITLAB.md A4)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(key: bytes, *, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` (the `v1,` entry without its prefix)."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def _v1_entries(header: str) -> list[bytes]:
    # A space-separated list, so a sender rotating keys can sign with both (Standard Webhooks).
    return [part[3:].encode("utf-8", "replace") for part in header.split() if part.startswith("v1,")]


def verify(
    keys: Iterable[bytes],
    signed: SignedHeaders,
    body: bytes,
    *,
    now: float,
    tolerance: int,
) -> Verdict:
    """VALID when any `v1` entry matches any key and the timestamp is within `tolerance` seconds of `now`.

    Every key is compared with every entry in constant time and without stopping at the first match,
    so timing tells an attacker neither which key nor which entry was right.
    """
    if (
        not signed.webhook_id
        or len(signed.webhook_id) > MAX_HEADER_CHARS
        or len(signed.signature) > MAX_HEADER_CHARS
        or not signed.timestamp.isascii()
        or not signed.timestamp.isdigit()
        or len(signed.timestamp) > 12
    ):
        return Verdict.MALFORMED
    entries = _v1_entries(signed.signature)
    if not entries:
        return Verdict.MALFORMED
    # Replay protection: Standard Webhooks asks receivers to refuse stamps about 5 minutes away (A4).
    if abs(now - int(signed.timestamp)) > tolerance:
        return Verdict.STALE
    matched = False
    for key in keys:
        expected = sign(key, webhook_id=signed.webhook_id, timestamp=signed.timestamp, body=body).encode()
        for entry in entries:
            matched |= hmac.compare_digest(expected, entry)
    return Verdict.VALID if matched else Verdict.MISMATCH
