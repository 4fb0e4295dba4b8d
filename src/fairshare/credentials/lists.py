"""The signed trust list and revocation list that verifiers carry offline.

Both are small JSON documents signed with the deployment's card root key (Ed25519) over
their canonical JSON (sorted keys, no spaces, signature field left out). Each names the root
public key it was signed with (`anchor`); a verifier pins that anchor once, from the
operator, and afterwards accepts only lists signed with it, so a forged list is refused even
though the files travel over any channel.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fairshare.credentials.card import TrustedKey, key_id_of
from fairshare.errors import InvalidInput

TRUST_LIST_KIND = "fairshare-card-trust-list"
REVOCATION_LIST_KIND = "fairshare-card-revocation-list"
MAX_LIST_BYTES = 20_000_000


class InvalidList(InvalidInput):
    """A trust or revocation list that is unreadable, unsigned, or signed by another root."""

    exit_code = 6


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def anchor_fingerprint(anchor: bytes) -> str:
    """What an operator reads aloud to pin a root key: its key id, in groups of four."""
    kid = key_id_of(anchor)
    return " ".join(kid[i : i + 4] for i in range(0, len(kid), 4))


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sign(body: dict[str, Any], root: Ed25519PrivateKey) -> str:
    signed = {**body, "anchor": b64(raw_public(root.public_key()))}
    signed["signature"] = b64(root.sign(_canonical(signed)))
    return json.dumps(signed, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _open(text: str, kind: str, anchor: bytes | None) -> dict[str, Any]:
    if len(text) > MAX_LIST_BYTES:
        raise InvalidList(f"the {kind} is larger than {MAX_LIST_BYTES} bytes")
    try:
        document = json.loads(text)
        signature = unb64(document.pop("signature"))
        signer = unb64(document["anchor"])
        public = Ed25519PublicKey.from_public_bytes(signer)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidList(f"the file is not a signed {kind}") from None
    if document.get("kind") != kind or document.get("version") != 1:
        raise InvalidList(f"the file is not a {kind} (version 1)")
    if anchor is not None and signer != anchor:
        raise InvalidList(
            f"the {kind} is signed by root {anchor_fingerprint(signer)}, not by the pinned "
            f"root {anchor_fingerprint(anchor)}; get the list from your programme office"
        )
    try:
        public.verify(signature, _canonical(document))
    except InvalidSignature:
        raise InvalidList(f"the {kind}'s signature does not match: it was altered") from None
    return document  # type: ignore[no-any-return]


def trust_list_document(keys: Iterable[TrustedKey], issued_at: int, root: Ed25519PrivateKey) -> str:
    """The signed trust list: every issuer key verifiers should accept, retired or not (a
    retired key tells the verifier to refuse its cards with that reason)."""
    body = {
        "kind": TRUST_LIST_KIND,
        "version": 1,
        "issued_at": issued_at,
        "keys": [
            {"kid": k.key_id, "public_key": b64(k.public_key), "retired_at": k.retired_at}
            for k in sorted(keys, key=lambda k: k.key_id)
        ],
    }
    return _sign(body, root)


def revocation_list_document(
    card_ids: Iterable[str], issued_at: int, root: Ed25519PrivateKey
) -> str:
    """The signed list of revoked card ids."""
    body = {
        "kind": REVOCATION_LIST_KIND,
        "version": 1,
        "issued_at": issued_at,
        "revoked": sorted(set(card_ids)),
    }
    return _sign(body, root)


@dataclass(frozen=True)
class TrustList:
    anchor: bytes
    issued_at: int
    keys: tuple[TrustedKey, ...]


@dataclass(frozen=True)
class RevocationList:
    anchor: bytes
    issued_at: int
    revoked: frozenset[str]


def read_trust_list(text: str, anchor: bytes | None = None) -> TrustList:
    """Raises InvalidList unless the text is a trust list signed by `anchor` (any root when
    None: the caller then shows the fingerprint to compare)."""
    document = _open(text, TRUST_LIST_KIND, anchor)
    try:
        keys = tuple(
            TrustedKey(
                str(entry["kid"]),
                unb64(entry["public_key"]),
                None if entry["retired_at"] is None else int(entry["retired_at"]),
            )
            for entry in document["keys"]
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidList("the trust list's keys are malformed") from None
    for key in keys:
        if len(key.public_key) != 32 or key_id_of(key.public_key) != key.key_id:
            raise InvalidList(f"trust list key {key.key_id[:16]!r} does not match its id")
    return TrustList(unb64(document["anchor"]), int(document["issued_at"]), keys)


def read_revocation_list(text: str, anchor: bytes) -> RevocationList:
    """Raises InvalidList unless the text is a revocation list signed by `anchor`."""
    document = _open(text, REVOCATION_LIST_KIND, anchor)
    revoked = document.get("revoked")
    if not isinstance(revoked, list) or not all(isinstance(c, str) for c in revoked):
        raise InvalidList("the revocation list's card ids are malformed")
    return RevocationList(anchor, int(document["issued_at"]), frozenset(revoked))
