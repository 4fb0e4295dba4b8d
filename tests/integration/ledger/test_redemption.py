"""Redemption at a merchant: against the entitlement, authorised, never beyond the balance."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fairshare.bootstrap import Services
from fairshare.credentials.model import (
    Authorisation,
    AuthorisationMethod,
    AuthorisationRefused,
    UnknownVerification,
)
from fairshare.errors import InvalidInput, NotFound
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ledger import store
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.model import (
    IdempotencyKeyReused,
    InsufficientBalance,
    TransferInFlight,
    TransferKind,
)
from fairshare.ledger.orm import ledger_transfers
from fairshare.ledger.services import Ledger
from tests.conftest import actor
from tests.integration.ledger.conftest import IN_PERIOD, PERIOD, World, checked_in

pytestmark = pytest.mark.postgres

PROGRAMMES = ("old_age_pension", "food_basket", "subsidised_fuel", "chronic_medicine")


@pytest.fixture
def paid(world: World, cycles: Cycles, disburser: Actor) -> World:
    for programme in PROGRAMMES:
        cycles.run(disburser, programme, PERIOD, today=IN_PERIOD)
    return world


def test_a_card_less_redemption_moves_the_amount_to_the_merchant(
    services: Services, paid: World, ledger: Ledger, till: Actor, disburser: Actor
) -> None:
    p1 = paid.population.people["p1"]
    redemption = ledger.redeem(
        till,
        key="till-1-0001",
        beneficiary_id=p1,
        programme="old_age_pension",
        asset="local_currency",
        amount=5000,
        authorisation=checked_in(services, p1),
        today=IN_PERIOD,
    )
    assert (redemption.amount, redemption.available_after) == (5000, 8000)
    assert redemption.available_text == "80.00 local currency"
    [transfer] = redemption.transfers
    assert (transfer.kind, transfer.merchant_id) == ("redemption", paid.shop.id)
    assert transfer.reference["authorisation"] == "caseworker"
    settlements = ledger.accounts(disburser, kind="settlement")
    assert [(a.owner_id, a.balance) for a in settlements] == [(paid.shop.id, 5000)]
    assert ledger.trial_balance(disburser).balanced


def test_a_household_member_redeems_the_household_quota(
    services: Services, paid: World, ledger: Ledger, till: Actor
) -> None:
    h1, p2 = paid.population.households["h1"], paid.population.people["p2"]
    redemption = ledger.redeem(
        till,
        key="till-1-0002",
        beneficiary_id=h1,
        programme="food_basket",
        asset="food_basket",
        amount=1,
        authorisation=checked_in(services, p2),
        today=IN_PERIOD,
    )
    assert redemption.available_after == 0
    p4 = paid.population.people["p4"]  # of household h2
    with pytest.raises(AuthorisationRefused, match="another person"):
        ledger.redeem(
            till,
            key="till-1-0003",
            beneficiary_id=h1,
            programme="food_basket",
            asset="food_basket",
            amount=1,
            authorisation=checked_in(services, p4),
            today=IN_PERIOD,
        )


def test_insufficient_balance_shows_what_is_available_and_moves_nothing(
    services: Services, paid: World, ledger: Ledger, till: Actor, disburser: Actor
) -> None:
    p4 = paid.population.people["p4"]
    with pytest.raises(InsufficientBalance) as refused:
        ledger.redeem(
            till,
            key="till-1-0004",
            beneficiary_id=p4,
            programme="old_age_pension",
            asset="local_currency",
            amount=13001,
            authorisation=checked_in(services, p4),
            today=IN_PERIOD,
        )
    assert refused.value.details["available"] == 13000
    assert refused.value.details["available_text"] == "130.00 local currency"
    assert ledger.accounts(disburser, kind="settlement") == []


def test_a_retry_returns_the_first_result_and_a_changed_body_is_refused(
    services: Services, paid: World, ledger: Ledger, till: Actor
) -> None:
    p1 = paid.population.people["p1"]
    authorisation = checked_in(services, p1)
    request = {
        "key": "till-1-0005",
        "beneficiary_id": p1,
        "programme": "old_age_pension",
        "asset": "local_currency",
        "authorisation": authorisation,
        "today": IN_PERIOD,
    }
    first = ledger.redeem(till, amount=1000, **request)  # type: ignore[arg-type]
    again = ledger.redeem(till, amount=1000, **request)  # type: ignore[arg-type]
    assert again.replayed and not first.replayed
    assert [t.id for t in again.transfers] == [t.id for t in first.transfers]
    assert again.available_after == 12000
    with pytest.raises(IdempotencyKeyReused):
        ledger.redeem(till, amount=2000, **request)  # type: ignore[arg-type]


def test_draws_span_quotas_soonest_to_expire_first_as_one_linked_group(
    services: Services, world: World, cycles: Cycles, ledger: Ledger, disburser: Actor
) -> None:
    h1 = world.population.households["h1"]
    for period in ("2025-06", "2025-07"):
        cycles.run(disburser, "subsidised_fuel", period, today=date(2025, 7, 1))
    station = actor(Role.MERCHANT, Purpose.REDEMPTION, username="station-till")
    redemption = ledger.redeem(
        station,
        key="station-0001",
        beneficiary_id=h1,
        programme="subsidised_fuel",
        asset="fuel",
        amount=50_000,  # 50 litres: 40 from June, 10 from July
        authorisation=checked_in(services, world.population.people["p1"]),
        today=date(2025, 6, 30),
    )
    assert [(t.period, t.amount) for t in redemption.transfers] == [
        ("2025-06", 40_000),
        ("2025-07", 10_000),
    ]
    assert len({t.link_id for t in redemption.transfers}) == 1
    assert redemption.transfers[0].flags == 8  # linked to the next


def test_a_spent_quota_is_passed_over_for_the_next(
    services: Services, world: World, cycles: Cycles, ledger: Ledger, disburser: Actor
) -> None:
    """With June's quota spent, a redemption that fits July's is one draw from July."""
    h1 = world.population.households["h1"]
    for period in ("2025-06", "2025-07"):
        cycles.run(disburser, "subsidised_fuel", period, today=date(2025, 7, 1))
    station = actor(Role.MERCHANT, Purpose.REDEMPTION, username="station-till")
    authorisation = checked_in(services, world.population.people["p1"])
    request = {
        "beneficiary_id": h1,
        "programme": "subsidised_fuel",
        "asset": "fuel",
        "authorisation": authorisation,
        "today": date(2025, 6, 30),
    }
    june = ledger.redeem(station, key="station-0003", amount=40_000, **request)  # type: ignore[arg-type]
    july = ledger.redeem(station, key="station-0004", amount=10_000, **request)  # type: ignore[arg-type]
    assert [t.period for t in june.transfers] == ["2025-06"]
    assert [(t.period, t.amount) for t in july.transfers] == [("2025-07", 10_000)]
    assert july.available_after == 30_000


def test_expired_quotas_cannot_be_redeemed(services: Services, paid: World, ledger: Ledger) -> None:
    h1 = paid.population.households["h1"]
    station = actor(Role.MERCHANT, Purpose.REDEMPTION, username="station-till")
    with pytest.raises(NotFound, match="no open entitlement"):
        ledger.redeem(
            station,
            key="station-0002",
            beneficiary_id=h1,
            programme="subsidised_fuel",
            asset="fuel",
            amount=1000,
            authorisation=checked_in(services, paid.population.people["p1"]),
            today=date(2025, 7, 1),
        )


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"amount": 0}, InvalidInput, "more than zero"),
        ({"amount": -5}, InvalidInput, "more than zero"),
        ({"amount": 2**63}, InvalidInput, "largest amount"),
        ({"amount": "10"}, InvalidInput, "whole number"),
        ({"asset": "fuel"}, InvalidInput, "does not hand out"),
        ({"asset": "gold"}, InvalidInput, "not known"),
        ({"asset": "food_basket"}, InvalidInput, "pays local_currency"),
        ({"programme": "no_such"}, NotFound, "no open entitlement"),
        ({"key": "short"}, InvalidInput, "idempotency key"),
    ],
)
def test_bad_redemptions_get_clear_errors_and_move_nothing(
    services: Services,
    paid: World,
    ledger: Ledger,
    till: Actor,
    disburser: Actor,
    changes: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    p1 = paid.population.people["p1"]
    request: dict[str, object] = {
        "key": "till-bad-0001",
        "beneficiary_id": p1,
        "programme": "old_age_pension",
        "asset": "local_currency",
        "amount": 100,
        "authorisation": checked_in(services, p1),
        "today": IN_PERIOD,
    }
    request.update(changes)
    with pytest.raises(error, match=match):
        ledger.redeem(till, **request)  # type: ignore[arg-type]
    assert ledger.accounts(disburser, kind="settlement") == []


def test_authorisation_and_roles_are_checked(
    services: Services, paid: World, ledger: Ledger, till: Actor
) -> None:
    p1 = paid.population.people["p1"]
    request = {
        "key": "till-auth-0001",
        "beneficiary_id": p1,
        "programme": "old_age_pension",
        "asset": "local_currency",
        "amount": 100,
        "today": IN_PERIOD,
    }
    with pytest.raises(UnknownVerification):
        ledger.redeem(
            till,
            authorisation=Authorisation(AuthorisationMethod.CASEWORKER, "no-such-check"),
            **request,  # type: ignore[arg-type]
        )
    with pytest.raises(AuthorisationRefused, match="caseworker"):
        ledger.redeem(
            till,
            authorisation=Authorisation(AuthorisationMethod.CARD, "HC1:whatever"),
            **request,  # type: ignore[arg-type]
        )
    stranger = actor(Role.MERCHANT, Purpose.REDEMPTION, username="not-a-till")
    with pytest.raises(PurposeNotAllowed, match="does not act for any registered merchant"):
        ledger.redeem(stranger, authorisation=checked_in(services, p1), **request)  # type: ignore[arg-type]
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=p1)
    with pytest.raises(PurposeNotAllowed):
        ledger.redeem(citizen, authorisation=checked_in(services, p1), **request)  # type: ignore[arg-type]


def test_every_programme_can_be_redeemed_without_a_card(
    services: Services, paid: World, ledger: Ledger
) -> None:
    """Red line 5: the card-less path reaches every programme."""
    people, households = paid.population.people, paid.population.households
    cases = [
        ("shop-till", "old_age_pension", people["p4"], people["p4"], "local_currency", 13000),
        ("shop-till", "food_basket", households["h3"], people["p5"], "food_basket", 1),
        ("station-till", "subsidised_fuel", households["h3"], people["p6"], "fuel", 40_000),
        ("pharmacy-till", "chronic_medicine", people["p1"], people["p1"], "medicine_pack", 1),
    ]
    for index, (till_name, programme, beneficiary, person, asset, amount) in enumerate(cases):
        redemption = ledger.redeem(
            actor(Role.MERCHANT, Purpose.REDEMPTION, username=till_name),
            key=f"cardless-{index:04d}",
            beneficiary_id=beneficiary,
            programme=programme,
            asset=asset,
            amount=amount,
            authorisation=checked_in(services, person),
            today=IN_PERIOD,
        )
        assert redemption.amount == amount


def test_health_programme_entitlements_are_shown_only_under_a_health_purpose(
    paid: World, ledger: Ledger
) -> None:
    """Decision 0011: a medicine entitlement reveals an illness like the field it came from."""
    p1 = paid.population.people["p1"]
    case = ledger.entitlements(actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), [p1])
    health = ledger.entitlements(actor(Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT), [p1])
    h1 = paid.population.households["h1"]
    own = ledger.entitlements(actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=p1), [p1, h1])
    assert {a.programme for a in case} == {"old_age_pension"}
    assert {a.programme for a in health} == {"old_age_pension", "chronic_medicine"}
    assert {a.programme for a in own} == {
        "old_age_pension",
        "chronic_medicine",
        "food_basket",
        "subsidised_fuel",
    }
    with pytest.raises(PurposeNotAllowed):
        ledger.entitlements(
            actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=p1),
            [paid.population.people["p4"]],
        )


def test_a_key_another_request_committed_meanwhile_is_reported_in_flight(
    services: Services, paid: World, ledger: Ledger, till: Actor
) -> None:
    """On PostgreSQL the key's lock and look-up share one statement, whose snapshot can miss
    a request committed a moment before; its transfer then meets the unique index on the key,
    which must read as 'in flight' (409: retry and get the first result), nothing written."""
    p1 = paid.population.people["p1"]
    first = ledger.redeem(
        till,
        key="till-1-0006",
        beneficiary_id=p1,
        programme="old_age_pension",
        asset="local_currency",
        amount=1000,
        authorisation=checked_in(services, p1),
        today=IN_PERIOD,
    )
    sent = first.transfers[0]
    with ledger.uow:
        connection = ledger.uow.connection
        debit = store.get_account(connection, sent.debit_account_id)
        credit = store.get_account(connection, sent.credit_account_id)
        assert debit is not None and credit is not None
        row = store.transfer_row(
            key="till-1-0006",
            body_hash="0" * 64,
            debit=debit,
            credit=credit,
            amount=1,
            kind=TransferKind.REDEMPTION,
            actor=till.username,
            now=sent.created_at,
        )
        with pytest.raises(TransferInFlight):
            store.insert_transfers(connection, [row])
    with ledger.uow:
        connection = ledger.uow.connection
        after = store.get_account(connection, sent.debit_account_id)
        keys = connection.execute(
            select(func.count())
            .select_from(ledger_transfers)
            .where(ledger_transfers.c.idempotency_key == "till-1-0006")
        ).scalar_one()
    assert after is not None and after.available == debit.available == 12000
    assert keys == 1
