"""A programme's disbursement over time as a PNG bar chart (matplotlib, no display).

PNG because the pages' CSP forbids the style attributes matplotlib writes into SVG. One
panel per asset (a programme that changed its benefit from money to baskets has two), a
bar per cycle period with the amount written above it in the asset's entry unit.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from fairshare.assets import asset_definition


def disbursement_chart(cycles: Iterable[Mapping[str, Any]], title: str) -> bytes:
    """Bars of what each cycle paid, oldest period first; `cycles` as `Cycles.cycles` lists
    them (programme, period, asset, total, ...)."""
    # Imported here: matplotlib takes most of a second to load.
    from matplotlib.figure import Figure

    by_asset: dict[str, dict[str, int]] = {}
    for row in cycles:
        periods = by_asset.setdefault(str(row["asset"]), {})
        periods[str(row["period"])] = periods.get(str(row["period"]), 0) + int(row["total"])
    panels = max(1, len(by_asset))
    widest = max((len(p) for p in by_asset.values()), default=1)
    figure = Figure(figsize=(max(6.0, 0.8 * widest + 2.5), 3.6 * panels + 0.6), dpi=100)
    axes_list = figure.subplots(panels, 1, squeeze=False)[:, 0]
    if not by_asset:
        axes = axes_list[0]
        axes.text(0.5, 0.5, "no cycle yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    for axes, (asset, periods) in zip(axes_list, sorted(by_asset.items()), strict=False):
        definition = asset_definition(asset)
        labels = sorted(periods)
        values = [float(Decimal(periods[p]).scaleb(-definition.scale)) for p in labels]
        bars = axes.bar(range(len(labels)), values, color="#2f6f8f", edgecolor="#1d4557")
        for bar, value in zip(bars, values, strict=True):
            axes.annotate(
                f"{value:,.{definition.scale if definition.scale <= 2 else 0}f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=9,
                xytext=(0, 2),
                textcoords="offset points",
            )
        axes.set_xticks(range(len(labels)), labels)
        axes.set_xlabel("Period")
        axes.set_ylabel(f"Paid ({definition.entry_unit})")
        axes.set_ylim(0, max([*values, 1.0]) * 1.15)
        axes.spines[["top", "right"]].set_visible(False)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": "fairshare"})
    return buffer.getvalue()
