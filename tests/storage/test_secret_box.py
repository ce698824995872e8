"""Secrets at rest: Fernet with a configured key or one generated once into the data dir."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stackyard.storage.secrets import SecretBox, SecretBoxError, load_or_create_key


def test_generated_key_is_private_and_stable(tmp_path: Path) -> None:
    key = load_or_create_key(None, tmp_path)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert load_or_create_key(None, tmp_path) == key


def test_round_trip_and_ciphertext_hides_plaintext(tmp_path: Path) -> None:
    box = SecretBox(load_or_create_key(None, tmp_path))
    sealed = box.encrypt("glpat-very-secret")
    assert b"glpat-very-secret" not in sealed
    assert box.decrypt(sealed) == "glpat-very-secret"


def test_wrong_key_fails_loudly(tmp_path: Path) -> None:
    sealed = SecretBox(load_or_create_key(None, tmp_path / "a")).encrypt("x")
    with pytest.raises(SecretBoxError, match="STACKYARD_SECRET_KEY"):
        SecretBox(load_or_create_key(None, tmp_path / "b")).decrypt(sealed)


def test_invalid_configured_key_is_explained() -> None:
    with pytest.raises(SecretBoxError, match="not a valid Fernet key"):
        SecretBox(b"short")
