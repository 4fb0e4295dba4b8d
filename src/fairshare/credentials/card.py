"""The card credential: a MOSIP ID Claim 169 QR payload that verifies offline.

    claims (CBOR, CWT) -> COSE_Sign1 (EdDSA / Ed25519) -> zlib -> Base45 -> QR

The card proves who the holder is and nothing else: a random card id, the holder's name and
year of birth, optionally a hash of their photo, the issuer key id and the issue and expiry
times. No entitlement, no programme, nothing from the red-line categories.

Verification needs only the trust list (issuer public keys) and the revocation list, so a
merchant device can check a card without a network. Every failure is a `CardCheck` with a
status and a reason, never an exception: the verifier runs on whatever a camera read.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import struct
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import cbor2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from fairshare.credentials.model import AuthorisationRefused

# COSE and CWT labels (RFC 9052, RFC 8392) and the Claim 169 keys we use.
COSE_SIGN1_TAG = 18
HEADER_ALGORITHM = 1
HEADER_KEY_ID = 4
EDDSA = -8
CWT_EXPIRES = 4
CWT_NOT_BEFORE = 5
CWT_ISSUED_AT = 6
CLAIM_169 = 169
CLAIM_ID = 1
CLAIM_FULL_NAME = 4
CLAIM_DATE_OF_BIRTH = 8
# RFC 8392 keeps CWT claim keys below -65536 for private use: the optional photo hash is ours.
CLAIM_PHOTO_HASH = -65537

# A card's QR text is about 250 characters; anything far longer is not ours, and refusing it
# before decoding bounds the work an attacker can make a verifier do.
MAX_TEXT_LENGTH = 1200
MAX_DECOMPRESSED = 2048
MAX_NAME_LENGTH = 201
CLOCK_SKEW_SECONDS = 300
CARD_ID_BYTES = 10  # 80 random bits: no collision in any registry, nothing derived from the person

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_BASE45_VALUES = bytes(
    BASE45_ALPHABET.index(chr(c)) if chr(c) in BASE45_ALPHABET else 255 for c in range(256)
)
_BASE45_CHARS = [BASE45_ALPHABET[i] for i in range(45)]
_BASE45_WEIGHTS = np.array([1, 45, 2025], dtype=np.uint32)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_CROCKFORD = str.maketrans(_BASE32, _CROCKFORD)
# Foreign QR schemes a camera may hand us; named in the reason so the person knows why.
FOREIGN_PREFIXES = ("HC1:", "LT1:", "NZCP:/", "SHC:/", "HTTP://", "HTTPS://", "DIVOC:")


class CardStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN_ISSUER = "unknown_issuer"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"


class Reason(StrEnum):
    """Why a card is not valid, as a stable code (the message says it in words)."""

    OK = "ok"
    SIZE = "size"
    PREFIX = "prefix"
    BASE45 = "base45"
    COMPRESSION = "compression"
    CBOR = "cbor"
    COSE = "cose"
    ALGORITHM = "algorithm"
    CLAIMS = "claims"
    KEY_UNKNOWN = "key_unknown"
    KEY_RETIRED = "key_retired"
    SIGNATURE = "signature"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class Base45Error(ValueError):
    """Text that is not RFC 9285 Base45."""


@dataclass(frozen=True)
class CardClaims:
    """What a card says: nothing beyond what proving the holder's identity needs."""

    card_id: str
    name: str
    birth_year: int
    key_id: str  # hex of the issuer key id
    issued_at: int  # seconds since the epoch, UTC
    expires_at: int
    photo_hash: bytes | None = None


@dataclass(frozen=True)
class CardCheck:
    """The verdict on one QR text. `claims` is set once the signature has verified."""

    status: CardStatus
    reason: Reason
    message: str
    claims: CardClaims | None = None

    @property
    def valid(self) -> bool:
        return self.status is CardStatus.VALID

    def as_dict(self) -> dict[str, object]:
        claims = self.claims
        return {
            "status": self.status.value,
            "reason": self.reason.value,
            "message": self.message,
            "card_id": claims.card_id if claims else None,
            "name": claims.name if claims else None,
            "birth_year": claims.birth_year if claims else None,
            "key_id": claims.key_id if claims else None,
            "expires_at": claims.expires_at if claims else None,
        }


