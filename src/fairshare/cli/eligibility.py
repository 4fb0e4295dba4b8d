"""`fairshare programme|decision|appeal`: design, simulate, publish and run programmes; explain
decisions; decide appeals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from fairshare.assets import to_minor_units
from fairshare.bootstrap import Services
from fairshare.cli.console import console, operator, progress_bar, reported, services
from fairshare.eligibility.charts import TITLES, ChartFormat, breakdown_chart
from fairshare.eligibility.model import (
    AppealOutcome,
    AppealStatus,
    CyclePeriod,
    DeclaredField,
    ProgrammeSpec,
    Simulation,
    Target,
)
from fairshare.eligibility.services import Eligibility
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, Role

programme_app = typer.Typer(
    help="Programmes: define, simulate, publish and run eligibility rules.", no_args_is_help=True
)
decision_app = typer.Typer(help="Eligibility decisions, explained.", no_args_is_help=True)
appeal_app = typer.Typer(help="Appeals against decisions.", no_args_is_help=True)


def eligibility(bound: Services | None = None) -> Eligibility:
    return (bound or services()).eligibility


def officer() -> Actor:
    return operator(Purpose.PROGRAMME_DESIGN, Role.PROGRAMME_OFFICER)


def _declared(pairs: list[str]) -> tuple[DeclaredField, ...]:
    declared = []
    for pair in pairs:
        name, sep, purpose = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--field takes NAME=PURPOSE, got {pair[:60]!r}")
        declared.append(DeclaredField(name.strip(), purpose.strip()))
    return tuple(declared)


def _rule(rule: str | None, rule_file: Path | None) -> str | None:
    if rule is not None and rule_file is not None:
        raise InvalidInput("give the rule with --rule or --rule-file, not both")
    if rule_file is not None:
        return rule_file.read_text(encoding="utf-8")
    return rule


def simulation_table(simulation: Simulation) -> Table:
    """Counts, cost and every breakdown of a simulation, as one table."""
    table = Table(
        "breakdown",
        "group",
        "eligible",
        title=f"{simulation.programme}: {simulation.eligible:,} of {simulation.population:,} "
        f"eligible, {simulation.cost_text}",
    )
    for name, cells in simulation.breakdowns.items():
        for cell in cells:
            table.add_row(name, cell.label, cell.shown)
    return table


def write_charts(
    simulation: Simulation,
    directory: Path,
    formats: tuple[ChartFormat, ...] = (ChartFormat.SVG, ChartFormat.PNG),
) -> list[Path]:
    """One chart per breakdown and format, named after the programme; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for breakdown in TITLES:
        for chart_format in formats:
            path = directory / f"{simulation.programme}-{breakdown}.{chart_format.value}"
            path.write_bytes(breakdown_chart(simulation, breakdown, chart_format))
            written.append(path)
    return written


@programme_app.command("create")
def create(
    code: str = typer.Argument(..., help="lowercase_code, e.g. old_age_pension"),
    name: str = typer.Option(..., help="The programme's name"),
    target: Target = typer.Option(..., help="Who it decides about"),
    asset: str = typer.Option(..., help="local_currency, fuel, food_basket or medicine_pack"),
    amount: str = typer.Option(..., help="Per cycle, in the asset's unit, e.g. 130.00"),
    rule: str | None = typer.Option(None, help='The CEL rule, e.g. "age >= 65"'),
    rule_file: Path | None = typer.Option(None, help="Read the rule from a file"),
    field: list[str] = typer.Option([], help="Declared field: NAME=PURPOSE (repeat)"),
    depends_on: list[str] = typer.Option([], help="A programme the rule may name (repeat)"),
    period: CyclePeriod = typer.Option(CyclePeriod.MONTHLY),
    description: str = typer.Option(""),
) -> None:
    """Save a programme as a draft; the rule is checked now (exit 2 with the position)."""
    with reported():
        spec = ProgrammeSpec(
            code=code,
            name=name,
            description=description,
            target=target.value,
            asset=asset,
            amount=to_minor_units(asset, amount),
            period=period.value,
            declared=_declared(field),
            rule=_rule(rule, rule_file) or "",
            depends_on=tuple(depends_on),
        )
        programme = eligibility().create_programme(officer(), spec)
    console.print(f"saved draft [bold]{programme.code}[/]: {programme.benefit}")


@programme_app.command("update")
def update_draft(
    code: str,
    rule: str | None = typer.Option(None, help="A new rule"),
    rule_file: Path | None = typer.Option(None, help="Read the new rule from a file"),
    amount: str | None = typer.Option(None, help="A new amount per cycle"),
    name: str | None = typer.Option(None),
) -> None:
    """Change the draft; the published version is untouched until `publish`."""
    with reported():
        service = eligibility()
        changes: dict[str, object] = {}
        new_rule = _rule(rule, rule_file)
        if new_rule is not None:
            changes["rule"] = new_rule
        if amount is not None:
            asset = service.get_programme(code).programme.asset
            changes["amount"] = to_minor_units(asset, amount)
        if name is not None:
            changes["name"] = name
        programme = service.update_draft(officer(), code, **changes)
    console.print(f"updated draft [bold]{programme.code}[/]: {programme.benefit}")


@programme_app.command("list")
def list_programmes() -> None:
    """Every programme, its benefit, its published version and its last run."""
    table = Table("code", "name", "target", "benefit", "published", "last run", "eligible")
    for overview in eligibility().list_programmes():
        programme, run = overview.programme, overview.last_run
        table.add_row(
            programme.code,
            programme.name,
            programme.target.value,
            programme.benefit,
            f"v{programme.published_version}" if programme.published_version else "draft",
            run.reference_date.isoformat() if run else "-",
            f"{run.eligible:,}" if run else "-",
        )
    console.print(table)


