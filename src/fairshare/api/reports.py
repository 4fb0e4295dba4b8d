"""Coverage, exclusion and equity reports; public coverage statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from fairshare.api.deps import CurrentActor, ServicesDep
from fairshare.api.schemas import MONTH_PATTERN
from fairshare.eligibility.charts import MEDIA_TYPES, ChartFormat
from fairshare.reports.charts import coverage_chart, equity_chart
from fairshare.reports.html import render_report
from fairshare.reports.model import (
    SIGNAL_LABELS,
    CoverageReport,
    ExcludedSubject,
    GroupGap,
    NoReportData,
    PeriodCoverage,
    ProgrammeReport,
    PublicProgrammeCoverage,
    Signal,
    SignalCount,
)

router = APIRouter(prefix="/api/v1", tags=["reports"])

Period = Annotated[
    str | None,
    Query(pattern=MONTH_PATTERN, description="One month, like 2026-11 (default: all)"),
]


class GapPublic(BaseModel):
    group: str
    status: str
    benefited: int | None
    eligible: int | None
    benefit_share: float | None
    benefit_interval: tuple[float, float] | None
    eligible_share: float | None
    eligible_interval: tuple[float, float] | None
    gap: float | None
    gap_interval: tuple[float, float] | None


class EquityPublic(BaseModel):
    dimension: str
    gaps: list[GapPublic]


class BreakdownPublic(BaseModel):
    dimension: str
    # group → measure → count as shown ("<10" when withheld)
    groups: dict[str, dict[str, str]]


class MerchantPublic(BaseModel):
    merchant: str
    region: str
    redemptions: str
    amount: str
    unredeemed_in_region: str


class SignalPublic(BaseModel):
    signal: str
    label: str
    total: str
    by_region: dict[str, str]
    by_merchant: list[MerchantPublic] = []
    note: str = ""


class PeriodPublic(BaseModel):
    period: str
    totals: dict[str, str]
    entitled_amount: str
    redeemed_amount: str
    breakdowns: list[BreakdownPublic]
    equity: list[EquityPublic]
    signals: list[SignalPublic]


class ProgrammeReportPublic(BaseModel):
    code: str
    name: str
    target: str
    asset: str
    needs_health: bool
    rule_version: int | None
    periods: list[PeriodPublic]
    lost_eligibility: SignalPublic | None
    overdue_appeals: SignalPublic


class CoverageReportPublic(BaseModel):
    generated_at: datetime
    generated_by: str
    period: str | None
    threshold: float
    confidence: float
    dimensions: list[str]
    data_statement: str
    notes: list[str]
    programmes: list[ProgrammeReportPublic]


class ExcludedPublic(BaseModel):
    subject_type: str
    subject_id: str
    name: str
    region: str
    period: str | None
    detail: str


class PublicCoverage(BaseModel):
    code: str
    name: str
    target: str
    period: str
    totals: dict[str, str]
    by_region: dict[str, dict[str, str]]


def _interval(value: object) -> tuple[float, float] | None:
    return None if value is None else (value.low, value.high)  # type: ignore[attr-defined]


def _gap(gap: GroupGap) -> GapPublic:
    return GapPublic(
        group=gap.group,
        status=gap.status.value,
        benefited=gap.benefited,
        eligible=gap.eligible,
        benefit_share=gap.benefit_share,
        benefit_interval=_interval(gap.benefit_interval),
        eligible_share=gap.eligible_share,
        eligible_interval=_interval(gap.eligible_interval),
        gap=gap.gap,
        gap_interval=_interval(gap.gap_interval),
    )


def _signal(signal: SignalCount) -> SignalPublic:
    return SignalPublic(
        signal=signal.signal.value,
        label=SIGNAL_LABELS[signal.signal],
        total=signal.total_shown,
        by_region={cell.label: cell.shown for cell in signal.by_region},
        by_merchant=[
            MerchantPublic(
                merchant=line.merchant,
                region=line.region,
                redemptions=line.shown,
                amount=line.amount_text,
                unredeemed_in_region=line.unredeemed_in_region,
            )
            for line in signal.by_merchant
        ],
        note=signal.note,
    )


def _period(coverage: PeriodCoverage) -> PeriodPublic:
    return PeriodPublic(
        period=coverage.period,
        totals={measure: cell.shown for measure, cell in coverage.totals.items()},
        entitled_amount=coverage.entitled_amount_text,
        redeemed_amount=coverage.redeemed_amount_text,
        breakdowns=[
            BreakdownPublic(
                dimension=b.dimension,
                groups={
                    group: {m: b.measures[m][index].shown for m in b.measures}
                    for index, group in enumerate(b.groups)
                },
            )
            for b in coverage.breakdowns
        ],
        equity=[
            EquityPublic(dimension=a.dimension, gaps=[_gap(g) for g in a.gaps])
            for a in coverage.equity
        ],
        signals=[_signal(s) for s in coverage.signals],
    )


def _programme(programme: ProgrammeReport) -> ProgrammeReportPublic:
    return ProgrammeReportPublic(
        code=programme.code,
        name=programme.name,
        target=programme.target,
        asset=programme.asset,
        needs_health=programme.needs_health,
        rule_version=programme.rule_version,
        periods=[_period(p) for p in programme.periods],
        lost_eligibility=None
        if programme.lost_eligibility is None
        else _signal(programme.lost_eligibility),
        overdue_appeals=_signal(programme.overdue_appeals),
    )


def report_public(report: CoverageReport) -> CoverageReportPublic:
    return CoverageReportPublic(
        generated_at=report.generated_at,
        generated_by=report.generated_by,
        period=report.period,
        threshold=report.threshold,
        confidence=report.confidence,
        dimensions=list(report.dimensions),
        data_statement=report.data_statement,
        notes=list(report.notes),
        programmes=[_programme(p) for p in report.programmes],
    )


@router.get("/reports/coverage", response_model=CoverageReportPublic)
def coverage(
    services: ServicesDep,
    actor: CurrentActor,
    period: Period = None,
    disability: bool = False,
) -> CoverageReportPublic:
    """Coverage, exclusion signals and the equity audit of every published programme, counts
    under 10 withheld. `disability=true` (health data, aggregated) for programme design,
    audit or health assessment only."""
    return report_public(services.reports.coverage(actor, period, disability=disability))


@router.get(
    "/reports/coverage.html",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}},
)
def coverage_html(
    services: ServicesDep, actor: CurrentActor, period: Period = None, disability: bool = False
) -> Response:
    """The report as one self-contained HTML file, charts embedded, to download."""
    report = services.reports.coverage(actor, period, disability=disability)
    name = f"fairshare-report-{period or 'all-periods'}.html"
    return Response(
        render_report(report),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/reports/coverage/{code}/charts/{breakdown}",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
)
def chart(
    services: ServicesDep,
    actor: CurrentActor,
    code: str,
    breakdown: Literal["region", "age_band", "sex", "household_size", "disability"],
    kind: Literal["coverage", "equity"] = "coverage",
    period: Period = None,
    format_: Annotated[ChartFormat, Query(alias="format")] = ChartFormat.SVG,
) -> Response:
    """One breakdown of a programme's period (the latest by default) as a chart: coverage
    bars, or benefit share against eligible share with intervals."""
    report = services.reports.coverage(
        actor, period, disability=breakdown == "disability", programme=code[:40]
    )
    latest = report.programmes[0].latest
    if latest is None:
        raise NoReportData(
            f"programme {code[:40]!r} has no entitlement cycle to chart; give a period"
        )
    draw = coverage_chart if kind == "coverage" else equity_chart
    return Response(draw(latest, breakdown, format_), media_type=MEDIA_TYPES[format_])


@router.get("/reports/exclusions/{code}", response_model=list[ExcludedPublic])
def exclusions(
    services: ServicesDep,
    actor: CurrentActor,
    code: str,
    signal: Signal = Signal.NOT_PAID,
    period: Period = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ExcludedPublic]:
    """The people or households behind a signal, for caseworkers following them up; each
    one listed is written to the access log."""
    found: list[ExcludedSubject] = services.reports.excluded(
        actor, signal, code[:40], period, limit=limit
    )
    return [
        ExcludedPublic(
            subject_type=item.subject_type,
            subject_id=item.subject_id,
            name=item.name,
            region=item.region,
            period=item.period,
            detail=item.detail,
        )
        for item in found
    ]


@router.get("/public/coverage", response_model=list[PublicCoverage], tags=["public"])
def public_coverage(services: ServicesDep) -> list[PublicCoverage]:
    """Each programme's latest period: counts in total and by region, every count under 10
    withheld. No login needed; no person, no health data."""
    return [_public(item) for item in services.reports.public_coverage()]


def _public(item: PublicProgrammeCoverage) -> PublicCoverage:
    return PublicCoverage(
        code=item.code,
        name=item.name,
        target=item.target,
        period=item.period,
        totals=item.totals,
        by_region=dict(item.by_region),
    )
