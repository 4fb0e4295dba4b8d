"""Bar charts of a simulation's breakdowns, as SVG or PNG bytes (matplotlib, no display).

The chart shows what its viewer may see: a suppressed cell ("<10") is drawn as an empty bar
labelled "<10", never with its true height.
"""

from __future__ import annotations

import io
from enum import StrEnum

from fairshare.eligibility.model import BreakdownCell, Simulation, Target
from fairshare.errors import InvalidInput

TITLES = {
    "region": ("Eligible by region", "Region"),
    "age_band": ("Eligible by age band", "Age band in years"),
    "sex": ("Eligible by sex", "Sex"),
    "household_size": ("Eligible by household size", "People in the household"),
}


class ChartFormat(StrEnum):
    SVG = "svg"
    PNG = "png"


MEDIA_TYPES = {ChartFormat.SVG: "image/svg+xml", ChartFormat.PNG: "image/png"}


def breakdown_chart(
    simulation: Simulation, breakdown: str, chart_format: ChartFormat | str = ChartFormat.SVG
) -> bytes:
    """One breakdown of a simulation as a bar chart. Raises InvalidInput for unknown names."""
    if breakdown not in TITLES:
        raise InvalidInput(
            f"no breakdown called {breakdown[:40]!r}; choose one of {', '.join(TITLES)}",
            errors=[{"field": "breakdown", "reason": "unknown breakdown"}],
        )
    try:
        chart_format = ChartFormat(chart_format)
    except ValueError:
        raise InvalidInput("charts are drawn as svg or png") from None
    title, axis = TITLES[breakdown]
    if simulation.target is Target.HOUSEHOLD and breakdown in ("age_band", "sex"):
        axis = f"{axis} of the household head"
    return bar_chart(
        simulation.breakdowns.get(breakdown, ()),
        title=f"{title} — {simulation.programme} ({simulation.eligible:,} eligible, "
        f"{simulation.reference_date.isoformat()})",
        x_label=axis,
        y_label="Eligible people" if simulation.target is Target.PERSON else "Eligible households",
        chart_format=chart_format,
    )


def bar_chart(
    cells: tuple[BreakdownCell, ...],
    *,
    title: str,
    x_label: str,
    y_label: str = "Eligible",
    chart_format: ChartFormat = ChartFormat.SVG,
) -> bytes:
    """Bars with their counts written above them; suppressed cells are empty and say so."""
    # Imported here: matplotlib takes most of a second to load, and the API and the CLI
    # should not wait for it unless they draw.
    import matplotlib
    from matplotlib.figure import Figure

    # A Figure of its own, not pyplot's global state (the API draws from several threads),
    # so no display backend is ever involved.
    figure = Figure(figsize=(max(6.0, 0.7 * len(cells) + 2.5), 4.5), dpi=100)
    axes = figure.subplots()
    labels = [cell.label for cell in cells]
    heights = [cell.count or 0 for cell in cells]
    bars = axes.bar(range(len(cells)), heights, color="#2f6f8f", edgecolor="#1d4557")
    for bar, cell in zip(bars, cells, strict=True):
        if cell.count is None:
            bar.set_hatch("//")
            bar.set_facecolor("white")
        axes.annotate(
            cell.shown,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 2),
            textcoords="offset points",
        )
    # Long labels side by side overlap; tilted they stay readable.
    tilted = sum(len(label) for label in labels) > 60
    axes.set_xticks(
        range(len(cells)), labels, rotation=30 if tilted else 0, ha="right" if tilted else "center"
    )
    axes.set_title(title, fontsize=11)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_ylim(0, max([*heights, 1]) * 1.15)
    axes.spines[["top", "right"]].set_visible(False)
    if not cells:
        axes.text(0.5, 0.5, "nobody eligible", ha="center", va="center", transform=axes.transAxes)
    figure.tight_layout()
    buffer = io.BytesIO()
    # Text stays text in SVG: searchable, translatable, read out by screen readers.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(
            buffer, format=ChartFormat(chart_format).value, metadata=_metadata(chart_format)
        )
    return buffer.getvalue()


def _metadata(chart_format: ChartFormat | str) -> dict[str, str | None]:
    # Without a fixed date, the same simulation would give different SVG bytes every time.
    if ChartFormat(chart_format) is ChartFormat.SVG:
        return {"Date": None, "Creator": "fairshare"}
    return {"Software": "fairshare"}
