"""Cards: issued to a person, revoked, checked online, and accepted by redemption."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from fairshare.audit.model import Tag, utc_now
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.credentials.card import CardStatus, InvalidCredential, Reason, Verifier, sign_card
from fairshare.credentials.lists import InvalidList, read_revocation_list, read_trust_list
from fairshare.credentials.model import (
    Authorisation,
    AuthorisationMethod,
    AuthorisationRefused,
    parse_authorisation,
)
from fairshare.credentials.services import UnknownCard, epoch, verify_in_person
from fairshare.errors import Conflict
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.services import Ledger
from fairshare.registry.model import UnknownPerson
from tests.conftest import actor
from tests.integration.ledger.conftest import IN_PERIOD, PERIOD, World
from tests.unit.credentials.cards import STRANGER, claims

pytestmark = pytest.mark.postgres

PROGRAMMES = ("old_age_pension", "food_basket", "subsidised_fuel", "chronic_medicine")
ISSUER = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="card-desk")
ADMIN = actor(Role.ADMINISTRATOR, Purpose.ADMINISTRATION, username="key-keeper")
ADMIN_AUDITOR = actor(Role.AUDITOR, Purpose.AUDIT, username="auditor")
CHECKER = actor(Role.CASEWORKER, Purpose.IDENTITY_VERIFICATION, username="desk-checker")


@pytest.fixture
def paid(world: World, cycles: Cycles, disburser: Actor) -> World:
    for programme in PROGRAMMES:
        cycles.run(disburser, programme, PERIOD, today=IN_PERIOD)
    return world


def _log(services: Services, action: str) -> list[str]:
    with services.uow() as uow:
        return list(
            uow.connection.execute(
                select(access_log.c.subject_id).where(access_log.c.action == action)
            ).scalars()
        )


def test_a_card_is_issued_with_identity_claims_only_and_logged(
    services: Services, world: World
) -> None:
    """The card names the person and their year of birth; issuing it is in the access log."""
    p1 = world.population.people["p1"]
    card = services.cards.issue(ISSUER, p1)
    assert card.claims.birth_year < 2000
    assert card.claims.name
    check = services.cards.check(actor(Role.MERCHANT, Purpose.REDEMPTION), card.qr_text)
    assert check.status is CardStatus.VALID
    assert check.claims == card.claims
    assert p1 in _log(services, Tag.CREDENTIALS_CARD_ISSUE)
    assert p1 in _log(services, Tag.CREDENTIALS_CARD_VERIFY)
    with pytest.raises(UnknownPerson):
        services.cards.issue(ISSUER, "no-such-person")
    with pytest.raises(PurposeNotAllowed):
        services.cards.issue(actor(Role.MERCHANT, Purpose.REDEMPTION), p1)


def test_a_new_card_replaces_the_old_one(services: Services, world: World) -> None:
    """Issuing again revokes the earlier card as replaced; only the newest is current."""
    p1 = world.population.people["p1"]
    first = services.cards.issue(ISSUER, p1)
    second = services.cards.issue(ISSUER, p1)
    cards = services.cards.cards_of(ISSUER, p1)
    assert [c.card_id for c in cards][:1] in ([second.card_id], [first.card_id])
    by_id = {c.card_id: c for c in cards}
    assert by_id[first.card_id].revoke_reason == "replaced by a new card"
    assert by_id[second.card_id].revoked_at is None
    assert services.cards.current_card(ISSUER, p1).card_id == second.card_id
    merchant = actor(Role.MERCHANT, Purpose.REDEMPTION)
    assert services.cards.check(merchant, first.qr_text).status is CardStatus.REVOKED


def test_a_revoked_card_is_refused_online_and_listed_for_offline_verifiers(
    services: Services, world: World
) -> None:
    """Revocation takes effect online at once and appears in the signed revocation list."""
    p4 = world.population.people["p4"]
    card = services.cards.issue(ISSUER, p4)
    services.cards.revoke(ISSUER, card.card_id, "reported stolen at the office")
    services.cards.revoke(ISSUER, card.card_id, "reported twice")  # changes nothing
    merchant = actor(Role.MERCHANT, Purpose.REDEMPTION)
    assert services.cards.check(merchant, card.qr_text).status is CardStatus.REVOKED
    trust = read_trust_list(services.cards.trust_list())
    assert trust.anchor == services.cards.anchor
    revocations = read_revocation_list(services.cards.revocation_list(merchant), trust.anchor)
    assert card.card_id in revocations.revoked
    offline = Verifier(trust.keys, revocations.revoked)
    assert offline.verify(card.qr_text, epoch(utc_now())).status is CardStatus.REVOKED
    with pytest.raises(UnknownCard):
        services.cards.revoke(ISSUER, "NOSUCHCARD", "lost")
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=world.population.people["p1"])
    with pytest.raises(PurposeNotAllowed):
        services.cards.revoke(citizen, card.card_id, "not mine")


def test_a_citizen_reports_their_own_card_lost(services: Services, world: World) -> None:
    """The holder may revoke their own card without going to an office."""
    p1 = world.population.people["p1"]
    card = services.cards.issue(ISSUER, p1)
    holder = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=p1)
    services.cards.revoke(holder, card.card_id, "lost it")
    [only] = [c for c in services.cards.cards_of(ISSUER, p1) if c.card_id == card.card_id]
    assert only.revoked_at is not None


def test_a_tampered_trust_list_is_refused(services: Services) -> None:
    """A trust list edited after signing, or signed by another root, is not loaded."""
    text = services.cards.trust_list()
    with pytest.raises(InvalidList, match="altered"):
        read_trust_list(text.replace('"issued_at": 1', '"issued_at": 2'), services.cards.anchor)
    with pytest.raises(InvalidList, match="pinned"):
        read_trust_list(text, b"\x00" * 32)


def test_rotation_keeps_old_cards_valid_until_their_key_is_retired(
    services: Services, world: World
) -> None:
    """After a rotation new cards use the new key; old cards verify until the old key is
    retired, and the key that signs new cards cannot be retired."""
    p1, p4 = world.population.people["p1"], world.population.people["p4"]
    old = services.cards.issue(ISSUER, p1)
    new_key = services.cards.rotate_key(ADMIN)
    new = services.cards.issue(ISSUER, p4)
    assert new.claims.key_id == new_key.key_id != old.claims.key_id
    merchant = actor(Role.MERCHANT, Purpose.REDEMPTION)
    assert services.cards.check(merchant, old.qr_text).status is CardStatus.VALID
    with pytest.raises(Conflict):
        services.cards.retire_key(ADMIN, new_key.key_id)
    services.cards.retire_key(ADMIN, old.claims.key_id)
    check = services.cards.check(merchant, old.qr_text)
    assert (check.status, check.reason) == (CardStatus.UNKNOWN_ISSUER, Reason.KEY_RETIRED)
    assert services.cards.check(merchant, new.qr_text).status is CardStatus.VALID
    trust = read_trust_list(services.cards.trust_list())
    assert {k.key_id for k in trust.keys} >= {old.claims.key_id, new_key.key_id}
    with pytest.raises(PurposeNotAllowed):
        services.cards.rotate_key(ISSUER)


def test_private_keys_stay_in_the_key_directory(services: Services) -> None:
    """Key files are readable by their owner only; the keys object shows ids, never keys."""
    keys = services.cards.keys
    for path in keys.directory.glob("card-*.key"):
        assert path.stat().st_mode & 0o077 == 0
        assert path.read_text().strip() not in repr(keys)
    assert "card-root" not in services.cards.trust_list()


# ---- redemption by card ---------------------------------------------------------------------


def _card(services: Services, person_id: str) -> Authorisation:
    return parse_authorisation("card", services.cards.issue(ISSUER, person_id).qr_text)


def test_a_card_authorises_redeeming_its_holders_and_household_entitlements(
    services: Services, paid: World, ledger: Ledger, till: Actor
) -> None:
    """Online redemption by card: the server checks the card and posts the transfer."""
    p1, h1 = paid.population.people["p1"], paid.population.households["h1"]
    card = _card(services, p1)
    redemption = ledger.redeem(
        till,
        key="card-0001",
        beneficiary_id=p1,
        programme="old_age_pension",
        asset="local_currency",
        amount=5000,
        authorisation=card,
        today=IN_PERIOD,
    )
    [transfer] = redemption.transfers
    assert transfer.reference["authorisation"] == "card"
    assert transfer.reference["how"].startswith("card ")
    household = ledger.redeem(
        till,
        key="card-0002",
        beneficiary_id=h1,
        programme="food_basket",
        asset="food_basket",
        amount=1,
        authorisation=card,
        today=IN_PERIOD,
    )
    assert household.amount == 1


def test_a_card_is_refused_for_someone_else_or_once_revoked(
    services: Services, paid: World, ledger: Ledger, till: Actor
) -> None:
    """Another person's card, a revoked card and a forged card authorise nothing; the holder
    of the revoked card still redeems through a caseworker."""
    p1, p4 = paid.population.people["p1"], paid.population.people["p4"]
    request = {
        "beneficiary_id": p1,
        "programme": "old_age_pension",
        "asset": "local_currency",
        "amount": 100,
        "today": IN_PERIOD,
    }
    with pytest.raises(AuthorisationRefused, match="another person"):
        ledger.redeem(till, key="card-1001", authorisation=_card(services, p4), **request)  # type: ignore[arg-type]
    issued = services.cards.issue(ISSUER, p1)
    services.cards.revoke(ISSUER, issued.card_id, "lost on the bus")
    with pytest.raises(InvalidCredential) as refused:
        ledger.redeem(
            till,
            key="card-1002",
            authorisation=Authorisation(AuthorisationMethod.CARD, issued.qr_text),
            **request,  # type: ignore[arg-type]
        )
    assert refused.value.check.status is CardStatus.REVOKED
    forged = issued.qr_text[:-6] + ("AAAAAA" if not issued.qr_text.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(InvalidCredential):
        ledger.redeem(
            till,
            key="card-1003",
            authorisation=Authorisation(AuthorisationMethod.CARD, forged),
            **request,  # type: ignore[arg-type]
        )
    # The holder of the lost card is not locked out: a caseworker checks them in person.
    seen = verify_in_person(services.uow(), CHECKER, p1, "national_id_document", "card lost")
    redeemed = ledger.redeem(
        till,
        key="card-1004",
        authorisation=Authorisation(AuthorisationMethod.CASEWORKER, seen.id),
        **request,  # type: ignore[arg-type]
    )
    assert (redeemed.amount, redeemed.replayed) == (100, False)


def test_a_card_the_register_does_not_vouch_for_redeems_nothing(
    services: Services, paid: World, ledger: Ledger, till: Actor
) -> None:
    """A redemption checks the card against the issuer key and card row it reads with the
    rest: a retired key, an issuer this deployment does not trust and a card id it never
    issued are each refused as such, and nothing moves."""
    p1 = paid.population.people["p1"]
    old = services.cards.issue(ISSUER, p1)
    new_key = services.cards.rotate_key(ADMIN)
    services.cards.retire_key(ADMIN, old.claims.key_id)
    stranger = sign_card(claims(key=STRANGER), STRANGER)
    never_issued = sign_card(
        replace(old.claims, card_id="7Q2M9K4TXW1B8C3D", key_id=new_key.key_id),
        services.cards.keys.signer(new_key.key_id),
    )
    before = ledger.trial_balance(ADMIN_AUDITOR).transfers
    cases = [
        (old.qr_text, Reason.KEY_RETIRED, "retired"),
        (stranger, Reason.KEY_UNKNOWN, "not in the trust list"),
        (never_issued, Reason.KEY_UNKNOWN, "not issued by this deployment"),
    ]
    for number, (text, reason, says) in enumerate(cases):
        with pytest.raises(InvalidCredential) as refused:
            ledger.redeem(
                till,
                key=f"card-200{number}",
                beneficiary_id=p1,
                programme="old_age_pension",
                asset="local_currency",
                amount=100,
                authorisation=Authorisation(AuthorisationMethod.CARD, text),
                today=IN_PERIOD,
            )
        check = refused.value.check
        assert (check.status, check.reason) == (CardStatus.UNKNOWN_ISSUER, reason)
        assert says in check.message
    assert ledger.trial_balance(ADMIN_AUDITOR).transfers == before


def test_every_programme_can_be_redeemed_with_a_card_and_without(
    services: Services, paid: World, ledger: Ledger
) -> None:
    """Red line 5 both ways: each programme accepts the card, and the card-less path stays."""
    people, households = paid.population.people, paid.population.households
    cases = [
        ("shop-till", "old_age_pension", people["p4"], people["p4"], "local_currency", 100),
        ("shop-till", "food_basket", households["h3"], people["p5"], "food_basket", 1),
        ("station-till", "subsidised_fuel", households["h3"], people["p6"], "fuel", 1000),
        ("pharmacy-till", "chronic_medicine", people["p1"], people["p1"], "medicine_pack", 1),
    ]
    for index, (till_name, programme, beneficiary, person, asset, amount) in enumerate(cases):
        redemption = ledger.redeem(
            actor(Role.MERCHANT, Purpose.REDEMPTION, username=till_name),
            key=f"by-card-{index:04d}",
            beneficiary_id=beneficiary,
            programme=programme,
            asset=asset,
            amount=amount,
            authorisation=_card(services, person),
            today=IN_PERIOD,
        )
        assert redemption.amount == amount
