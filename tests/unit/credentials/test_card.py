"""The card codec: Claim 169 layout, verdicts, Base45, tampering and hostile input."""

from __future__ import annotations

import time
import zlib

import cbor2
import claim169
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairshare.credentials.card import (
    MAX_TEXT_LENGTH,
    Base45Error,
    CardStatus,
    Reason,
    base45_decode,
    base45_encode,
    claims_payload,
    format_card_id,
    new_card_id,
    peek,
    read_claims,
    sign_card,
    sign_payload,
)
from fairshare.credentials.lists import raw_public
from tests.unit.credentials.cards import (
    CLOCK,
    ISSUER,
    ISSUER_2,
    REVOKED_CARD,
    STRANGER,
    YEAR,
    claims,
    kid,
    verifier,
)

VALID = sign_card(claims(), ISSUER)


def test_a_signed_card_verifies_with_its_claims() -> None:
    """A card signed by a trusted issuer is valid and gives back exactly what it carries."""
    check = verifier().verify(VALID, CLOCK)
    assert (check.status, check.reason) == (CardStatus.VALID, Reason.OK)
    assert check.claims == claims()
    assert read_claims(VALID) == claims()


def test_the_card_carries_only_identity_claims() -> None:
    """The CWT has expiry, validity start, issue time and the Claim 169 map of id, name and
    year of birth: no amounts, programmes or anything else."""
    payload = cbor2.loads(claims_payload(claims()))
    assert sorted(payload) == [4, 5, 6, 169]
    assert payload[169] == {1: "7Q2M9K4TXW1B8C3D", 4: "Ana María Peña Quispe", 8: "1948"}
    with_photo = cbor2.loads(claims_payload(claims(photo_hash=b"\x01" * 32)))
    assert with_photo[-65537] == b"\x01" * 32


def test_an_independent_claim169_decoder_reads_and_verifies_our_card() -> None:
    """MOSIP Claim 169 interoperability: the `claim169` package (Rust) verifies our
    signature and reads the same id, name, year of birth and times."""
    public = raw_public(ISSUER.public_key())
    result = claim169.decode_with_ed25519(VALID, public, validate_timestamps=False)
    assert result.is_verified()
    assert result.claim169.id == "7Q2M9K4TXW1B8C3D"
    assert result.claim169.full_name == "Ana María Peña Quispe"
    assert result.claim169.date_of_birth == "1948"
    assert result.cwt_meta.issued_at == CLOCK - YEAR
    assert result.cwt_meta.expires_at == CLOCK + 4 * YEAR
    inspected = claim169.inspect(VALID)
    assert inspected.key_id == bytes.fromhex(kid(ISSUER))
    assert inspected.algorithm == "EdDSA"
    with pytest.raises(claim169.Claim169Exception):
        claim169.decode_with_ed25519(VALID, raw_public(STRANGER.public_key()))


def test_a_card_made_by_claim169_verifies_here() -> None:
    """The other direction: a Claim 169 QR signed by the independent encoder with our key
    reads as a valid card."""
    identity = claim169.Claim169Input(id="ABCDEFGHJK012345", full_name="Juan Pérez")
    identity.date_of_birth = "1950"
    meta = claim169.CwtMetaInput(expires_at=CLOCK + YEAR)
    meta.issued_at = CLOCK - YEAR
    text = claim169.encode_with_signer(
        identity,
        meta,
        lambda _alg, _kid, data: ISSUER.sign(data),
        "EdDSA",
        key_id=bytes.fromhex(kid(ISSUER)),
    )
    check = verifier().verify(text, CLOCK)
    assert check.status is CardStatus.VALID, check.message
    assert check.claims is not None and check.claims.birth_year == 1950


