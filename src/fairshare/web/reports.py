"""Coverage and equity pages for programme officers and auditors: the report's tables for
each programme's latest period, its charts, and the whole report as an HTML file."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.eligibility.charts import ChartFormat
from fairshare.errors import InvalidInput
from fairshare.identity.model import Purpose
from fairshare.reports.charts import coverage_chart, equity_chart
from fairshare.reports.html import percent, render_report
from fairshare.reports.model import DIMENSION_LABELS, MEASURE_LABELS, MEASURES, NoReportData
from fairshare.web.rendering import render
from fairshare.web.routing import Visit, page

router = APIRouter()
READERS = frozenset({Purpose.PROGRAMME_DESIGN, Purpose.DISBURSEMENT, Purpose.AUDIT})


def _period(visit: Visit) -> str | None:
    return visit.request.query_params.get("period", "")[:7].strip() or None


@page(router, "GET", "/reports")
def coverage(visit: Visit) -> Response:
    """The report's summary, flagged gaps and, per programme, its latest period by group."""
    visit.require_purpose(READERS)
    period = _period(visit)
    error = ""
    try:
        report = visit.services.reports.coverage(visit.actor, period)
    except InvalidInput:
        error = visit._("Period: use the form YYYY-MM, e.g. 2026-11")
        report = visit.services.reports.coverage(visit.actor, None)
        period = None
    return render(
        visit,
        "reports/coverage.html",
        status=422 if error else 200,
        report=report,
        period=period or "",
        error=error,
        measures=MEASURES,
        measure_labels=MEASURE_LABELS,
        dimension_labels=DIMENSION_LABELS,
        percent=percent,
    )


@page(router, "GET", "/reports/download")
def download(visit: Visit) -> Response:
    """The whole report as one HTML file with its charts, to keep or send."""
    visit.require_purpose(READERS)
    period = _period(visit)
    report = visit.services.reports.coverage(visit.actor, period)
    name = f"fairshare-report-{period or 'all-periods'}.html"
    return Response(
        render_report(report),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@page(router, "GET", "/reports/charts/{code}/{breakdown}")
def chart(visit: Visit, code: str, breakdown: str) -> Response:
    """A programme's latest period by one breakdown as a PNG (an <img> of the page):
    `?kind=equity` for the shares with their intervals."""
    visit.require_purpose(READERS)
    report = visit.services.reports.coverage(visit.actor, _period(visit), programme=code[:40])
    latest = report.programmes[0].latest
    if latest is None:
        raise NoReportData("this programme has no entitlement cycle to chart yet")
    draw = equity_chart if visit.request.query_params.get("kind") == "equity" else coverage_chart
    return Response(draw(latest, breakdown[:40], ChartFormat.PNG), media_type="image/png")
