"""Standard Webhooks verification (GITLAB.md A4): GitLab's signatures pass, anything else does not."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackyard.devtools import sender
from stackyard.gitlab import signatures
from stackyard.gitlab.signatures import SignedHeaders, Verdict

TOLERANCE = 300
NOW = 1_800_000_000

keys = st.binary(min_size=signatures.MIN_KEY_BYTES, max_size=64)
ids = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=40)
bodies = st.binary(max_size=2000)
offsets = st.integers(min_value=-TOLERANCE, max_value=TOLERANCE)


def token_for(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


def signed_by_gitlab(key: bytes, webhook_id: str, stamp: int, body: bytes) -> SignedHeaders:
    """Signed the way the sender (and so the GitLab double) signs: an implementation of its own."""
    signature = sender.sign(body, signing_token=token_for(key), webhook_id=webhook_id, timestamp=stamp)
    return SignedHeaders(webhook_id=webhook_id, timestamp=str(stamp), signature=signature)


@given(key=keys, webhook_id=ids, body=bodies, offset=offsets)
def test_gitlab_signatures_verify(key: bytes, webhook_id: str, body: bytes, offset: int) -> None:
    signed = signed_by_gitlab(key, webhook_id, NOW + offset, body)
    assert signatures.verify([key], signed, body, now=NOW, tolerance=TOLERANCE) is Verdict.VALID


@given(key=keys, webhook_id=ids, body=bodies, position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_changed_body_byte_is_a_mismatch(key: bytes, webhook_id: str, body: bytes, position: int,
                                             bit: int) -> None:
    signed = signed_by_gitlab(key, webhook_id, NOW, body)
    tampered = bytearray(body + b"x")
    tampered[position % len(tampered)] ^= 1 << bit
    assert signatures.verify([key], signed, bytes(tampered), now=NOW, tolerance=TOLERANCE) is Verdict.MISMATCH


@given(key=keys, other=keys, webhook_id=ids, body=bodies)
def test_another_key_or_id_is_a_mismatch(key: bytes, other: bytes, webhook_id: str, body: bytes) -> None:
    signed = signed_by_gitlab(key, webhook_id, NOW, body)
    if other != key:
        assert signatures.verify([other], signed, body, now=NOW, tolerance=TOLERANCE) is Verdict.MISMATCH
    moved = SignedHeaders(webhook_id + "0", signed.timestamp, signed.signature)
    assert signatures.verify([key], moved, body, now=NOW, tolerance=TOLERANCE) is Verdict.MISMATCH


@given(key=keys, body=bodies, late=st.integers(min_value=TOLERANCE + 1, max_value=10**9), sign=st.sampled_from([-1, 1]))
def test_timestamps_outside_the_tolerance_are_stale(key: bytes, body: bytes, late: int, sign: int) -> None:
    signed = signed_by_gitlab(key, "id", NOW + sign * late, body)
    assert signatures.verify([key], signed, body, now=NOW, tolerance=TOLERANCE) is Verdict.STALE


@given(key=keys, old=keys, body=bodies, junk=st.lists(st.text(max_size=30).filter(lambda s: " " not in s), max_size=3))
def test_rotation_lists_match_when_any_entry_matches_any_key(key: bytes, old: bytes, body: bytes,
                                                             junk: list[str]) -> None:
    signed = signed_by_gitlab(key, "id", NOW, body)
    listed = SignedHeaders("id", signed.timestamp, " ".join([*junk, "v1,AAAA", signed.signature]))
    assert signatures.verify([old, key], listed, body, now=NOW, tolerance=TOLERANCE) is Verdict.VALID


@given(webhook_id=st.text(max_size=50), stamp=st.text(max_size=20), signature=st.text(max_size=200),
       body=bodies, key=keys)
def test_arbitrary_headers_never_raise(webhook_id: str, stamp: str, signature: str, body: bytes, key: bytes) -> None:
    verdict = signatures.verify([key], SignedHeaders(webhook_id, stamp, signature), body, now=NOW,
                                tolerance=TOLERANCE)
    assert verdict in {Verdict.MALFORMED, Verdict.STALE, Verdict.MISMATCH}


@pytest.mark.parametrize(("webhook_id", "stamp", "signature"), [
    ("", str(NOW), "v1,AAAA"),
    ("id", "", "v1,AAAA"),
    ("id", "12.5", "v1,AAAA"),
    ("id", "-5", "v1,AAAA"),
    ("id", str(NOW), ""),
    ("id", str(NOW), "v2,AAAA"),
])
def test_missing_or_malformed_parts(webhook_id: str, stamp: str, signature: str) -> None:
    verdict = signatures.verify([b"k" * 32], SignedHeaders(webhook_id, stamp, signature), b"{}", now=NOW,
                                tolerance=TOLERANCE)
    assert verdict is Verdict.MALFORMED


def test_signed_headers_absent_or_partial() -> None:
    assert signatures.signed_headers({"x-gitlab-token": "t"}) is None
    partial = signatures.signed_headers({"webhook-signature": "v1,AAAA"})
    assert partial == SignedHeaders("", "", "v1,AAAA")


def test_new_tokens_have_gitlabs_format_and_decode() -> None:
    token = signatures.new_signing_token()
    assert token.startswith("whsec_")
    assert len(signatures.decode_signing_token(token)) == 32
    assert token != signatures.new_signing_token()


SHORT = "whsec_" + base64.b64encode(b"short").decode()


@pytest.mark.parametrize("bad", ["", "secret", "whsec_", "whsec_not base64!", SHORT])
def test_bad_signing_tokens_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(ValueError, match=r"whsec_|base64|bytes"):
        signatures.decode_signing_token(bad)