class InvalidCredential(AuthorisationRefused):
    """A card that does not prove the right to redeem: every parse or verify failure."""

    title = "Card not accepted"

    def __init__(self, check: CardCheck) -> None:
        self.check = check
        super().__init__(
            f"the card is not accepted ({check.status.value}): {check.message}. Ask a "
            "caseworker to verify the person in person; nobody needs a card to receive their "
            "entitlement"
        )


@dataclass(frozen=True)
class TrustedKey:
    """An issuer public key a verifier trusts, until `retired_at` (epoch seconds) if set."""

    key_id: str
    public_key: bytes
    retired_at: int | None = None


KEY_ID_BYTES = 8


def key_id_of(public_key: bytes) -> str:
    """An issuer key's id: the first 8 bytes of SHA-256 of its raw public key, in hex (as the
    EU DCC derives its kids), so ids never clash across deployments or rotations."""
    return hashlib.sha256(public_key).digest()[:KEY_ID_BYTES].hex()


def new_card_id() -> str:
    """A random card id in Crockford Base32 (no I, L, O, U to misread when typed)."""
    raw = base64.b32encode(secrets.token_bytes(CARD_ID_BYTES)).decode()
    return raw.rstrip("=").translate(_TO_CROCKFORD)


def format_card_id(card_id: str) -> str:
    """The card id in groups of four, as printed."""
    return "-".join(card_id[i : i + 4] for i in range(0, len(card_id), 4))


# ---- Base45 (RFC 9285) ----------------------------------------------------------------------