@pytest.mark.parametrize(
    ("text", "status", "reason"),
    [
        (sign_card(claims(expires_at=CLOCK), ISSUER), CardStatus.EXPIRED, Reason.EXPIRED),
        (
            sign_card(claims(issued_at=CLOCK + 3600), ISSUER),
            CardStatus.EXPIRED,
            Reason.NOT_YET_VALID,
        ),
        (sign_card(claims(REVOKED_CARD), ISSUER), CardStatus.REVOKED, Reason.REVOKED),
        (
            sign_card(claims(key=STRANGER), STRANGER),
            CardStatus.UNKNOWN_ISSUER,
            Reason.KEY_UNKNOWN,
        ),
        (
            sign_card(claims(key=ISSUER_2), ISSUER_2),
            CardStatus.UNKNOWN_ISSUER,
            Reason.KEY_RETIRED,
        ),
        (
            sign_card(claims(key=ISSUER), STRANGER),
            CardStatus.BAD_SIGNATURE,
            Reason.SIGNATURE,
        ),
        (
            sign_payload(claims_payload(claims()), kid(ISSUER), ISSUER, algorithm=-7),
            CardStatus.MALFORMED,
            Reason.ALGORITHM,
        ),
        ("HC1:" + VALID, CardStatus.MALFORMED, Reason.PREFIX),
        (VALID.lower(), CardStatus.MALFORMED, Reason.BASE45),
        (VALID[:-1], CardStatus.MALFORMED, Reason.BASE45),
        (base45_encode(base45_decode(VALID)[:-20]), CardStatus.MALFORMED, Reason.COMPRESSION),
        ("", CardStatus.MALFORMED, Reason.SIZE),
        ("0" * (MAX_TEXT_LENGTH + 1), CardStatus.MALFORMED, Reason.SIZE),
    ],
)
def test_each_failure_has_its_status_and_reason(
    text: str, status: CardStatus, reason: Reason
) -> None:
    """Every way a card can fail is reported with its own status and reason."""
    check = verifier().verify(text, CLOCK)
    assert (check.status, check.reason) == (status, reason), check.message


def test_a_retired_key_verifies_until_it_is_retired() -> None:
    """Rotation: cards of an older key stay valid until that key's retirement time."""
    text = sign_card(claims(key=ISSUER_2, issued_at=CLOCK - 10 * 86_400), ISSUER_2)
    assert verifier().verify(text, CLOCK - 2 * 86_400).status is CardStatus.VALID
    assert verifier().verify(text, CLOCK).status is CardStatus.UNKNOWN_ISSUER


def test_base45_follows_rfc_9285() -> None:
    """The RFC 9285 examples encode and decode; invalid text is refused."""
    examples = {
        b"AB": "BB8",
        b"Hello!!": "%69 VD92EX0",
        b"base-45": "UJCLQE7W581",
        b"ietf!": "QED8WEX0",
    }
    for raw, text in examples.items():
        assert base45_encode(raw) == text
        assert base45_decode(text) == raw
    for bad in ("GGW", "ZZZ", "A", "aBC", "AB\u00e9", "1234"):
        with pytest.raises(Base45Error):
            base45_decode(bad)


def test_card_ids_are_random_and_readable() -> None:
    """Card ids carry 80 random bits in Crockford Base32, printed in groups of four."""
    ids = {new_card_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 16 and not set(i) & set("ILOU") for i in ids)
    assert format_card_id("7Q2M9K4TXW1B8C3D") == "7Q2M-9K4T-XW1B-8C3D"


def _compressed() -> bytes:
    return base45_decode(VALID)


