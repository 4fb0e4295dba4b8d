"""Card test vectors, in the manner of the EU DCC test data: each vector is a JSON file with
the QR text, the trust context (issuer keys, revoked card ids), a fixed clock and the expected
verdict. Regenerate with `python -m tests.unit.credentials.vectors` (deterministic: fixed
keys, Ed25519 signatures are deterministic); `test_vectors.py` checks every committed file.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fairshare.credentials.card import (
    MAX_TEXT_LENGTH,
    CardStatus,
    Reason,
    TrustedKey,
    base45_decode,
    base45_encode,
    claims_payload,
    sign_card,
    sign_payload,
)
from fairshare.credentials.lists import b64
from tests.unit.credentials.cards import (
    CLOCK,
    ISSUER,
    ISSUER_2,
    REVOKED_CARD,
    STRANGER,
    YEAR,
    claims,
    fixed_key,
    kid,
    trusted,
)

DIRECTORY = Path(__file__).resolve().parents[2] / "vectors" / "cards"
OLDER = fixed_key("fairshare test issuer 0")
TRUSTED = [trusted(ISSUER), trusted(OLDER), trusted(ISSUER_2, CLOCK - 86_400)]
M, S, E = CardStatus.MALFORMED, CardStatus.BAD_SIGNATURE, CardStatus.EXPIRED


def _cose(
    payload: bytes,
    *,
    key: Ed25519PrivateKey = ISSUER,
    header: Any = None,
    tag: int | None = 18,
    signature: Callable[[bytes], bytes] | None = None,
    extra: bytes = b"",
) -> str:
    protected = cbor2.dumps(header if header is not None else {1: -8, 4: bytes.fromhex(kid(key))})
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    signed = key.sign(to_sign)
    if signature is not None:
        signed = signature(signed)
    body: Any = [protected, {}, payload, signed]
    encoded = cbor2.dumps(cbor2.CBORTag(tag, body) if tag is not None else body) + extra
    return base45_encode(zlib.compress(encoded, 9))


VALID = sign_card(claims(), ISSUER)
PAYLOAD = claims_payload(claims())


def _flip(text: str, byte: int) -> str:
    data = bytearray(base45_decode(text))
    data[byte] ^= 0x10
    return base45_encode(bytes(data))


def _renamed() -> str:
    """A genuine signature over one name, with another name in the payload."""
    message = cbor2.loads(zlib.decompress(base45_decode(VALID)))
    protected, unprotected, _payload, signature = message.value
    forged = claims_payload(claims(name="Someone Else Entirely"))
    encoded = cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), forged, signature]))
    return base45_encode(zlib.compress(encoded, 9))


# name: (description, QR text, expected status, expected reason)
CASES: dict[str, tuple[str, str, CardStatus, Reason]] = {
    "valid": ("a card signed by the current issuer key", VALID, CardStatus.VALID, Reason.OK),
    "valid-photo-hash": (
        "a card with the optional photo hash",
        sign_card(claims(photo_hash=bytes(range(32))), ISSUER),
        CardStatus.VALID,
        Reason.OK,
    ),
    "valid-long-name": (
        "a long name (the data compresses with Huffman codes, not stored)",
        sign_card(claims(name="María de los Ángeles " * 9), ISSUER),
        CardStatus.VALID,
        Reason.OK,
    ),
    "valid-non-latin-name": (
        "a name in Chinese and Arabic script",
        sign_card(claims(name="王秀英 فاطمة"), ISSUER),
        CardStatus.VALID,
        Reason.OK,
    ),
    "valid-older-key": (
        "a card of an older issuer key that is rotated out but not retired",
        sign_card(claims(key=OLDER), OLDER),
        CardStatus.VALID,
        Reason.OK,
    ),
    "valid-last-second": (
        "a card one second before it expires",
        sign_card(claims(expires_at=CLOCK + 1), ISSUER),
        CardStatus.VALID,
        Reason.OK,
    ),
    "valid-within-clock-skew": (
        "a card issued four minutes after the verifier's clock (skew tolerated)",
        sign_card(claims(issued_at=CLOCK + 240), ISSUER),
        CardStatus.VALID,
        Reason.OK,
    ),
    "valid-untagged-cose": (
        "a COSE_Sign1 array without its CBOR tag 18",
        _cose(PAYLOAD, tag=None),
        CardStatus.VALID,
        Reason.OK,
    ),
    "expired-now": (
        "a card at the second it expires",
        sign_card(claims(expires_at=CLOCK), ISSUER),
        E,
        Reason.EXPIRED,
    ),
    "expired-long-ago": (
        "a card that expired years ago",
        sign_card(claims(issued_at=CLOCK - 9 * YEAR, expires_at=CLOCK - 4 * YEAR), ISSUER),
        E,
        Reason.EXPIRED,
    ),
    "not-yet-valid": (
        "a card issued an hour after the verifier's clock",
        sign_card(claims(issued_at=CLOCK + 3600), ISSUER),
        E,
        Reason.NOT_YET_VALID,
    ),
    "revoked": (
        "a card on the revocation list",
        sign_card(claims(REVOKED_CARD), ISSUER),
        CardStatus.REVOKED,
        Reason.REVOKED,
    ),
    "revoked-and-expired": (
        "a revoked card that has also expired: revocation is reported",
        sign_card(claims(REVOKED_CARD, expires_at=CLOCK - 1), ISSUER),
        CardStatus.REVOKED,
        Reason.REVOKED,
    ),
    "wrong-key": (
        "signed by another key under the current issuer's key id",
        sign_card(claims(key=ISSUER), STRANGER),
        S,
        Reason.SIGNATURE,
    ),
    "unknown-issuer": (
        "signed by an issuer the trust list does not hold",
        sign_card(claims(key=STRANGER), STRANGER),
        CardStatus.UNKNOWN_ISSUER,
        Reason.KEY_UNKNOWN,
    ),
    "retired-key": (
        "signed by an issuer key retired before the clock",
        sign_card(claims(key=ISSUER_2), ISSUER_2),
        CardStatus.UNKNOWN_ISSUER,
        Reason.KEY_RETIRED,
    ),
    "signature-bit-flipped": (
        "one bit of the signature changed",
        _cose(PAYLOAD, signature=lambda s: bytes([s[0] ^ 1]) + s[1:]),
        S,
        Reason.SIGNATURE,
    ),
    "signature-short": (
        "a 63-byte signature",
        _cose(PAYLOAD, signature=lambda s: s[:63]),
        S,
        Reason.SIGNATURE,
    ),
    "payload-altered": (
        "the name changed after signing, the signature kept",
        _renamed(),
        S,
        Reason.SIGNATURE,
    ),
    "wrong-algorithm-es256": (
        "the header claims ES256 (-7)",
        sign_payload(PAYLOAD, kid(ISSUER), ISSUER, algorithm=-7),
        M,
        Reason.ALGORITHM,
    ),
    "wrong-algorithm-missing": (
        "the header names no algorithm",
        _cose(PAYLOAD, header={4: bytes.fromhex(kid(ISSUER))}),
        M,
        Reason.ALGORITHM,
    ),
    "wrong-algorithm-text": (
        "the algorithm written as text 'EdDSA'",
        _cose(PAYLOAD, header={1: "EdDSA", 4: bytes.fromhex(kid(ISSUER))}),
        M,
        Reason.ALGORITHM,
    ),
    "no-key-id": (
        "the header names no issuer key",
        _cose(PAYLOAD, header={1: -8}),
        M,
        Reason.COSE,
    ),
    "header-not-a-map": (
        "the protected header is an array",
        _cose(PAYLOAD, header=[1, -8]),
        M,
        Reason.COSE,
    ),
    "bad-prefix-hc1": (
        "an EU DCC prefix in front of our card",
        "HC1:" + VALID,
        M,
        Reason.PREFIX,
    ),
    "bad-prefix-url": ("a web address", "https://example.org/card", M, Reason.PREFIX),
    "bad-base45-lowercase": ("the card in lower case", VALID.lower(), M, Reason.BASE45),
    "bad-base45-character": (
        "a '#' inside the text",
        VALID[:30] + "#" + VALID[31:],
        M,
        Reason.BASE45,
    ),
    "bad-base45-dangling": (
        "one character too many",
        VALID + "0" if len(VALID) % 3 == 0 else VALID[: len(VALID) - len(VALID) % 3] + "0",
        M,
        Reason.BASE45,
    ),
    "bad-base45-overflow": (
        "a three-character group above 65535",
        "GGW" + VALID[3:],
        M,
        Reason.BASE45,
    ),
    "bad-compression-none": (
        "CBOR without zlib",
        base45_encode(zlib.decompress(base45_decode(VALID))),
        M,
        Reason.COMPRESSION,
    ),
    "bad-compression-corrupt": (
        "the zlib header damaged",
        _flip(VALID, 1),
        M,
        Reason.COMPRESSION,
    ),
    "bad-compression-checksum": (
        "the zlib checksum damaged",
        _flip(VALID, len(base45_decode(VALID)) - 1),
        M,
        Reason.COMPRESSION,
    ),
    "truncated-half": (
        "the first half of the compressed data",
        base45_encode(base45_decode(VALID)[: len(base45_decode(VALID)) // 2]),
        M,
        Reason.COMPRESSION,
    ),
    "truncated-last-byte": (
        "the compressed data without its last byte",
        base45_encode(base45_decode(VALID)[:-1]),
        M,
        Reason.COMPRESSION,
    ),
    "not-cose": (
        "a CBOR map instead of COSE_Sign1",
        base45_encode(zlib.compress(cbor2.dumps({1: "x"}))),
        M,
        Reason.COSE,
    ),
    "wrong-cbor-tag": ("COSE_Sign1 under tag 98", _cose(PAYLOAD, tag=98), M, Reason.COSE),
    "bytes-after-cose": (
        "a byte after the COSE message",
        _cose(PAYLOAD, extra=b"\x00"),
        M,
        Reason.CBOR,
    ),
    "cbor-bomb-nesting": (
        "arrays nested 2000 deep",
        base45_encode(zlib.compress(b"\x81" * 2000 + b"\x00", 9)),
        M,
        Reason.CBOR,
    ),
    "cbor-bomb-length": (
        "a byte string declaring 2^64-1 bytes",
        base45_encode(zlib.compress(b"\x5b" + b"\xff" * 8, 9)),
        M,
        Reason.CBOR,
    ),
    "zip-bomb": (
        "data that inflates to a megabyte",
        base45_encode(zlib.compress(b"\x00" * 1_000_000, 9)),
        M,
        Reason.SIZE,
    ),
    "oversize-text": ("text longer than any card", "0" * (MAX_TEXT_LENGTH + 3), M, Reason.SIZE),
    "empty": ("nothing read", "", M, Reason.SIZE),
    "claims-missing": (
        "a genuine signature over a payload without the Claim 169 map",
        _cose(cbor2.dumps({4: CLOCK + YEAR, 6: CLOCK - YEAR})),
        M,
        Reason.CLAIMS,
    ),
}


def _key_entry(key: TrustedKey) -> dict[str, Any]:
    return {"kid": key.key_id, "public_key": b64(key.public_key), "retired_at": key.retired_at}


def vectors() -> dict[str, dict[str, Any]]:
    return {
        f"{index:03d}-{name}": {
            "description": description,
            "qr_text": text,
            "clock": CLOCK,
            "context": {
                "trusted_keys": [_key_entry(k) for k in TRUSTED],
                "revoked": [REVOKED_CARD],
            },
            "expected": {
                "status": status.value,
                "reason": reason.value,
                "valid": status is CardStatus.VALID,
            },
        }
        for index, (name, (description, text, status, reason)) in enumerate(CASES.items(), 1)
    }


def main() -> None:
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    for old in DIRECTORY.glob("*.json"):
        old.unlink()
    for name, vector in vectors().items():
        path = DIRECTORY / f"{name}.json"
        path.write_text(json.dumps(vector, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
