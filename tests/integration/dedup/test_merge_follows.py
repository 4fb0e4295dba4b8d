"""A merge brings appeals, entitlement accounts and their balances to the survivor; an unmerge
gives them back exactly, or refuses with what to do. On SQLite and PostgreSQL.

The ledger test world: p1 (pension, medicine) and p4 (pension) paid for 2025-06. A reviewer
merges p1 into p4: p1's pension balance moves to p4's pension account by a transfer, p1's
medicine quota account (p4 has none) is re-owned by p4, and the pension of 2025-06 paid to
both is listed as a double payment.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from fairshare.audit import services as audit_services
from fairshare.audit.model import Tag, utc_now
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.dedup.orm import dedup_pairs, dedup_runs
from fairshare.dedup.review import Merge, Review, merged_people
from fairshare.eligibility.orm import appeals, decisions, enrolments
from fairshare.eligibility.services import _facts_scope
from fairshare.errors import Conflict
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.model import AccountKind, TransferKind, TransferRequest, funding_code
from fairshare.ledger.orm import ledger_accounts, ledger_transfers
from fairshare.ledger.services import Ledger
from tests.conftest import actor
from tests.integration.eligibility import conftest as eligibility_world
from tests.integration.ledger import conftest as ledger_world
from tests.integration.ledger.conftest import IN_PERIOD, PERIOD, World, checked_in

# The ledger tests' world (four programmes funded, three merchants) and its fixtures.
population = eligibility_world.population
world = ledger_world.world
cycles = ledger_world.cycles
disburser = ledger_world.disburser
ledger = ledger_world.ledger
till = ledger_world.till

pytestmark = pytest.mark.postgres

PENSION = 13000  # 130.00 a month
TOTALS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


@dataclass(frozen=True)
class Paid:
    p1: str  # merged
    p4: str  # survivor
    pair_id: int
    appeal_id: str


@pytest.fixture
def reviewer() -> Actor:
    return actor(Role.CASEWORKER, Purpose.DUPLICATE_REVIEW, username="rosa.revisora")


@pytest.fixture
def paid(services: Services, world: World, cycles: Cycles, disburser: Actor) -> Paid:
    """Pension and medicine paid for the period, an appeal by p1, a pending pair p1/p4."""
    for programme in ("old_age_pension", "chronic_medicine"):
        cycles.run(disburser, programme, PERIOD, today=IN_PERIOD)
    p1, p4 = world.population.people["p1"], world.population.people["p4"]
    with services.uow() as uow:
        decision_id = uow.connection.execute(
            select(decisions.c.id).where(
                decisions.c.subject_id == p1, decisions.c.programme == "old_age_pension"
            )
        ).scalar_one()
    caseworker = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="carla")
    appeal = services.eligibility.file_appeal(caseworker, decision_id, "the amount looks low")
    return Paid(p1, p4, pending_pair(services, p1, p4), appeal.id)


def pending_pair(services: Services, one: str, other: str) -> int:
    """A deduplication run, stored by hand, with one pair of these two people to review."""
    run_id, now = str(uuid.uuid4()), utc_now()
    a, b = sorted((one, other))
    with services.uow() as uow:
        connection = uow.connection
        connection.execute(
            insert(dedup_runs).values(
                id=run_id,
                started_at=now,
                finished_at=now,
                started_by="test",
                upper_threshold=0.99,
                lower_threshold=0.8,
                records=8,
                pairs_linked=0,
                pairs_review=1,
                clusters=0,
                model="{}",
            )
        )
        pair_id = connection.execute(
            insert(dedup_pairs)
            .values(
                run_id=run_id,
                person_a=a,
                person_b=b,
                match_probability=0.9,
                match_weight=3.2,
                evidence="{}",
                outcome="review",
                review_status="pending",
            )
            .returning(dedup_pairs.c.id)
        ).scalar_one()
        uow.commit()
    return int(pair_id)


def review(services: Services) -> Review:
    return Review(services.uow(), services.cipher)


def merge(services: Services, paid: Paid, reviewer: Actor) -> Merge:
    result = review(services).decide(
        reviewer, paid.pair_id, accept=True, reason="same ID card", survivor_id=paid.p4
    )
    assert result.merge is not None
    return result.merge


def rows(services: Services, table: Any, *order: Any) -> list[dict[str, Any]]:
    with services.uow() as uow:
        return [dict(r._mapping) for r in uow.connection.execute(select(table).order_by(*order))]


def snapshot(services: Services) -> dict[str, Any]:
    """Every row a merge touches, as plain values: accounts with their balances instead of
    their running totals (transfers only ever add to those), decisions with facts opened."""
    accounts = []
    for row in rows(services, ledger_accounts, ledger_accounts.c.id):
        row["balance"] = row["credits_posted"] - row["debits_posted"]
        row["available"] = row["balance"] - row["debits_pending"]
        accounts.append({k: v for k, v in row.items() if k not in TOTALS})
    opened = []
    for row in rows(services, decisions, decisions.c.id):
        if row["facts_sealed"]:
            scope = _facts_scope(row["subject_id"], row["id"])
            row["facts"] = services.cipher.open(row["facts"], scope)
        opened.append(row)
    return {
        "accounts": accounts,
        "decisions": opened,
        "enrolments": rows(services, enrolments, enrolments.c.programme, enrolments.c.subject_id),
        "appeals": rows(services, appeals, appeals.c.id),
    }


def entitlement(services: Services, owner: str, programme: str) -> list[dict[str, Any]]:
    return [
        row
        for row in rows(services, ledger_accounts, ledger_accounts.c.code)
        if row["owner_id"] == owner
        and row["programme"] == programme
        and row["kind"] == AccountKind.ENTITLEMENT.value
    ]


def balance(row: dict[str, Any]) -> int:
    return int(row["credits_posted"] - row["debits_posted"])


def ledger_is_sound(services: Services) -> None:
    auditor = actor(Role.AUDITOR, Purpose.AUDIT, username="auditor")
    reconciliation = services.ledger_reports.reconciliation(auditor)
    assert reconciliation.balanced
    assert all(sum(k.totals_now for k in a.kinds) == 0 for a in reconciliation.assets)
    assert services.ledger.trial_balance(auditor).balanced


def test_merge_brings_balances_accounts_and_appeals_to_the_survivor(
    services: Services, paid: Paid, reviewer: Actor
) -> None:
    """The survivor's pension holds both entitlements, the medicine account is theirs, the
    appeal shows under them, the double payment is listed, and the ledger still balances."""
    [p1_pension] = entitlement(services, paid.p1, "old_age_pension")
    [p1_medicine] = entitlement(services, paid.p1, "chronic_medicine")

    done = merge(services, paid, reviewer)

    [p4_pension] = entitlement(services, paid.p4, "old_age_pension")
    assert balance(p4_pension) == 2 * PENSION
    # The merged record keeps its (now empty) account and its journal.
    assert [balance(a) for a in entitlement(services, paid.p1, "old_age_pension")] == [0]
    assert [a["id"] for a in entitlement(services, paid.p4, "chronic_medicine")] == [
        p1_medicine["id"]
    ]
    assert done.moved["accounts_reowned"] == [{"account": p1_medicine["id"], "available": 1}]
    [moved] = done.moved["balances_moved"]
    assert (moved["from"], moved["to"], moved["amount"]) == (
        p1_pension["id"],
        p4_pension["id"],
        PENSION,
    )
    assert done.moved["appeals"] == [paid.appeal_id]
    [double] = done.double_payments
    assert (double["programme"], double["period"]) == ("old_age_pension", PERIOD)
    assert double["merged_amount"] == double["survivor_amount"] == PENSION

    caseworker = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="carla")
    shown = services.eligibility.appeals_for(caseworker, paid.p4)
    assert [q.appeal.id for q in shown] == [paid.appeal_id]
    assert services.eligibility.appeals_for(caseworker, paid.p1) == []
    ledger_is_sound(services)

    with services.uow() as uow:
        entries = uow.connection.execute(select(access_log)).all()
    merge_fields = {
        e.subject_id: json.loads(e.fields) for e in entries if e.action == Tag.DEDUP_PERSON_MERGE
    }
    assert "entitlement_balance" in merge_fields[paid.p4]
    assert "appeals" in merge_fields[paid.p1]
    assert any(
        e.action == Tag.LEDGER_TRANSFER_CREATE and e.subject_id == moved["transfer"]
        for e in entries
    )


def test_redemption_with_the_merged_persons_verification_draws_on_the_survivor(
    services: Services, paid: Paid, reviewer: Actor, ledger: Ledger, till: Actor
) -> None:
    """p1's in-person check still works after the merge and spends p4's (now joint) pension,
    beyond what p1 alone had; the transfer names the survivor and both are logged."""
    merge(services, paid, reviewer)
    redemption = ledger.redeem(
        till,
        key="merge-till-0001",
        beneficiary_id=paid.p1,
        programme="old_age_pension",
        asset="local_currency",
        amount=PENSION + 5000,
        authorisation=checked_in(services, paid.p1),
        today=IN_PERIOD,
    )
    assert redemption.available_after == PENSION - 5000
    [transfer] = redemption.transfers
    assert transfer.beneficiary_id == paid.p4
    assert transfer.reference["merged_record"] == paid.p1
    [p4_pension] = entitlement(services, paid.p4, "old_age_pension")
    assert transfer.debit_account_id == p4_pension["id"]
    audit_services.chain_pending(services.uow)  # PostgreSQL: redemptions log via the outbox
    with services.uow() as uow:
        redeemed = {
            row.subject_id
            for row in uow.connection.execute(
                select(access_log).where(
                    access_log.c.action == Tag.LEDGER_ENTITLEMENT_REDEEM,
                    access_log.c.subject_id.in_([paid.p1, paid.p4]),
                )
            )
        }
    assert redeemed == {paid.p1, paid.p4}
    pharmacy = actor(Role.MERCHANT, Purpose.REDEMPTION, username="pharmacy-till")
    pack = ledger.redeem(
        pharmacy,
        key="merge-pharmacy-0001",
        beneficiary_id=paid.p1,
        programme="chronic_medicine",
        asset="medicine_pack",
        amount=1,
        authorisation=checked_in(services, paid.p1),
        today=IN_PERIOD,
    )
    assert pack.available_after == 0 and pack.transfers[0].beneficiary_id == paid.p4
    ledger_is_sound(services)


def test_unmerge_restores_accounts_balances_appeals_and_decisions_exactly(
    services: Services, paid: Paid, reviewer: Actor
) -> None:
    """After merge and unmerge every affected row is as before; the journal only grew, by
    the merge's transfer and its exact reverse."""
    before = snapshot(services)
    transfers_before = rows(services, ledger_transfers, ledger_transfers.c.id)
    done = merge(services, paid, reviewer)
    assert snapshot(services) != before

    review(services).unmerge(reviewer, done.id, "twins after all")

    assert snapshot(services) == before
    transfers_after = rows(services, ledger_transfers, ledger_transfers.c.id)
    new = [t for t in transfers_after if t not in transfers_before]
    assert len(transfers_after) == len(transfers_before) + 2
    assert [t for t in transfers_after if t in transfers_before] == transfers_before
    there, back = sorted(new, key=lambda t: t["idempotency_key"])
    assert there["idempotency_key"].startswith("merge:")
    assert (back["debit_account_id"], back["credit_account_id"], back["amount"]) == (
        there["credit_account_id"],
        there["debit_account_id"],
        there["amount"],
    )
    assert {there["kind"], back["kind"]} == {TransferKind.CORRECTION.value}
    assert json.loads(back["reference"])["reverses"] == there["id"]
    with services.uow() as uow:
        assert merged_people(uow) == set()
        unmerge_transfer_logged = uow.connection.execute(
            select(func.count())
            .select_from(access_log)
            .where(access_log.c.action == Tag.LEDGER_TRANSFER_CREATE)
            .where(access_log.c.subject_id == back["id"])
        ).scalar_one()
    assert unmerge_transfer_logged == 1
    ledger_is_sound(services)