def test_every_single_bit_flip_of_a_signed_card_is_rejected() -> None:
    """Flipping any one bit of the signed, compressed card never yields a valid card."""
    data = _compressed()
    check = verifier()
    for position in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[position // 8] ^= 1 << (position % 8)
        verdict = check.verify(base45_encode(bytes(flipped)), CLOCK)
        assert verdict.status is not CardStatus.VALID, position


def test_every_single_bit_flip_of_the_cose_message_is_rejected() -> None:
    """Flipping any bit of the uncompressed COSE message (then recompressing, as a forger
    would) is caught by the structure checks or the signature."""
    message = zlib.decompress(_compressed())
    check = verifier()
    for position in range(len(message) * 8):
        flipped = bytearray(message)
        flipped[position // 8] ^= 1 << (position % 8)
        verdict = check.verify(base45_encode(zlib.compress(bytes(flipped))), CLOCK)
        assert verdict.status is not CardStatus.VALID, position


def _wrap(message: bytes) -> str:
    return base45_encode(zlib.compress(message))


@pytest.mark.parametrize(
    ("label", "message", "reason"),
    [
        ("deep arrays", b"\x81" * 5000 + b"\x00", Reason.CBOR),
        ("deep maps", b"\xa1\x00" * 3000 + b"\x00", Reason.CBOR),
        ("deep tags", b"\xd8\x12" * 3000 + b"\x00", Reason.CBOR),
        ("huge byte string", b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff", Reason.CBOR),
        ("huge array", b"\x9b\x00\x00\x00\x10\x00\x00\x00\x00", Reason.CBOR),
        ("huge map", b"\xbb\x7f\xff\xff\xff\xff\xff\xff\xff", Reason.CBOR),
        ("endless indefinite", b"\x9f" * 1000, Reason.CBOR),
        ("zip bomb", b"\x00" * 10_000_000, Reason.SIZE),
        ("not an array", cbor2.dumps({1: 2}), Reason.COSE),
        ("wrong tag", cbor2.dumps(cbor2.CBORTag(98, [b"", {}, b"", b""])), Reason.COSE),
        ("bytes after", zlib.decompress(base45_decode(VALID)) + b"\x00", Reason.CBOR),
    ],
)
def test_cbor_bombs_are_refused_quickly(label: str, message: bytes, reason: Reason) -> None:
    """Deep nesting, huge declared lengths and inflation bombs get a verdict in milliseconds."""
    text = _wrap(message)
    if len(text) > MAX_TEXT_LENGTH:
        text = base45_encode(zlib.compress(message, 9))
    started = time.perf_counter()
    check = verifier().verify(text, CLOCK)
    assert time.perf_counter() - started < 0.05, label
    assert check.status is CardStatus.MALFORMED
    assert check.reason in {reason, Reason.SIZE}, (label, check.message)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_cards_never_crash_and_never_pass(data: st.DataObject) -> None:
    """Random edits of a real card (replace, insert, delete, truncate) get a verdict, never
    an exception, and are valid only when the edit changed nothing."""
    text = list(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        where = data.draw(st.integers(0, max(len(text) - 1, 0)))
        char = data.draw(st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:a\u00e9"))
        if action == "replace" and text:
            text[where] = char
        elif action == "insert":
            text.insert(where, char)
        elif action == "delete" and text:
            del text[where]
        else:
            text = text[:where]
    mutated = "".join(text)
    check = verifier().verify(mutated, CLOCK)
    assert check.status in set(CardStatus)
    if check.status is CardStatus.VALID:
        assert check.claims == claims()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=600), st.text(max_size=1500)))
def test_random_input_gets_a_verdict(raw: bytes | str) -> None:
    """Random bytes (as Base45 of compressed and raw data) and random text never crash."""
    check = verifier()
    if isinstance(raw, bytes):
        for text in (base45_encode(raw), base45_encode(zlib.compress(raw))):
            assert check.verify(text, CLOCK).status is not CardStatus.VALID
    else:
        assert check.verify(raw, CLOCK).status is not CardStatus.VALID


def test_peek_names_the_rows_to_read_and_decides_nothing() -> None:
    """peek gives the key id and card id a text names, signed or not, so a redemption can
    read their rows with everything else; a text that names neither gives (None, None)."""
    assert peek(VALID) == (kid(ISSUER), claims().card_id)
    forged = sign_card(claims(card_id="FORGED0000CARD01", key=ISSUER), STRANGER)
    assert peek(forged) == (kid(ISSUER), "FORGED0000CARD01")  # the verifier refuses it
    not_claims = sign_payload(cbor2.dumps({"hello": 1}), kid(ISSUER), ISSUER)
    assert peek(not_claims) == (kid(ISSUER), None)
    short_kid = sign_payload(claims_payload(claims()), "abcd", ISSUER)
    for text in ("", "HC1:not a card", "%%%", short_kid, VALID[:-3]):
        assert peek(text) == (None, None), text
