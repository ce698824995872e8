"""Encryption of tokens and secret variables at rest (Fernet)."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBoxError(ValueError):
    pass


class SecretBox:
    """Encrypts with one key; a wrong key fails loudly instead of returning garbage."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretBoxError(
                "STACKYARD_SECRET_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from exc

    def derive_key(self, purpose: str) -> bytes:
        """A key for one purpose (e.g. signing download links), so the encryption key is never reused as is."""
        return hmac.new(self._key, f"stackyard:{purpose}".encode(), hashlib.sha256).digest()

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise SecretBoxError(
                "a stored secret cannot be decrypted: STACKYARD_SECRET_KEY differs from the key it was "
                "encrypted with"
            ) from exc


def load_or_create_key(configured: str | None, data_dir: Path) -> bytes:
    """Use the configured key, else the one generated into the data dir on first start (mode 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key