def test_unmerge_is_refused_when_the_survivor_spent_the_moved_balance(
    services: Services,
    paid: Paid,
    reviewer: Actor,
    ledger: Ledger,
    till: Actor,
    disburser: Actor,
) -> None:
    """Spending into the moved balance makes the reverse transfer impossible: the unmerge is
    refused with the account and amount to credit, nothing changes, and after that
    correction it goes through."""
    done = merge(services, paid, reviewer)
    ledger.redeem(
        till,
        key="merge-till-0002",
        beneficiary_id=paid.p4,
        programme="old_age_pension",
        asset="local_currency",
        amount=PENSION + 7000,
        authorisation=checked_in(services, paid.p4),
        today=IN_PERIOD,
    )
    [p4_pension] = entitlement(services, paid.p4, "old_age_pension")
    held = snapshot(services)
    with pytest.raises(Conflict, match=f"credit ledger account {p4_pension['id']}") as refused:
        review(services).unmerge(reviewer, done.id, "twins after all")
    assert "correction transfer of 7000" in str(refused.value)
    assert snapshot(services) == held
    with services.uow() as uow:
        assert merged_people(uow) == {paid.p1}

    with services.uow() as uow:
        funding = uow.connection.execute(
            select(ledger_accounts.c.id).where(
                ledger_accounts.c.code == funding_code("old_age_pension", "local_currency")
            )
        ).scalar_one()
    ledger.transfer(
        disburser,
        TransferRequest("fix-merge-0001", funding, p4_pension["id"], 7000, reason="merge undo"),
    )
    review(services).unmerge(reviewer, done.id, "twins after all")
    [p1_pension] = entitlement(services, paid.p1, "old_age_pension")
    assert balance(p1_pension) == PENSION
    assert balance(entitlement(services, paid.p4, "old_age_pension")[0]) == 0
    ledger_is_sound(services)


