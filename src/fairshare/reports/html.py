"""The coverage report as one self-contained HTML file: tables, and the charts inline as SVG.

Nothing is loaded from elsewhere (no scripts, fonts or images), so the file can be mailed,
archived or opened offline. Charts are drawn for each programme's latest reported period;
every period has its tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from fairshare.eligibility.charts import ChartFormat
from fairshare.reports.charts import coverage_chart, equity_chart
from fairshare.reports.model import (
    DIMENSION_LABELS,
    MEASURE_LABELS,
    MEASURES,
    SIGNAL_LABELS,
    CoverageReport,
    PeriodCoverage,
)

TEMPLATES = Path(__file__).parent / "templates"
environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def inline_svg(svg: bytes) -> Markup:
    """An SVG chart for placing inside HTML: without its XML prolog and DOCTYPE."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return Markup(text[start:])  # noqa: S704 - drawn by matplotlib from our own numbers


def charts_for(coverage: PeriodCoverage) -> dict[str, dict[str, Markup]]:
    """dimension → {"coverage": svg, "equity": svg} for one programme and period."""
    return {
        breakdown.dimension: {
            "coverage": inline_svg(coverage_chart(coverage, breakdown.dimension, ChartFormat.SVG)),
            "equity": inline_svg(equity_chart(coverage, breakdown.dimension, ChartFormat.SVG)),
        }
        for breakdown in coverage.breakdowns
    }


def render_report(report: CoverageReport, *, charts: bool = True) -> str:
    """The whole report as an HTML document."""
    drawn: dict[tuple[str, str], Any] = {}
    if charts:
        for programme in report.programmes:
            latest = programme.latest
            if latest is not None:
                drawn[(programme.code, latest.period)] = charts_for(latest)
    template = environment.get_template("report.html")
    return template.render(
        report=report,
        charts=drawn,
        measures=MEASURES,
        measure_labels=MEASURE_LABELS,
        dimension_labels=DIMENSION_LABELS,
        signal_labels=SIGNAL_LABELS,
        percent=percent,
    )


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"
