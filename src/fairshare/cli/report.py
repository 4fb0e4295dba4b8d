"""`fairshare report`: the coverage and equity report as one HTML file with its charts."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from fairshare.bootstrap import Services
from fairshare.cli.console import console, operator, reported, services
from fairshare.errors import InvalidInput
from fairshare.identity.model import Purpose, Role
from fairshare.reports.html import render_report
from fairshare.reports.model import CoverageReport, GapStatus


def write_report(
    bound: Services,
    out: Path,
    *,
    period: str | None = None,
    disability: bool = False,
    purpose: Purpose = Purpose.AUDIT,
) -> tuple[Path, CoverageReport]:
    """Build the report as the terminal's operator (an auditor by default) and write it to
    `out` (a directory, or a file ending in .html). Returns the file and the report."""
    role = Role.AUDITOR if purpose is Purpose.AUDIT else Role.PROGRAMME_OFFICER
    actor = operator(purpose, role)
    report = bound.reports.coverage(actor, period, disability=disability)
    path = out if out.suffix == ".html" else out / _file_name(period)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(report), encoding="utf-8")
    return path, report


def _file_name(period: str | None) -> str:
    return f"fairshare-report-{period or 'all-periods'}.html"


def print_summary(report: CoverageReport, path: Path, out: Console = console) -> None:
    flagged = report.flagged
    for programme in report.programmes:
        latest = programme.latest
        if latest is None:
            out.print(f"   {programme.code}: no cycle posted yet")
            continue
        totals = ", ".join(f"{name} {cell.shown}" for name, cell in latest.totals.items())
        out.print(f"   {programme.code} {latest.period}: {totals}")
    out.print(
        f"   equity gaps flagged: {len(flagged)}"
        + (
            " ("
            + "; ".join(
                f"{code} {dimension} {gap.group}" for code, _, dimension, gap in flagged[:5]
            )
            + ")"
            if flagged
            else ""
        )
    )
    possible = sum(
        1
        for programme in report.programmes
        for coverage in programme.periods
        for audit in coverage.equity
        for gap in audit.gaps
        if gap.status is GapStatus.POSSIBLE
    )
    if possible:
        out.print(f"   possible gaps (within chance): {possible}")
    out.print(f"   report written to [bold]{path}[/]")


def report(
    out: Path = typer.Option(
        Path("var/reports"), "--out", help="Directory (or .html file) to write the report to"
    ),
    period: str | None = typer.Option(
        None, help="One month, like 2026-11 (default: every period with a cycle)"
    ),
    disability: bool = typer.Option(
        False,
        "--disability",
        help="Add the disability breakdown (health data, aggregated; logged per person)",
    ),
    purpose: str = typer.Option(
        Purpose.AUDIT.value,
        help="audit (as an auditor) or programme_design (as a programme officer)",
    ),
) -> None:
    """Write the coverage and equity report as one HTML file (charts embedded) and say where."""
    with reported():
        if purpose not in (Purpose.AUDIT.value, Purpose.PROGRAMME_DESIGN.value):
            raise InvalidInput(
                f"--purpose {purpose[:40]!r}: the report is written for audit or programme_design"
            )
        chosen = Purpose(purpose)
        path, built = write_report(
            services(), out, period=period, disability=disability, purpose=chosen
        )
        print_summary(built, path)
