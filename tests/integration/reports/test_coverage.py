"""Coverage, exclusion signals and the equity audit, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.eligibility.orm import decisions
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ledger.model import Period
from fairshare.registry.services import MemberInput
from fairshare.reports import queries
from fairshare.reports.model import GapStatus, Signal
from fairshare.reports.services import Reports
from tests.conftest import actor
from tests.integration.ledger.conftest import PERIOD, World
from tests.integration.reports.conftest import TODAY


def _raw(services: Services, month: str | None = None) -> queries.GroupCounts:
    with services.uow() as uow:
        infos = queries.programme_infos(uow.connection)
        runs = queries.runs_of(uow.connection)
        cycles = queries.cycle_periods(uow.connection)
        periods = {i.code: queries.report_periods(i, cycles.get(i.code, ()), month) for i in infos}
        with queries.load(uow.connection, infos, runs, periods, today=TODAY) as data:
            queries.build_flags(data)
            return queries.group_counts(data, ("region", "age_band", "sex", "household_size"))


def test_raw_counts_follow_the_hand_worked_registry(services: Services, paid: World) -> None:
    """Registered, eligible, enrolled, entitled and redeemed match the table in the fixture."""
    counts = _raw(services)
    pension = counts.totals[("old_age_pension", PERIOD)]
    assert {
        k: pension[k] for k in ("registered", "eligible", "enrolled", "entitled", "redeemed")
    } == {
        "registered": 8,
        "eligible": 2,
        "enrolled": 2,
        "entitled": 2,
        "redeemed": 1,
    }
    assert (pension["entitled_amount"], pension["redeemed_amount"]) == (26000, 5000)
    food = counts.totals[("food_basket", PERIOD)]
    assert (food["registered"], food["eligible"], food["entitled"], food["redeemed"]) == (
        4,
        2,
        2,
        1,
    )
    by_region = counts.groups[("old_age_pension", PERIOD, "region")]
    assert by_region["Costa"]["eligible"] == 1 and by_region["Sierra"]["eligible"] == 1
    assert by_region["Costa"]["redeemed"] == 1 and by_region["Sierra"]["not_redeemed"] == 1
    bands = counts.groups[("old_age_pension", PERIOD, "age_band")]
    assert bands["65+"]["eligible"] == 2
    assert sum(cell["registered"] for cell in bands.values()) == 8
    sizes = counts.groups[("food_basket", PERIOD, "household_size")]
    assert sizes["3"]["eligible"] == 1 and sizes["2"]["eligible"] == 1


def test_the_report_withholds_small_counts_and_logs_the_reading(
    services: Services, paid: World, reports: Reports, officer: Actor
) -> None:
    """Every count under 10 is shown as <10; the reading is one access-log entry."""
    report = reports.coverage(officer, today=TODAY)
    assert [p.code for p in report.programmes] == [
        "chronic_medicine",
        "food_basket",
        "old_age_pension",
        "subsidised_fuel",
    ]
    pension = report.programmes[2]
    [june] = pension.periods
    assert june.period == PERIOD
    assert {m: c.shown for m, c in june.totals.items()} == {
        "registered": "<10",
        "eligible": "<10",
        "enrolled": "<10",
        "entitled": "<10",
        "redeemed": "<10",
    }
    assert all(
        gap.status is GapStatus.WITHHELD or (gap.benefited, gap.eligible) == (0, 0)
        for audit in june.equity
        for gap in audit.gaps
    )
    assert "disability" not in report.dimensions
    assert "only need facts" in report.data_statement
    with services.uow() as uow:
        tags = [row.action for row in uow.connection.execute(select(access_log.c.action))]
    assert tags.count("reports:coverage:read") == 1


def test_gaps_are_flagged_and_the_unpaid_counted(
    services: Services, larger: dict[str, list[str]], reports: Reports, auditor: Actor
) -> None:
    """Eligible Sierra men not paid: Sierra's benefit share 0% against 28.6% eligible."""
    report = reports.coverage(auditor, PERIOD, today=TODAY)
    [pension] = report.programmes
    [june] = pension.periods
    assert june.totals["eligible"].count == 42 and june.totals["entitled"].count == 30
    region = next(a for a in june.equity if a.dimension == "region")
    gaps = {gap.group: gap for gap in region.gaps}
    assert gaps["Sierra"].status is GapStatus.FLAGGED and gaps["Sierra"].under_served
    assert gaps["Sierra"].benefit_share == 0.0
    assert gaps["Sierra"].eligible_share == pytest.approx(12 / 42)
    assert gaps["Costa"].status is GapStatus.FLAGGED and not gaps["Costa"].under_served
    not_paid = next(s for s in june.signals if s.signal is Signal.NOT_PAID)
    assert not_paid.total == 12
    assert [(c.label, c.shown) for c in not_paid.by_region] == [("Costa", "0"), ("Sierra", "12")]
    assert report.flagged


