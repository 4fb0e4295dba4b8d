"""Card issuer keys (Ed25519) in the key directory, beside the health-data keys.

    card-root.key            signs the trust list and the revocation list
    card-issuer-0001.key     signs cards; the newest issuer key signs new cards
    card-issuer-0002.key     ... after a rotation

Each file holds one raw 32-byte private key in URL-safe Base64, readable only by its owner
(0600), as `fairshare.keys` does for the health keys. Private keys never leave this object:
it signs on request and hands out public keys only; its repr names key ids, nothing else.
Which keys are retired is recorded in the database (card_issuer_keys), with the public keys,
so a server verifies cards without reading this directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from fairshare.credentials.card import key_id_of
from fairshare.credentials.lists import b64, raw_public, unb64
from fairshare.keys import KeyDirectoryError

ROOT_FILE = "card-root.key"
ISSUER_PREFIX = "card-issuer-"
KEY_SUFFIX = ".key"


@dataclass(frozen=True)
class IssuerKeyInfo:
    """An issuer key as anyone may see it."""

    key_id: str
    public_key: bytes
    sequence: int


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(b64(raw))


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        raw = unb64(path.read_text().strip())
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (ValueError, OSError):
        raise KeyDirectoryError(f"{path} does not hold an Ed25519 private key") from None


class IssuerKeys:
    """The card keys of one key directory."""

    def __init__(
        self, root: Ed25519PrivateKey, issuers: dict[int, Ed25519PrivateKey], directory: Path
    ) -> None:
        if not issuers:
            raise KeyDirectoryError(f"no card issuer key in {directory}")
        self._root = root
        self._issuers = issuers
        self.directory = directory
        self._infos = {
            sequence: IssuerKeyInfo(
                key_id_of(raw_public(key.public_key())), raw_public(key.public_key()), sequence
            )
            for sequence, key in issuers.items()
        }
        self._by_id = {info.key_id: self._issuers[s] for s, info in self._infos.items()}

    def __repr__(self) -> str:
        return f"IssuerKeys({self.directory}, key ids {[i.key_id for i in self.infos()]})"

    @classmethod
    def from_directory(cls, directory: Path, *, create: bool = True) -> IssuerKeys:
        """Load the card keys; create the root and a first issuer key (0600) if there are none."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        root_path = directory / ROOT_FILE
        if not root_path.exists():
            if not create:
                raise KeyDirectoryError(
                    f"no card root key in {directory}; run `fairshare card keys init`"
                )
            _write_private(root_path, Ed25519PrivateKey.generate())
        files = sorted(directory.glob(f"{ISSUER_PREFIX}*{KEY_SUFFIX}"))
        if not files:
            if not create:
                raise KeyDirectoryError(
                    f"no card issuer key in {directory}; run `fairshare card keys init`"
                )
            files = [generate_issuer_key(directory)]
        issuers: dict[int, Ed25519PrivateKey] = {}
        for path in files:
            sequence = path.name[len(ISSUER_PREFIX) : -len(KEY_SUFFIX)]
            if sequence.isdigit():
                issuers[int(sequence)] = _read_private(path)
        return cls(_read_private(root_path), issuers, directory)

    def infos(self) -> list[IssuerKeyInfo]:
        """Every issuer key, oldest first."""
        return [self._infos[s] for s in sorted(self._infos)]

    def newest(self, excluding: frozenset[str] = frozenset()) -> IssuerKeyInfo:
        """The key new cards are signed with: the newest one not retired."""
        for info in reversed(self.infos()):
            if info.key_id not in excluding:
                return info
        raise KeyDirectoryError(
            "every card issuer key is retired; run `fairshare card keys rotate` for a new one"
        )

    def signer(self, key_id: str) -> Ed25519PrivateKey:
        """The private key with this id, for signing here; raises KeyDirectoryError."""
        try:
            return self._by_id[key_id]
        except KeyError:
            raise KeyDirectoryError(f"no card issuer key {key_id!r} in {self.directory}") from None

    @property
    def root(self) -> Ed25519PrivateKey:
        return self._root

    @property
    def anchor(self) -> bytes:
        """The root public key verifiers pin."""
        return raw_public(self._root.public_key())


def generate_issuer_key(directory: Path) -> Path:
    """Write a new issuer key with the next sequence number; returns its path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = [
        p.name[len(ISSUER_PREFIX) : -len(KEY_SUFFIX)]
        for p in directory.glob(f"{ISSUER_PREFIX}*{KEY_SUFFIX}")
    ]
    sequence = max((int(s) for s in existing if s.isdigit()), default=0) + 1
    path = directory / f"{ISSUER_PREFIX}{sequence:04d}{KEY_SUFFIX}"
    _write_private(path, Ed25519PrivateKey.generate())
    return path
