"""Coverage, exclusion and equity reports. The API, the web pages and the CLI call these.

Who sees what (docs/decisions/0018-equity-audit-method.md):

- The report is aggregates only, with every count under 10 withheld (and a second cell where
  a published total would give the first back). Programme officers (design, disbursement),
  auditors and caseworkers may read it; each reading is one access-log entry.
- Disability is health data (red line 1, decision 0011). Its breakdown is computed only when
  asked for, only for purposes that may use health data for statistics (programme design,
  audit, health assessment), and only in aggregate with small cells withheld, never per
  person. Opening the sealed values writes one access-log entry per person, so each person
  sees that their value was counted.
- The persons behind an exclusion signal are listed only to caseworkers following cases up
  (case management, appeal review, health assessment; for programmes that read health data,
  health assessment only), one access-log entry per person listed.
- Public statistics carry counts by region only, withheld when small, and never a person.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from fairshare.assets import format_amount
from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, utc_now
from fairshare.db import UnitOfWork
from fairshare.eligibility.model import SUPPRESSED
from fairshare.errors import InvalidInput
from fairshare.identity.guard import access_request, authorize, deny
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed
from fairshare.keys import FieldCipher
from fairshare.ledger.model import Period
from fairshare.registry.orm import health_values, households, people
from fairshare.reports import queries
from fairshare.reports.model import (
    DEFAULT_CONFIDENCE,
    DEFAULT_GAP_THRESHOLD,
    DIMENSIONS,
    MEASURES,
    Breakdown,
    Cell,
    CoverageReport,
    EquityAudit,
    ExcludedSubject,
    MerchantLine,
    NoReportData,
    PeriodCoverage,
    ProgrammeReport,
    PublicProgrammeCoverage,
    Signal,
    SignalCount,
    cells,
    check_period,
    check_threshold,
    equity_gaps,
    is_small,
    ordered,
    shown_count,
)

P = Purpose
READ = frozenset(
    {
        P.PROGRAMME_DESIGN,
        P.DISBURSEMENT,
        P.AUDIT,
        P.CASE_MANAGEMENT,
        P.APPEAL_REVIEW,
        P.HEALTH_ASSESSMENT,
    }
)
# Disability counts (health data, aggregated): purposes whose work is the design or the audit
# of programmes, or health assessment itself.
HEALTH_AGGREGATE = frozenset({P.PROGRAMME_DESIGN, P.AUDIT, P.HEALTH_ASSESSMENT})
SHOW_PEOPLE = frozenset({P.CASE_MANAGEMENT, P.APPEAL_REVIEW, P.HEALTH_ASSESSMENT})
MAX_LISTED = 1_000
REPORT_FIELDS = ("date_of_birth", "sex", "region", "relationship_to_head")


class Reports:
    """Coverage per programme and period, exclusion signals, the equity audit, and public
    statistics, computed on the fly from the registry, eligibility and the ledger."""

    def __init__(
        self,
        uow: UnitOfWork,
        cipher: FieldCipher | None = None,
        *,
        threshold: float = DEFAULT_GAP_THRESHOLD,
        confidence: float = DEFAULT_CONFIDENCE,
    ) -> None:
        self.uow = uow
        self.cipher = cipher
        self.threshold = check_threshold(threshold)
        self.confidence = confidence

    # ---- the report --------------------------------------------------------------------

    def coverage(
        self,
        actor: Actor,
        period: str | None = None,
        *,
        disability: bool = False,
        programme: str | None = None,
        today: date | None = None,
    ) -> CoverageReport:
        """Coverage, exclusion signal counts and the equity audit of every published
        programme (or one), for every period with a cycle or for the month given.

        Counts under 10 are withheld. `disability` adds the disability breakdown (health data,
        aggregated) for purposes that may use it. Raises InvalidInput (period),
        PurposeNotAllowed.
        """
        period = check_period(period)
        authorize(self.uow, actor, READ, "report", "coverage", Tag.REPORTS_COVERAGE_READ)
        if disability and actor.purpose not in HEALTH_AGGREGATE:
            deny(self.uow, actor, "report", "disability", Tag.REPORTS_HEALTH_AGGREGATE)
            allowed = ", ".join(sorted(p.value for p in HEALTH_AGGREGATE))
            raise PurposeNotAllowed(
                "the disability breakdown counts health data and is given only for the "
                f"purposes {allowed}; ask without it, or act for one of those purposes"
            )
        today = today or date.today()
        dimensions = DIMENSIONS if disability else tuple(d for d in DIMENSIONS if d != "disability")
        with self.uow:
            connection = self.uow.connection
            infos = queries.programme_infos(connection)
            if programme is not None:
                infos = [info for info in infos if info.code == programme[:40]]
                if not infos:
                    raise NoReportData(
                        f"no published programme called {programme[:40]!r}; "
                        "`fairshare programme list` shows them"
                    )
            runs = queries.runs_of(connection)
            cycle_periods = queries.cycle_periods(connection)
            periods = {
                info.code: queries.report_periods(info, cycle_periods.get(info.code, ()), period)
                for info in infos
            }
            values = self._disability_values() if disability else None
            with queries.load(
                connection, infos, runs, periods, disability=values, today=today
            ) as data:
                queries.build_flags(data)
                counts = queries.group_counts(data, dimensions)
                merchants = queries.merchant_counts(data)
                lost = queries.lost_eligibility(data)
                overdue = queries.overdue_appeals(data)
            log = [
                access_request(
                    actor,
                    Tag.REPORTS_COVERAGE_READ,
                    "report",
                    "coverage",
                    REPORT_FIELDS + (("disability",) if disability else ()),
                )
            ]
            log += [
                access_request(
                    actor, Tag.REPORTS_HEALTH_AGGREGATE, "person", person_id, ("disability",)
                )
                for person_id in sorted(values or ())
            ]
            audit.record(self.uow, log)
            self.uow.commit()
        reports = []
        for info in infos:
            coverages = tuple(
                self._period_coverage(info, p, dimensions, counts, merchants)
                for p in periods[info.code]
            )
            lost_here = lost.get(info.code, {})
            programme_runs = runs.get(info.code, [])
            reports.append(
                _programme_report(
                    info,
                    coverages,
                    None
                    if len(programme_runs) < 2
                    else _signal(
                        Signal.LOST_ELIGIBILITY,
                        lost_here,
                        note=f"run of version {programme_runs[-2].version} "
                        f"({programme_runs[-2].reference_date.isoformat()}) against run of "
                        f"version {programme_runs[-1].version} "
                        f"({programme_runs[-1].reference_date.isoformat()})",
                    ),
                    _signal(Signal.OVERDUE_APPEAL, {}, total=overdue.get(info.code, 0)),
                )
            )
        notes = []
        if not disability:
            notes.append(
                "Disability breakdown not included (it is health data; ask for it under a "
                "programme design, audit or health assessment purpose)."
            )
        return CoverageReport(
            generated_at=utc_now(),
            generated_by=actor.username,
            period=period,
            threshold=self.threshold,
            confidence=self.confidence,
            dimensions=dimensions,
            programmes=tuple(reports),
            notes=tuple(notes),
        )

    def _period_coverage(
        self,
        info: queries.ProgrammeInfo,
        period: Period,
        dimensions: Sequence[str],
        counts: queries.GroupCounts,
        merchants: Mapping[tuple[str, str], list[tuple[str, str, int, int]]],
    ) -> PeriodCoverage:
        key = (info.code, period.label)
        totals = counts.totals.get(key, {})
        total_cells = {
            measure: Cell(measure, totals.get(measure, 0), shown_count(totals.get(measure, 0)))
            for measure in MEASURES
        }
        for measure, cell in total_cells.items():
            if cell.shown == SUPPRESSED:
                total_cells[measure] = Cell(measure, None, SUPPRESSED)
        breakdowns = []
        audits = []
        for dimension in dimensions:
            groups = counts.groups.get((*key, dimension), {})
            labels = ordered(groups)
            measures = {
                measure: tuple(
                    cells({g: groups[g].get(measure, 0) for g in labels}, suppressed=True)
                )
                for measure in MEASURES
            }
            breakdowns.append(Breakdown(dimension, tuple(labels), measures))
            audits.append(
                EquityAudit(
                    dimension,
                    tuple(
                        equity_gaps(
                            {g: groups[g].get("entitled", 0) for g in labels},
                            {g: groups[g].get("eligible", 0) for g in labels},
                            threshold=self.threshold,
                            confidence=self.confidence,
                        )
                    ),
                )
            )
        regions = counts.groups.get((*key, "region"), {})
        not_redeemed_by_region = {g: c.get("not_redeemed", 0) for g, c in regions.items()}
        merchant_lines = tuple(
            MerchantLine(
                name,
                region,
                count,
                shown_count(count),
                SUPPRESSED
                if shown_count(count) == SUPPRESSED
                else format_amount(info.asset, amount),
                shown_count(not_redeemed_by_region.get(region, 0)),
            )
            for name, region, count, amount in merchants.get(key, [])
        )
        signals = (
            _signal(
                Signal.NOT_PAID,
                {g: c.get("not_paid", 0) for g, c in regions.items()},
                total=totals.get("not_paid", 0),
            ),
            _signal(
                Signal.NOT_REDEEMED,
                not_redeemed_by_region,
                total=totals.get("not_redeemed", 0),
                merchants=merchant_lines,
            ),
        )
        return PeriodCoverage(
            programme=info.code,
            period=period.label,
            totals=total_cells,
            entitled_amount_text=_amount_text(info.asset, totals, "entitled"),
            redeemed_amount_text=_amount_text(info.asset, totals, "redeemed"),
            breakdowns=tuple(breakdowns),
            equity=tuple(audits),
            signals=signals,
        )

    def _disability_values(self) -> dict[str, str]:
        """person id → disability choice, opened from the sealed values (caller logs them)."""
        if self.cipher is None:
            raise InvalidInput("the disability breakdown needs the health-data keys")
        values: dict[str, str] = {}
        query = select(health_values.c.person_id, health_values.c.sealed).where(
            health_values.c.field == "disability"
        )
        for person_id, sealed in self.uow.connection.execute(query):
            opened = json.loads(self.cipher.open(sealed, f"{person_id}:disability"))
            if isinstance(opened, str):
                values[person_id] = opened
        return values

    # ---- people behind a signal ----------------------------------------------------------

    def excluded(
        self,
        actor: Actor,
        signal: Signal | str,
        programme: str,
        period: str | None = None,
        *,
        limit: int = 200,
        today: date | None = None,
    ) -> list[ExcludedSubject]:
        """The people or households behind a signal, for a caseworker to follow up: id, name
        (the head's for a household), region and what happened. Each one listed is an
        access-log entry. Programmes that read health data: health assessment only.
        Raises InvalidInput (signal, period, limit), NoReportData, PurposeNotAllowed.
        """
        try:
            signal = Signal(signal)
        except ValueError:
            raise InvalidInput(
                f"no signal called {str(signal)[:40]!r}; choose one of "
                + ", ".join(s.value for s in Signal),
                errors=[{"field": "signal", "reason": "unknown signal"}],
            ) from None
        period = check_period(period)
        if not 1 <= limit <= MAX_LISTED:
            raise InvalidInput(f"list between 1 and {MAX_LISTED} at a time")
        code = programme[:40]
        authorize(self.uow, actor, SHOW_PEOPLE, "programme", code, Tag.REPORTS_EXCLUSION_READ)
        today = today or date.today()
        with self.uow:
            connection = self.uow.connection
            infos = [i for i in queries.programme_infos(connection) if i.code == code]
            if not infos:
                raise NoReportData(
                    f"no published programme called {code!r}; `fairshare programme list` shows them"
                )
            info = infos[0]
            if info.needs_health and actor.purpose is not P.HEALTH_ASSESSMENT:
                deny(self.uow, actor, "programme", code, Tag.REPORTS_EXCLUSION_READ)
                raise PurposeNotAllowed(
                    f"programme {code!r} reads health data: who is left out of it is health "
                    f"data too, listed only under the purpose {P.HEALTH_ASSESSMENT.value!r}"
                )
            runs = queries.runs_of(connection)
            cycle_periods = queries.cycle_periods(connection)
            periods = {code: queries.report_periods(info, cycle_periods.get(code, ()), period)}
            with queries.load(connection, infos, runs, periods, today=today) as data:
                queries.build_flags(data)
                found = queries.subjects_with_signal(data, signal.value, code, period, limit)
            names = self._names(info.target, [subject for subject, *_ in found])
            listed = [
                ExcludedSubject(info.target, subject, names.get(subject, ""), region, when, detail)
                for subject, region, when, detail in found
            ]
            log: list[AccessRequest] = [
                access_request(
                    actor,
                    Tag.REPORTS_EXCLUSION_READ,
                    info.target,
                    subject_id,
                    ("given_names", "family_names", "region"),
                )
                for subject_id in sorted({item.subject_id for item in listed})
            ]
            log.append(
                access_request(
                    actor, Tag.REPORTS_EXCLUSION_READ, "programme", code, (signal.value,)
                )
            )
            audit.record(self.uow, log)
            self.uow.commit()
        return listed

    def _names(self, target: str, subject_ids: list[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        connection = self.uow.connection
        for start in range(0, len(subject_ids), 500):
            chunk = subject_ids[start : start + 500]
            if target == "person":
                query: Any = select(people.c.id, people.c.given_names, people.c.family_names).where(
                    people.c.id.in_(chunk)
                )
            else:
                query = (
                    select(households.c.id, people.c.given_names, people.c.family_names)
                    .join(people, people.c.household_id == households.c.id)
                    .where(households.c.id.in_(chunk))
                    .where(people.c.relationship_to_head == "head")
                )
            for subject_id, given, family in connection.execute(query):
                names[subject_id] = f"{given} {family}"
        return names

    # ---- public statistics -------------------------------------------------------------

    def public_coverage(self, today: date | None = None) -> list[PublicProgrammeCoverage]:
        """Each published programme's latest period with a cycle: registered, eligible,
        enrolled, entitled and redeemed, in total and by region, every count under 10
        withheld. Anyone may see it: no person, no health data, nothing logged."""
        today = today or date.today()
        with self.uow:
            connection = self.uow.connection
            infos = queries.programme_infos(connection)
            cycle_periods = queries.cycle_periods(connection)
            periods: dict[str, list[Period]] = {}
            for info in infos:
                found = queries.report_periods(info, cycle_periods.get(info.code, ()), None)
                if found:
                    periods[info.code] = [found[-1]]
            infos = [info for info in infos if info.code in periods]
            if not infos:
                return []
            runs = queries.runs_of(connection)
            with queries.load(connection, infos, runs, periods, today=today) as data:
                queries.build_flags(data)
                counts = queries.group_counts(data, ("region",))
        result = []
        for info in infos:
            period = periods[info.code][0]
            key = (info.code, period.label)
            totals = counts.totals.get(key, {})
            regions = counts.groups.get((*key, "region"), {})
            labels = ordered(regions)
            columns = {
                m: cells({g: regions[g].get(m, 0) for g in labels}, suppressed=True)
                for m in MEASURES
            }
            result.append(
                PublicProgrammeCoverage(
                    code=info.code,
                    name=info.name,
                    target=info.target,
                    period=period.label,
                    totals={m: shown_count(totals.get(m, 0)) for m in MEASURES},
                    by_region=tuple(
                        (label, {m: columns[m][index].shown for m in MEASURES})
                        for index, label in enumerate(labels)
                    ),
                )
            )
        return result


def _amount_text(asset: str, totals: Mapping[str, int], measure: str) -> str:
    if 0 < totals.get(measure, 0) < 10:
        return SUPPRESSED
    return format_amount(asset, totals.get(f"{measure}_amount", 0))


def _signal(
    signal: Signal,
    by_region: Mapping[str, int],
    *,
    total: int | None = None,
    merchants: tuple[MerchantLine, ...] = (),
    note: str = "",
) -> SignalCount:
    count = sum(by_region.values()) if total is None else total
    return SignalCount(
        signal,
        None if is_small(count) else count,
        shown_count(count),
        tuple(cells(dict(by_region), suppressed=True)),
        merchants,
        note,
    )


def _programme_report(
    info: queries.ProgrammeInfo,
    periods: tuple[PeriodCoverage, ...],
    lost: SignalCount | None,
    overdue: SignalCount,
) -> ProgrammeReport:
    return ProgrammeReport(
        code=info.code,
        name=info.name,
        target=info.target,
        asset=info.asset,
        needs_health=info.needs_health,
        rule_version=info.version,
        periods=periods,
        lost_eligibility=lost,
        overdue_appeals=overdue,
    )
