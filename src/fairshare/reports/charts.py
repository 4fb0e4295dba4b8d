"""Charts of a coverage report, as SVG or PNG bytes (matplotlib, no display).

A chart shows only what the report shows: a withheld cell ("<10") is drawn as an empty,
hatched bar labelled "<10", never with its true height, and a withheld group of the equity
audit has no point and no interval.
"""

from __future__ import annotations

import io
from typing import Any

from fairshare.eligibility.charts import ChartFormat
from fairshare.errors import InvalidInput
from fairshare.reports.model import (
    DIMENSION_LABELS,
    MEASURE_LABELS,
    Breakdown,
    EquityAudit,
    GapStatus,
    PeriodCoverage,
)

CHART_MEASURES = ("eligible", "entitled", "redeemed")
COLOURS = {"eligible": "#2f6f8f", "entitled": "#e0a030", "redeemed": "#4f9a5a"}


def _format(chart_format: ChartFormat | str) -> ChartFormat:
    try:
        return ChartFormat(chart_format)
    except ValueError:
        raise InvalidInput("charts are drawn as svg or png") from None


def _save(figure: Any, chart_format: ChartFormat) -> bytes:
    import matplotlib

    # Fixed margins instead of tight_layout, which measures every label twice and took
    # a third of the drawing time of a report.
    figure.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.22)
    buffer = io.BytesIO()
    metadata: dict[str, str | None] = (
        {"Date": None, "Creator": "fairshare"}
        if chart_format is ChartFormat.SVG
        else {"Software": "fairshare"}
    )
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fairshare"}):
        figure.savefig(buffer, format=chart_format.value, metadata=metadata)
    return buffer.getvalue()


def coverage_chart(
    coverage: PeriodCoverage, dimension: str, chart_format: ChartFormat | str = ChartFormat.SVG
) -> bytes:
    """Eligible, entitled and redeemed per group of one dimension, side by side.
    Raises InvalidInput for a dimension the report does not have."""
    chart_format = _format(chart_format)
    breakdown = _breakdown(coverage, dimension)
    from matplotlib.figure import Figure

    groups = breakdown.groups
    figure = Figure(figsize=(max(6.5, 0.9 * len(groups) + 3), 4.5), dpi=100)
    axes = figure.subplots()
    width = 0.27
    highest = 1
    for offset, measure in enumerate(CHART_MEASURES):
        column = breakdown.measures[measure]
        heights = [cell.count or 0 for cell in column]
        highest = max([highest, *heights])
        positions = [index + (offset - 1) * width for index in range(len(groups))]
        bars = axes.bar(
            positions,
            heights,
            width,
            label=MEASURE_LABELS[measure],
            color=COLOURS[measure],
            edgecolor="#333333",
            linewidth=0.4,
        )
        for bar, cell in zip(bars, column, strict=True):
            if cell.count is None:
                bar.set_hatch("//")
                bar.set_facecolor("white")
                axes.annotate(
                    cell.shown,
                    (bar.get_x() + bar.get_width() / 2, 0),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    tilted = sum(len(label) for label in groups) > 50
    axes.set_xticks(
        range(len(groups)),
        list(groups),
        rotation=30 if tilted else 0,
        ha="right" if tilted else "center",
    )
    axes.set_ylim(0, highest * 1.15)
    axes.set_title(
        f"{coverage.programme} {coverage.period}: coverage by "
        f"{DIMENSION_LABELS[dimension].lower()}",
        fontsize=11,
    )
    axes.set_xlabel(DIMENSION_LABELS[dimension])
    axes.set_ylabel("People or households")
    axes.spines[["top", "right"]].set_visible(False)
    if groups:
        axes.legend(frameon=False, fontsize=8)
    else:
        axes.text(0.5, 0.5, "no one to count", ha="center", va="center", transform=axes.transAxes)
    return _save(figure, chart_format)


def equity_chart(
    coverage: PeriodCoverage, dimension: str, chart_format: ChartFormat | str = ChartFormat.SVG
) -> bytes:
    """Per group, the share of the benefit and the share of the eligible population, each
    with its confidence interval; flagged groups are named in red."""
    chart_format = _format(chart_format)
    audit = _audit(coverage, dimension)
    from matplotlib.figure import Figure

    gaps = audit.gaps
    figure = Figure(figsize=(max(6.5, 0.9 * len(gaps) + 3), 4.5), dpi=100)
    axes = figure.subplots()
    for offset, (label, colour, share, interval) in enumerate(
        (
            ("Share of eligible", COLOURS["eligible"], "eligible_share", "eligible_interval"),
            ("Share of benefit", COLOURS["entitled"], "benefit_share", "benefit_interval"),
        )
    ):
        xs, ys, lows, highs = [], [], [], []
        for index, gap in enumerate(gaps):
            value = getattr(gap, share)
            bounds = getattr(gap, interval)
            if value is None or bounds is None:
                continue
            xs.append(index + (offset - 0.5) * 0.25)
            ys.append(value)
            lows.append(value - bounds.low)
            highs.append(bounds.high - value)
        axes.errorbar(xs, ys, yerr=[lows, highs], fmt="o", color=colour, capsize=3, label=label)
    labels = [
        f"{gap.group} (<10)" if gap.status is GapStatus.WITHHELD else gap.group for gap in gaps
    ]
    axes.set_xticks(range(len(gaps)), labels)
    for tick, gap in zip(axes.get_xticklabels(), gaps, strict=True):
        if gap.status is GapStatus.FLAGGED:
            tick.set_color("#b00020")
            tick.set_fontweight("bold")
    axes.set_ylim(0, 1)
    axes.set_ylabel("Share")
    axes.set_xlabel(DIMENSION_LABELS[dimension])
    axes.set_title(
        f"{coverage.programme} {coverage.period}: benefit share against eligible share",
        fontsize=11,
    )
    axes.spines[["top", "right"]].set_visible(False)
    if gaps:
        axes.legend(frameon=False, fontsize=8)
    return _save(figure, chart_format)


def _breakdown(coverage: PeriodCoverage, dimension: str) -> Breakdown:
    for breakdown in coverage.breakdowns:
        if breakdown.dimension == dimension:
            return breakdown
    raise InvalidInput(
        f"no breakdown by {dimension[:40]!r} in this report; it has "
        + ", ".join(b.dimension for b in coverage.breakdowns),
        errors=[{"field": "dimension", "reason": "not in this report"}],
    )


def _audit(coverage: PeriodCoverage, dimension: str) -> EquityAudit:
    for audit in coverage.equity:
        if audit.dimension == dimension:
            return audit
    _breakdown(coverage, dimension)  # raises with the list
    raise AssertionError("unreachable")  # pragma: no cover