def test_caseworkers_see_who_was_not_paid_and_each_is_logged(
    services: Services, larger: dict[str, list[str]], reports: Reports, follow_up: Actor
) -> None:
    """The drill-down lists the 12 unpaid men with their names; one log entry each."""
    listed = reports.excluded(follow_up, Signal.NOT_PAID, "old_age_pension", PERIOD, today=TODAY)
    assert sorted(item.subject_id for item in listed) == sorted(larger["sierra"])
    assert all(item.name.endswith("Sierra") for item in listed)
    with services.uow() as uow:
        logged = {
            row.subject_id
            for row in uow.connection.execute(
                select(access_log.c.subject_id).where(
                    access_log.c.action == "reports:exclusion:read"
                )
            )
        }
    assert set(larger["sierra"]) <= logged


def test_officers_may_not_list_people(
    services: Services, larger: dict[str, list[str]], reports: Reports, officer: Actor
) -> None:
    """Programme officers get counts, never the persons behind them; the refusal is logged."""
    with pytest.raises(PurposeNotAllowed):
        reports.excluded(officer, Signal.NOT_PAID, "old_age_pension", PERIOD)


def test_health_programme_lists_need_health_assessment(
    services: Services, paid: World, reports: Reports, follow_up: Actor
) -> None:
    """Who is left out of a medicine programme is health data (decision 0011)."""
    with pytest.raises(PurposeNotAllowed):
        reports.excluded(follow_up, Signal.NOT_REDEEMED, "chronic_medicine", PERIOD)
    health = actor(Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT, username="nurse")
    listed = reports.excluded(health, Signal.NOT_REDEEMED, "chronic_medicine", PERIOD, today=TODAY)
    assert [item.subject_id for item in listed] == [paid.population.people["p1"]]


def test_disability_breakdown_only_for_health_aggregate_purposes(
    services: Services, paid: World, reports: Reports
) -> None:
    """Disbursement may not ask for disability counts; audit may, in aggregate."""
    disburser = actor(Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT)
    with pytest.raises(PurposeNotAllowed):
        reports.coverage(disburser, disability=True)
    report = reports.coverage(actor(Role.AUDITOR, Purpose.AUDIT), disability=True, today=TODAY)
    assert "disability" in report.dimensions


def test_citizens_and_merchants_may_not_read_the_report(
    services: Services, paid: World, reports: Reports
) -> None:
    for who in (
        actor(Role.MERCHANT, Purpose.REDEMPTION),
        actor(Role.CITIZEN, Purpose.SELF_SERVICE),
    ):
        with pytest.raises(PurposeNotAllowed):
            reports.coverage(who)


def test_public_statistics_never_list_persons(
    services: Services, larger: dict[str, list[str]], reports: Reports
) -> None:
    """Public coverage: counts by region, small ones withheld."""
    [pension] = reports.public_coverage(today=TODAY)
    assert pension.period == PERIOD
    assert pension.totals["eligible"] == "42"
    assert dict(pension.by_region)["Sierra"]["entitled"] == "0"
    assert dict(pension.by_region)["Costa"]["entitled"] == "30"


def test_a_period_without_a_cycle_shows_everyone_unpaid(
    services: Services, larger: dict[str, list[str]], reports: Reports, officer: Actor
) -> None:
    """Asking for a month with no cycle reports the eligible as not paid."""
    report = reports.coverage(officer, "2025-07", today=TODAY)
    [july] = report.programmes[0].periods
    assert july.totals["entitled"].count == 0 and july.totals["eligible"].count == 42


