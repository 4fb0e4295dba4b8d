"""Cycles post one entitlement per enrolled beneficiary and period, and only one."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fairshare.bootstrap import Services
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.model import (
    InsufficientBalance,
    PeriodInFuture,
    PeriodNotEnded,
)
from fairshare.ledger.orm import ledger_transfers
from fairshare.ledger.services import Ledger
from tests.conftest import actor
from tests.integration.ledger.conftest import IN_PERIOD, PERIOD, World

pytestmark = pytest.mark.postgres


def _entitlements(services: Services, programme: str, period: str) -> dict[str, int]:
    with services.uow() as uow:
        rows = uow.connection.execute(
            select(ledger_transfers.c.beneficiary_id, ledger_transfers.c.amount)
            .where(ledger_transfers.c.kind == "entitlement")
            .where(ledger_transfers.c.programme == programme)
            .where(ledger_transfers.c.period == period)
        ).all()
    return {row.beneficiary_id: row.amount for row in rows}


def test_a_cycle_pays_each_enrolled_beneficiary_once(
    services: Services, world: World, cycles: Cycles, disburser: Actor
) -> None:
    people = world.population.people
    result = cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    assert (result.enrolled, result.posted, result.already_paid) == (2, 2, 0)
    assert result.total == 2 * 13000
    assert _entitlements(services, "old_age_pension", PERIOD) == {
        people["p1"]: 13000,
        people["p4"]: 13000,
    }
    again = cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    assert (again.posted, again.already_paid, again.total) == (0, 2, 0)
    assert len(_entitlements(services, "old_age_pension", PERIOD)) == 2


def test_money_carries_over_and_in_kind_quotas_are_per_period(
    services: Services, world: World, cycles: Cycles, ledger: Ledger, disburser: Actor
) -> None:
    p1 = world.population.people["p1"]
    h1 = world.population.households["h1"]
    for period in ("2025-06", "2025-07"):
        cycles.run(disburser, "old_age_pension", period, today=date(2025, 7, 2))
        cycles.run(disburser, "food_basket", period, today=date(2025, 7, 2))
    caseworker = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
    accounts = ledger.entitlements(caseworker, [p1, h1], today=date(2025, 7, 2))
    wallets = [a for a in accounts if a.programme == "old_age_pension"]
    quotas = sorted((a.period, a.balance) for a in accounts if a.programme == "food_basket")
    assert [(w.period, w.balance) for w in wallets] == [(None, 26000)]
    assert quotas == [("2025-06", 1), ("2025-07", 1)]


def test_expiry_returns_unused_quota_to_the_programme_once(
    services: Services, world: World, cycles: Cycles, ledger: Ledger, disburser: Actor
) -> None:
    cycles.run(disburser, "food_basket", PERIOD, today=IN_PERIOD)
    with pytest.raises(PeriodNotEnded):
        cycles.expire(disburser, "food_basket", PERIOD, today=IN_PERIOD)
    result = cycles.expire(disburser, "food_basket", PERIOD, today=date(2025, 7, 1))
    assert (result.accounts, result.total) == (2, 2)
    assert cycles.expire(disburser, "food_basket", PERIOD, today=date(2025, 7, 1)).accounts == 0
    funding = [a for a in ledger.accounts(disburser, programme="food_basket")]
    assert [a.balance for a in funding if a.kind == "funding"] == [100]
    assert ledger.trial_balance(disburser).balanced


def test_expiry_in_batches_returns_each_quota_of_its_period_once(
    services: Services, world: World, ledger: Ledger, disburser: Actor
) -> None:
    for period in ("2025-06", "2025-07"):
        services.cycles.run(disburser, "food_basket", period, today=date(2025, 7, 2))
    paid = sorted(_entitlements(services, "food_basket", "2025-06"))
    assert len(paid) == 2
    one_at_a_time = Cycles(services.uow(), batch_size=1)  # each quota its own batch
    seen: list[tuple[int, int]] = []
    result = one_at_a_time.expire(
        disburser,
        "food_basket",
        "2025-06",
        today=date(2025, 7, 1),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (result.accounts, result.total) == (2, 2)
    assert seen == [(0, 2), (1, 2), (2, 2)]  # the bar knows its length from the start
    with services.uow() as uow:
        returned = uow.connection.execute(
            select(ledger_transfers).where(ledger_transfers.c.kind == "expiry")
        ).all()
    assert sorted(row.beneficiary_id for row in returned) == paid
    assert {(row.amount, row.period, row.idempotency_key) for row in returned} == {
        (1, "2025-06", f"expiry:{row.debit_account_id}") for row in returned
    }
    caseworker = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
    quotas = ledger.entitlements(caseworker, paid, today=date(2025, 7, 2))
    balances = sorted((q.period, q.balance) for q in quotas if q.programme == "food_basket")
    assert balances == [("2025-06", 0), ("2025-06", 0), ("2025-07", 1), ("2025-07", 1)]
    again = one_at_a_time.expire(disburser, "food_basket", "2025-06", today=date(2025, 7, 1))
    assert again.accounts == 0
    assert ledger.trial_balance(disburser).balanced


def test_a_cycle_refuses_before_posting_when_funding_is_short(
    services: Services, population: object, cycles: Cycles, ledger: Ledger, disburser: Actor
) -> None:
    designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN)
    from tests.integration.eligibility.conftest import REFERENCE, pension

    services.eligibility.create_programme(designer, pension())
    services.eligibility.publish(designer, "old_age_pension")
    services.eligibility.run(designer, "old_age_pension", REFERENCE)
    ledger.fund(disburser, "old_age_pension", 13000, "budget-one-person")
    with pytest.raises(InsufficientBalance) as refused:
        cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    assert refused.value.details["available"] == 13000
    assert refused.value.details["requested"] == 26000
    assert "fairshare ledger fund" in str(refused.value)
    assert _entitlements(services, "old_age_pension", PERIOD) == {}


def test_bad_periods_and_purposes_are_refused(
    world: World, cycles: Cycles, disburser: Actor
) -> None:
    with pytest.raises(InvalidInput, match="2026-11"):
        cycles.run(disburser, "old_age_pension", "2025-13", today=IN_PERIOD)
    with pytest.raises(InvalidInput, match="monthly"):
        cycles.run(disburser, "old_age_pension", "2025-Q2", today=IN_PERIOD)
    with pytest.raises(PeriodInFuture):
        cycles.run(disburser, "old_age_pension", "2025-07", today=IN_PERIOD)
    designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN)
    with pytest.raises(PurposeNotAllowed):
        cycles.run(designer, "old_age_pension", PERIOD, today=IN_PERIOD)


def test_small_batches_post_the_same_as_one(
    services: Services, world: World, disburser: Actor
) -> None:
    progress: list[tuple[int, int]] = []
    small = Cycles(services.uow(), batch_size=1)
    result = small.run(
        disburser,
        "subsidised_fuel",
        PERIOD,
        today=IN_PERIOD,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert result.posted == 2
    assert progress == [(0, 2), (1, 2), (2, 2)]
    with services.uow() as uow:
        count = uow.connection.execute(
            select(func.count())
            .select_from(ledger_transfers)
            .where(ledger_transfers.c.kind == "entitlement")
        ).scalar()
    assert count == 2


def test_records_merged_as_duplicates_are_not_paid(
    services: Services, world: World, cycles: Cycles, disburser: Actor
) -> None:
    """p4 was enrolled before deduplication merged the record into p1: only p1 is paid."""
    from fairshare.audit.model import utc_now
    from fairshare.dedup.orm import dedup_merges
    from fairshare.ids import new_id

    people = world.population.people
    with services.uow() as uow:
        uow.connection.execute(
            dedup_merges.insert().values(
                id=new_id(),
                survivor_id=people["p1"],
                merged_id=people["p4"],
                reason="same person registered twice",
                merged_by="reviewer",
                merged_at=utc_now(),
                moved="{}",
            )
        )
        uow.commit()
    result = cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    assert (result.enrolled, result.posted) == (1, 1)
    assert _entitlements(services, "old_age_pension", PERIOD) == {people["p1"]: 13000}