def base45_encode(data: bytes) -> str:
    chars = _BASE45_CHARS
    out: list[str] = []
    append = out.append
    pairs = len(data) // 2
    for value in struct.unpack(f">{pairs}H", data[: pairs * 2]):
        append(chars[value % 45])
        append(chars[value // 45 % 45])
        append(chars[value // 2025])
    if len(data) % 2:
        last = data[-1]
        append(chars[last % 45])
        append(chars[last // 45])
    return "".join(out)


def base45_decode(text: str) -> bytes:
    """Strict RFC 9285 decoding: raises Base45Error on any character outside the alphabet,
    a dangling single character, or a group whose value is too large."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise Base45Error("characters outside the Base45 alphabet") from None
    values = raw.translate(_BASE45_VALUES)
    if b"\xff" in values:
        raise Base45Error("characters outside the Base45 alphabet")
    length = len(values)
    if length % 3 == 1:
        raise Base45Error("a dangling character at the end")
    whole = length - length % 3
    # Vectorised: this runs on every card a merchant scans (see bench/bench_cards.py).
    words = np.frombuffer(values, dtype=np.uint8, count=whole).reshape(-1, 3) @ _BASE45_WEIGHTS
    if whole and int(words.max()) > 0xFFFF:
        raise Base45Error("a group of three characters above 65535")
    decoded = words.astype(">u2").tobytes()
    if length % 3 == 2:
        tail = values[-2] + values[-1] * 45
        if tail > 0xFF:
            raise Base45Error("a final pair above 255")
        decoded += bytes((tail,))
    return decoded


# ---- signing --------------------------------------------------------------------------------


def _byte_string_head(length: int) -> bytes:
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    return b"\x5a" + length.to_bytes(4, "big")


def _envelope_length(
    tagged: bool, protected: bytes, unprotected: Any, payload: bytes, signature: bytes
) -> int:
    """The length of the COSE_Sign1 message encoded canonically (shortest heads)."""
    return (
        (1 if tagged else 0)
        + 1
        + len(_byte_string_head(len(protected)))
        + len(protected)
        + (1 if not unprotected else len(cbor2.dumps(dict(unprotected))))
        + len(_byte_string_head(len(payload)))
        + len(payload)
        + len(_byte_string_head(len(signature)))
        + len(signature)
    )


def _signature_input(protected: bytes, payload: bytes) -> bytes:
    # Sig_structure of RFC 9052 section 4.4, ["Signature1", protected, external_aad, payload],
    # written out directly (a test checks it equals cbor2's encoding).
    return b"".join(
        (
            b"\x84\x6aSignature1",
            _byte_string_head(len(protected)),
            protected,
            b"\x40",
            _byte_string_head(len(payload)),
            payload,
        )
    )


def claims_payload(claims: CardClaims) -> bytes:
    """The CWT payload: standard claims plus the Claim 169 identity map."""
    identity: dict[int, object] = {
        CLAIM_ID: claims.card_id,
        CLAIM_FULL_NAME: claims.name,
        CLAIM_DATE_OF_BIRTH: f"{claims.birth_year:04d}",
    }
    cwt: dict[int, object] = {
        CWT_EXPIRES: claims.expires_at,
        CWT_NOT_BEFORE: claims.issued_at,
        CWT_ISSUED_AT: claims.issued_at,
        CLAIM_169: identity,
    }
    if claims.photo_hash is not None:
        cwt[CLAIM_PHOTO_HASH] = claims.photo_hash
    return cbor2.dumps(cwt)


def sign_payload(
    payload: bytes, key_id: str, private_key: Ed25519PrivateKey, *, algorithm: int = EDDSA
) -> str:
    """COSE_Sign1 over `payload`, compressed and Base45-encoded: the QR text.

    `algorithm` exists for the test vectors (a card claiming another algorithm)."""
    protected = cbor2.dumps({HEADER_ALGORITHM: algorithm, HEADER_KEY_ID: bytes.fromhex(key_id)})
    signature = private_key.sign(_signature_input(protected, payload))
    message = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return base45_encode(zlib.compress(message, 9))


def sign_card(claims: CardClaims, private_key: Ed25519PrivateKey) -> str:
    """The QR text of a card."""
    return sign_payload(claims_payload(claims), claims.key_id, private_key)


# ---- verification ---------------------------------------------------------------------------


def _malformed(reason: Reason, message: str) -> CardCheck:
    return CardCheck(CardStatus.MALFORMED, reason, message)


def _strict_loads(data: bytes) -> object:
    """One CBOR item and nothing after it; cbor2 bounds nesting depth and lengths."""
    stream = io.BytesIO(data)
    item = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(data):
        raise ValueError("bytes after the CBOR item")
    return item


_MAPS = (dict, cbor2.frozendict)
_ARRAYS = (list, tuple)


def _decompress(data: bytes) -> bytes | CardCheck:
    if len(data) < 2 or data[0] & 0x0F != 8 or (data[0] << 8 | data[1]) % 31:
        return _malformed(Reason.COMPRESSION, "the data is not zlib-compressed")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED)
    except zlib.error:
        return _malformed(Reason.COMPRESSION, "the compressed data is corrupt")
    if inflater.unconsumed_tail:
        return _malformed(Reason.SIZE, f"the data inflates beyond {MAX_DECOMPRESSED} bytes")
    if not inflater.eof:
        return _malformed(Reason.COMPRESSION, "the compressed data is cut short")
    if inflater.unused_data:
        return _malformed(Reason.COMPRESSION, "there are bytes after the compressed data")
    if _has_slack_bits(data, out):
        return _malformed(Reason.COMPRESSION, "the compressed data has stray padding bits")
    return out


def _has_slack_bits(data: bytes, inflated: bytes) -> bool:
    """Whether padding bits DEFLATE ignores are set. Left unchecked they would let a card's
    text change (one bit) while it still verifies; we accept only zero padding."""
    first = data[2]
    if (first >> 1) & 3 == 0:  # a stored block: the rest of its header byte is padding
        return first >> 3 != 0
    # A Huffman-coded stream ends with its last byte padded; a set bit whose clearing
    # changes nothing is padding.
    last = len(data) - 5
    for bit in range(7, -1, -1):
        if data[last] >> bit & 1:
            cleared = bytearray(data)
            cleared[last] &= ~(1 << bit) & 0xFF
            try:
                if zlib.decompress(bytes(cleared)) == inflated:
                    return True
            except zlib.error:
                pass
    return False


def _claims_of(payload: object, key_id: str) -> CardClaims | None:
    if not isinstance(payload, _MAPS):
        return None
    identity = payload.get(CLAIM_169)
    expires, issued = payload.get(CWT_EXPIRES), payload.get(CWT_ISSUED_AT)
    if not isinstance(identity, _MAPS) or type(expires) is not int or type(issued) is not int:
        return None
    card_id, name, born = (
        identity.get(CLAIM_ID),
        identity.get(CLAIM_FULL_NAME),
        identity.get(CLAIM_DATE_OF_BIRTH),
    )
    photo = payload.get(CLAIM_PHOTO_HASH)
    if (
        not isinstance(card_id, str)
        or not 1 <= len(card_id) <= 64
        or not isinstance(name, str)
        or not 1 <= len(name) <= MAX_NAME_LENGTH
        or not isinstance(born, str)
        or len(born) < 4
        or not born[:4].isdigit()
        or (photo is not None and (not isinstance(photo, bytes) or len(photo) != 32))
    ):
        return None
    return CardClaims(card_id, name, int(born[:4]), key_id, issued, expires, photo)


class Verifier:
    """Checks QR texts against a trust list and a revocation list, with no network."""

    def __init__(self, keys: Iterable[TrustedKey], revoked: Collection[str] = ()) -> None:
        self.keys: Mapping[bytes, TrustedKey] = {bytes.fromhex(k.key_id): k for k in keys}
        self.revoked = frozenset(revoked)

    def verify(self, text: str, now: int) -> CardCheck:
        """The verdict on `text` at `now` (epoch seconds). Never raises on any input."""
        try:
            return self._verify(text, now)
        except Exception as error:  # the last line of defence: a verdict, never a crash
            return _malformed(Reason.CBOR, f"the card could not be read ({type(error).__name__})")

    def _verify(self, text: str, now: int) -> CardCheck:
        opened = _open(text)
        if isinstance(opened, CardCheck):
            return opened
        protected, payload, signature, kid = opened
        trusted = self.keys.get(kid)
        if trusted is None:
            return CardCheck(
                CardStatus.UNKNOWN_ISSUER,
                Reason.KEY_UNKNOWN,
                f"issuer key {kid.hex()[:16]} is not in the trust list",
            )
        if trusted.retired_at is not None and trusted.retired_at <= now:
            return CardCheck(
                CardStatus.UNKNOWN_ISSUER,
                Reason.KEY_RETIRED,
                f"issuer key {trusted.key_id} was retired; the card must be reissued",
            )
        if len(signature) != 64:
            return CardCheck(
                CardStatus.BAD_SIGNATURE, Reason.SIGNATURE, "the signature is not 64 bytes"
            )
        try:
            # libsodium verifies Ed25519 about 1.8 times as fast as OpenSSL here, and is at
            # least as strict (decision 0019); cards are still signed with `cryptography`.
            crypto_sign_open(signature + _signature_input(protected, payload), trusted.public_key)
        except (BadSignatureError, ValueError, TypeError):
            return CardCheck(
                CardStatus.BAD_SIGNATURE,
                Reason.SIGNATURE,
                "the signature does not match: the card was altered or forged",
            )
        try:
            claims = _claims_of(cbor2.loads(payload), trusted.key_id)
        except Exception:
            claims = None
        if claims is None:
            return _malformed(Reason.CLAIMS, "the signed claims are not a Fairshare card")
        if claims.card_id in self.revoked:
            return CardCheck(
                CardStatus.REVOKED, Reason.REVOKED, "the card was reported lost or stolen", claims
            )
        if now >= claims.expires_at:
            return CardCheck(CardStatus.EXPIRED, Reason.EXPIRED, "the card has expired", claims)
        if now + CLOCK_SKEW_SECONDS < claims.issued_at:
            return CardCheck(
                CardStatus.EXPIRED,
                Reason.NOT_YET_VALID,
                "the card is not valid yet: check the verifier's clock",
                claims,
            )
        return CardCheck(CardStatus.VALID, Reason.OK, "the card is valid", claims)


def _unchecked(text: str) -> tuple[bytes, CardClaims | None] | None:
    """The key id and claims a QR text carries, its signature unchecked; None when it
    cannot be taken apart."""
    try:
        opened = _open(text)
        if isinstance(opened, CardCheck):
            return None
        return opened[3], _claims_of(_strict_loads(opened[1]), opened[3].hex())
    except Exception:
        return None


def read_claims(text: str) -> CardClaims | None:
    """The claims of a card without checking its signature: for reprinting our own stored
    cards, never for deciding anything."""
    found = _unchecked(text)
    return found[1] if found is not None else None


def peek(text: str) -> tuple[str | None, str | None]:
    """The issuer key id and the card id a QR text names, unchecked (None where it names
    none): which rows to read before checking it, never for deciding anything."""
    found = _unchecked(text)
    if found is None or len(found[0]) != KEY_ID_BYTES:
        return None, None
    key_id, claims = found
    return key_id.hex(), claims.card_id if claims is not None else None


def _open(text: str) -> CardCheck | tuple[bytes, bytes, bytes, bytes]:
    """Base45, zlib and COSE_Sign1 taken apart: (protected, payload, signature, key id), or
    the verdict on why not."""
    if not isinstance(text, str) or not text:
        return _malformed(Reason.SIZE, "the QR text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        return _malformed(Reason.SIZE, f"the QR text is longer than {MAX_TEXT_LENGTH} characters")
    if ":" in text[:8]:
        head = text[:8].upper()
        for prefix in FOREIGN_PREFIXES:
            if head.startswith(prefix):
                return _malformed(
                    Reason.PREFIX, f"the QR starts with {prefix!r}: it is not a Fairshare card"
                )
    try:
        compressed = base45_decode(text)
    except Base45Error as error:
        return _malformed(Reason.BASE45, f"the QR text is not Base45: {error}")
    inflated = _decompress(compressed)
    if isinstance(inflated, CardCheck):
        return inflated
    try:
        message = cbor2.loads(inflated)
    except Exception:
        return _malformed(Reason.CBOR, "the card data is not well-formed CBOR")
    tagged = type(message) is cbor2.CBORTag
    if tagged:
        if message.tag != COSE_SIGN1_TAG:
            return _malformed(Reason.COSE, f"CBOR tag {message.tag} is not COSE_Sign1 (18)")
        message = message.value
    if (
        type(message) not in _ARRAYS
        or len(message) != 4
        or type(message[0]) is not bytes
        or type(message[1]) not in _MAPS
        or type(message[2]) is not bytes
        or type(message[3]) is not bytes
    ):
        return _malformed(Reason.COSE, "the card is not a COSE_Sign1 message")
    protected, unprotected, payload, signature = message
    # One canonical encoding only: no bytes after the message, no padded length fields, so
    # the text cannot change while the signed content stays the same.
    if len(inflated) != _envelope_length(tagged, protected, unprotected, payload, signature):
        return _malformed(Reason.CBOR, "the card data is not in canonical CBOR form")
    try:
        header = cbor2.loads(protected)
    except Exception:
        return _malformed(Reason.COSE, "the protected header is not well-formed CBOR")
    if not isinstance(header, _MAPS):
        return _malformed(Reason.COSE, "the protected header is not a map")
    algorithm = header.get(HEADER_ALGORITHM)
    if algorithm != EDDSA or type(algorithm) is not int:
        return _malformed(
            Reason.ALGORITHM,
            f"signature algorithm {algorithm!r:.20} is not accepted; cards are signed "
            "with EdDSA (-8)",
        )
    kid = header.get(HEADER_KEY_ID)
    if not isinstance(kid, bytes):
        return _malformed(Reason.COSE, "the protected header names no issuer key")
    return protected, payload, signature, kid