def test_unmerge_is_refused_when_a_reowned_quota_was_spent(
    services: Services, paid: Paid, reviewer: Actor, ledger: Ledger
) -> None:
    """A re-owned account the survivor drew on cannot go back whole: refused, unchanged."""
    done = merge(services, paid, reviewer)
    [medicine] = entitlement(services, paid.p4, "chronic_medicine")
    pharmacy = actor(Role.MERCHANT, Purpose.REDEMPTION, username="pharmacy-till")
    ledger.redeem(
        pharmacy,
        key="merge-pharmacy-0002",
        beneficiary_id=paid.p4,
        programme="chronic_medicine",
        asset="medicine_pack",
        amount=1,
        authorisation=checked_in(services, paid.p4),
        today=IN_PERIOD,
    )
    held = snapshot(services)
    with pytest.raises(Conflict, match=f"credit ledger account {medicine['id']}"):
        review(services).unmerge(reviewer, done.id, "twins after all")
    assert snapshot(services) == held
    assert [
        a["owner_id"] for a in rows(services, ledger_accounts) if a["id"] == medicine["id"]
    ] == [paid.p4]


def test_an_appeal_filed_during_the_merge_goes_back_with_its_decision(
    services: Services, paid: Paid, reviewer: Actor
) -> None:
    """An appeal filed under the survivor against a decision the merge moved returns to the
    merged person with that decision on unmerge."""
    done = merge(services, paid, reviewer)
    with services.uow() as uow:
        medicine_decision = uow.connection.execute(
            select(decisions.c.id).where(
                decisions.c.id.in_(done.moved["decisions"]),
                decisions.c.programme == "chronic_medicine",
            )
        ).scalar_one()
    nurse = actor(Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT, username="nurse")
    late = services.eligibility.file_appeal(nurse, medicine_decision, "needs two packs")
    assert late.subject_id == paid.p4

    review(services).unmerge(reviewer, done.id, "twins after all")

    with services.uow() as uow:
        owners = dict(uow.connection.execute(select(appeals.c.id, appeals.c.subject_id)).all())
    assert owners == {paid.appeal_id: paid.p1, late.id: paid.p1}


