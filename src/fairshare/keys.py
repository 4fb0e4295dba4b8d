"""Keys in the key directory, and sealing of sensitive values with AES-256-GCM.

A sealed value is a self-describing string `v1.<key id>.<nonce>.<ciphertext>` (URL-safe
base64), so keys can rotate: new values use the newest key, old ones open with the key they
name. The associated data binds each ciphertext to its record and field, so a ciphertext
copied onto another person or field does not open.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fairshare.errors import FairshareError

KEY_PREFIX = "health-"
KEY_SUFFIX = ".key"


class KeyDirectoryError(FairshareError):
    """The key directory is missing a key or holds an unreadable one."""

    exit_code = 6


class SealedValueError(FairshareError):
    """A sealed value does not open: wrong key, wrong record, or tampered."""

    exit_code = 6


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FieldCipher:
    """Seals and opens field values with the AES-256-GCM keys of one key directory."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise KeyDirectoryError(f"current key {current!r} is not in the key directory")
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = current

    @classmethod
    def from_directory(cls, directory: Path, *, create: bool = True) -> FieldCipher:
        """Load every health key; create the first one (mode 0600) if there is none."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = sorted(directory.glob(f"{KEY_PREFIX}*{KEY_SUFFIX}"))
        if not files:
            if not create:
                raise KeyDirectoryError(
                    f"no health encryption key in {directory}; run `fairshare keys init`"
                )
            files = [generate_key(directory)]
        keys: dict[str, bytes] = {}
        for path in files:
            key = _unb64(path.read_text().strip())
            if len(key) != 32:
                raise KeyDirectoryError(f"{path} does not hold a 256-bit key")
            keys[path.name[len(KEY_PREFIX) : -len(KEY_SUFFIX)]] = key
        return cls(keys, sorted(keys)[-1])

    def seal(self, plaintext: str, associated: str) -> str:
        nonce = os.urandom(12)
        ciphertext = self._aead[self.current].encrypt(
            nonce, plaintext.encode(), associated.encode()
        )
        return f"v1.{self.current}.{_b64(nonce)}.{_b64(ciphertext)}"

    def open(self, sealed: str, associated: str) -> str:
        try:
            version, key_id, nonce, ciphertext = sealed.split(".")
        except ValueError:
            raise SealedValueError("a sealed value is malformed") from None
        if version != "v1" or key_id not in self._aead:
            raise SealedValueError(f"no key {key_id!r} to open a sealed value; restore it")
        try:
            return (
                self._aead[key_id]
                .decrypt(_unb64(nonce), _unb64(ciphertext), associated.encode())
                .decode()
            )
        except InvalidTag:
            raise SealedValueError("a sealed value failed its integrity check") from None


def generate_key(directory: Path) -> Path:
    """Write a new random 256-bit key readable only by its owner; returns its path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Key ids are zero-padded sequence numbers, so the newest key sorts last.
    existing = [
        p.name[len(KEY_PREFIX) : -len(KEY_SUFFIX)]
        for p in directory.glob(f"{KEY_PREFIX}*{KEY_SUFFIX}")
    ]
    key_id = f"{max((int(k) for k in existing if k.isdigit()), default=0) + 1:04d}"
    path = directory / f"{KEY_PREFIX}{key_id}{KEY_SUFFIX}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(_b64(secrets.token_bytes(32)))
    return path