@programme_app.command("show")
def show(code: str) -> None:
    """The programme's draft, its declared fields with their purposes, and its versions."""
    with reported():
        overview = eligibility().get_programme(code)
    programme = overview.programme
    console.print(f"[bold]{programme.name}[/] ({programme.code}), for each {programme.target}")
    console.print(f"benefit: {programme.benefit}")
    console.print(f"draft rule: {programme.rule}")
    fields = Table("declared field", "why the programme needs it")
    for item in programme.declared:
        fields.add_row(item.name, item.purpose)
    console.print(fields)
    versions = Table("version", "published", "by", "content hash", "rule")
    for version in overview.versions:
        versions.add_row(
            str(version.version),
            version.published_at.isoformat(timespec="seconds"),
            version.published_by,
            version.content_hash[:12],
            version.source,
        )
    console.print(versions)


@programme_app.command("simulate")
def simulate(
    code: str,
    rule: str | None = typer.Option(None, help="Try this rule instead of the draft"),
    rule_file: Path | None = typer.Option(None, help="Try the rule in this file"),
    on: str | None = typer.Option(None, "--date", help="Reference date, YYYY-MM-DD"),
    charts: Path | None = typer.Option(None, help="Write SVG and PNG charts to this folder"),
) -> None:
    """Dry-run a rule over the registry: counts, cost per cycle, breakdowns, gained/lost."""
    with reported():
        simulation = eligibility().simulate(officer(), code, _rule(rule, rule_file), _date(on))
    console.print(simulation_table(simulation))
    if simulation.compared_with is not None:
        console.print(
            f"against published version {simulation.compared_with}: "
            f"{simulation.gained:,} would gain, {simulation.lost:,} would lose eligibility"
        )
    if charts is not None:
        written = write_charts(simulation, charts)
        console.print(f"wrote {len(written)} charts to {charts}")


@programme_app.command("publish")
def publish(code: str) -> None:
    """Publish the draft as a new, immutable version."""
    with reported():
        version = eligibility().publish(officer(), code)
    console.print(
        f"published [bold]{code}[/] version {version.version} "
        f"(content hash {version.content_hash[:12]})"
    )


@programme_app.command("run")
def run(code: str, on: str | None = typer.Option(None, "--date", help="YYYY-MM-DD")) -> None:
    """Evaluate the published version over the registry and store every decision."""
    with reported(), progress_bar() as bar:
        task = bar.add_task(f"evaluating {code}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = eligibility().run(officer(), code, _date(on), progress)
    console.print(
        f"run {result.id}: {result.eligible:,} of {result.subjects:,} eligible under version "
        f"{result.version}"
    )


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--date takes YYYY-MM-DD, got {text[:20]!r}") from None


@decision_app.command("explain")
def explain(
    person_id: str,
    programme: str | None = typer.Option(None, help="Only this programme"),
    language: str = typer.Option("en", help="en or es"),
    purpose: Purpose = typer.Option(Purpose.CASE_MANAGEMENT),
) -> None:
    """Explain the decisions in force about a person, in plain language (logged)."""
    with reported():
        explanations = eligibility().explain_decision(
            operator(purpose, Role.CASEWORKER), person_id, programme, language
        )
    if not explanations:
        console.print("no decisions about this person yet")
    for explanation in explanations:
        decision = explanation.decision
        console.print(
            f"[bold]{explanation.programme_name}[/] (decision {decision.id}, "
            f"version {decision.version}, {decision.decided_at.date().isoformat()})"
        )
        for line in explanation.lines:
            console.print(f"  {line}", highlight=False)


@appeal_app.command("list")
def list_appeals(status: AppealStatus = typer.Option(AppealStatus.OPEN)) -> None:
    """The appeals queue, overdue first (each appeal read is logged)."""
    with reported():
        queued = eligibility().appeal_queue(
            operator(Purpose.APPEAL_REVIEW, Role.CASEWORKER), status.value
        )
    table = Table("appeal", "programme", "subject", "filed", "due", "status", "reason")
    for item in queued:
        appeal = item.appeal
        due = appeal.due_on.isoformat() + (" [red]OVERDUE[/]" if item.overdue else "")
        table.add_row(
            appeal.id,
            item.programme_name,
            f"{appeal.subject_type} {appeal.subject_id}",
            appeal.filed_at.date().isoformat(),
            due,
            appeal.status.value,
            appeal.reason,
        )
    console.print(table)


@appeal_app.command("file")
def file_appeal(decision_id: str, reason: str = typer.Option(...)) -> None:
    """File an appeal for a person against a decision (a caseworker acting for them)."""
    with reported():
        appeal = eligibility().file_appeal(
            operator(Purpose.APPEAL_REVIEW, Role.CASEWORKER), decision_id, reason
        )
    console.print(f"appeal {appeal.id} filed; due by {appeal.due_on.isoformat()}")


@appeal_app.command("decide")
def decide(
    appeal_id: str,
    outcome: AppealOutcome = typer.Option(..., help="uphold or overturn"),
    reason: str = typer.Option(..., help="Why; the person reads this"),
) -> None:
    """Uphold or overturn a decision on appeal, with a reason."""
    with reported():
        appeal = eligibility().decide_appeal(
            operator(Purpose.APPEAL_REVIEW, Role.CASEWORKER), appeal_id, outcome, reason
        )
    console.print(f"appeal {appeal.id}: {appeal.status.value}")