def test_a_chain_of_merges_unwinds_exactly(
    services: Services, paid: Paid, reviewer: Actor, world: World
) -> None:
    """p1 into p4, then p4 into p3 (who has no pension account: p4's is re-owned, with both
    balances); the first cannot be undone before the second, and undoing both in turn
    restores everything."""
    p3 = world.population.people["p3"]
    before = snapshot(services)
    first = merge(services, paid, reviewer)
    second = review(services).decide(
        reviewer, pending_pair(services, paid.p4, p3), accept=True, reason="same", survivor_id=p3
    )
    assert second.merge is not None
    [pension] = entitlement(services, p3, "old_age_pension")
    assert balance(pension) == 2 * PENSION
    with pytest.raises(Conflict, match="undo that merge first"):
        review(services).unmerge(reviewer, first.id, "wrong")
    review(services).unmerge(reviewer, second.merge.id, "wrong")
    review(services).unmerge(reviewer, first.id, "wrong")
    assert snapshot(services) == before
    ledger_is_sound(services)


def test_a_cycle_run_again_does_not_pay_the_survivor_for_a_period_the_merged_record_was_paid(
    services: Services, paid: Paid, reviewer: Actor, cycles: Cycles, disburser: Actor
) -> None:
    """p1's medicine enrolment moved to p4 with the merge; running the period's cycle again
    must not pay p4 the quota p1 was already paid (and p4 now holds)."""
    merge(services, paid, reviewer)
    again = cycles.run(disburser, "chronic_medicine", PERIOD, today=IN_PERIOD)
    assert again.posted == 0
    assert len(entitlement(services, paid.p4, "chronic_medicine")) == 1
    ledger_is_sound(services)