def test_report_periods_for_a_month() -> None:
    info = queries.ProgrammeInfo("x", "X", "person", "fuel", "quarterly", False, 1)
    [period] = queries.report_periods(info, (), "2026-11")
    assert period == Period(period.start, period.end, "2026-Q4") and period.label == "2026-Q4"


def test_appeals_count_overturns_and_overdue(
    services: Services, paid: World, reports: Reports, officer: Actor
) -> None:
    """An overturn on appeal makes p3 eligible; an appeal left open past its due date is
    counted as overdue."""
    reviewer = actor(Role.CASEWORKER, Purpose.APPEAL_REVIEW, username="reviewer")
    people = paid.population.people
    with services.uow() as uow:
        rows = {
            row.subject_id: row.id
            for row in uow.connection.execute(
                select(decisions.c.subject_id, decisions.c.id).where(
                    decisions.c.programme == "old_age_pension"
                )
            )
        }
    overturned = services.eligibility.file_appeal(reviewer, rows[people["p3"]], "income fell")
    services.eligibility.decide_appeal(reviewer, overturned.id, "overturn", "payslips")
    services.eligibility.file_appeal(reviewer, rows[people["p8"]], "I have no income")
    counts = _raw(services)
    assert counts.totals[("old_age_pension", PERIOD)]["eligible"] == 3
    later = overturned.due_on + timedelta(days=1)
    report = reports.coverage(officer, today=later)
    pension = next(p for p in report.programmes if p.code == "old_age_pension")
    assert pension.overdue_appeals.total_shown == "<10"
    with services.uow() as uow:
        infos = queries.programme_infos(uow.connection)
        runs = queries.runs_of(uow.connection)
        cycles = queries.cycle_periods(uow.connection)
        periods = {i.code: queries.report_periods(i, cycles.get(i.code, ()), None) for i in infos}
        with queries.load(uow.connection, infos, runs, periods, today=later) as data:
            assert queries.overdue_appeals(data) == {"old_age_pension": 1}


def test_money_redemptions_count_for_the_period_they_draw_on(
    services: Services, paid: World
) -> None:
    """p1's pension redemption (made today, after June) counts for June, the latest period
    p1 was entitled in, whether the report covers every period or June alone."""
    for month in (None, PERIOD):
        pension = _raw(services, month).totals[("old_age_pension", PERIOD)]
        assert (pension["redeemed"], pension["redeemed_amount"]) == (1, 5000)


def test_disability_counts_are_aggregated_and_each_opening_logged(
    services: Services, paid: World, reports: Reports
) -> None:
    """A person's sealed disability value is counted in its group (withheld when small), and
    the person's access log says their value was counted."""
    registrar = actor(Role.CASEWORKER, Purpose.REGISTRATION)
    household = services.registry.register_household(
        registrar,
        {"region": "Costa", "address": "Calle 5"},
        [
            MemberInput(
                {
                    "given_names": "Iris",
                    "family_names": "Prueba",
                    "date_of_birth": "1950-05-05",
                    "sex": "female",
                    "relationship_to_head": "head",
                    "monthly_income": "20.00",
                    "disability": "physical",
                },
                health_consent=True,
            )
        ],
    )
    iris = household.members[0].id
    report = reports.coverage(actor(Role.AUDITOR, Purpose.AUDIT), PERIOD, disability=True)
    pension = next(p for p in report.programmes if p.code == "old_age_pension")
    [june] = pension.periods
    breakdown = next(b for b in june.breakdowns if b.dimension == "disability")
    assert set(breakdown.groups) <= {"with disability", "no disability", "not recorded"}
    assert "with disability" in breakdown.groups
    assert all(cell.shown in ("0", "<10") for cell in breakdown.measures["registered"])
    with services.uow() as uow:
        logged = [
            row.subject_id
            for row in uow.connection.execute(
                select(access_log.c.subject_id).where(
                    access_log.c.action == "reports:health:aggregate"
                )
            )
        ]
    assert logged == [iris]
