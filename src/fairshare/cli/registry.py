"""`fairshare registry`: bulk import, search, show and export people."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import TaskID
from rich.table import Table

from fairshare.cli.console import console, operator, progress_bar, reported, services
from fairshare.cli.dedup import print_matches
from fairshare.dedup.registration import RowMatches
from fairshare.errors import InvalidInput
from fairshare.identity.model import Purpose, Role
from fairshare.registry.importing import ImportRejected, read_table

app = typer.Typer(help="People and households: import, search, show, export.", no_args_is_help=True)


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise InvalidInput(f"--map takes SOURCE=FIELD, got {pair!r}")
        mapping[source] = target
    return mapping


@app.command("import")
def import_file(
    path: Path = typer.Argument(..., help="CSV or Parquet file, one row per person"),
    skip_invalid: bool = typer.Option(False, help="Import valid rows; write rejected ones out"),
    rejected: Path | None = typer.Option(
        None, help="Where rejected rows go (default: next to the file, *.rejected.csv)"
    ),
    map_: list[str] = typer.Option([], "--map", help="Rename a column: SOURCE=FIELD (repeat)"),
    dry_run: bool = typer.Option(False, help="Validate only; write nothing"),
    check_duplicates: bool = typer.Option(
        True, help="List rows that look like people already registered (nothing is held back)"
    ),
) -> None:
    """Validate the whole file, then import it in one transaction (or nothing)."""
    possible: list[RowMatches] = []
    with reported():
        table = read_table(path, _mapping(map_))
        if check_duplicates:
            possible = services().duplicate_check.check_table(
                operator(Purpose.BULK_REGISTRATION), table
            )
        if skip_invalid and rejected is None:
            rejected = path.with_suffix(".rejected.csv")
        with progress_bar() as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            try:
                report = services().importer.import_table(
                    operator(Purpose.BULK_REGISTRATION),
                    table,
                    skip_invalid=skip_invalid,
                    rejected_path=rejected,
                    dry_run=dry_run,
                    progress=progress,
                    source=path.name,
                )
            except ImportRejected as error:
                bar.stop()
                for item in error.row_errors[:50]:
                    console.print(f"  row {item.row}, {item.field}: {item.reason}", highlight=False)
                raise
    verb = "would import" if report.dry_run else "imported"
    console.print(
        f"{verb} {report.people} people in {report.households} households from {report.rows} rows"
    )
    if report.rejected_rows:
        console.print(
            f"[yellow]{report.rejected_rows} rows rejected[/]"
            + (f", written to {report.rejected_path}" if report.rejected_path else "")
        )
    if possible:
        console.print(
            f"[yellow]{len(possible)} rows look like people registered before the import[/] "
            "(check them, or run `fairshare dedup run` to review them with the rest):"
        )
        for found in possible[:50]:
            print_matches(found.matches, row=found.row)


@app.command()
def search(
    name: str | None = typer.Option(None),
    national_id: str | None = typer.Option(None),
    purpose: Purpose = typer.Option(Purpose.CASE_MANAGEMENT),
) -> None:
    """Search people (each result is written to the access log)."""
    with reported():
        results = services().registry.search(
            operator(purpose, Role.CASEWORKER), name=name, national_id=national_id
        )
    table = Table("id", "given names", "family names", "born", "region")
    for r in results:
        table.add_row(r.id, r.given_names, r.family_names, r.date_of_birth.isoformat(), r.region)
    console.print(table)


@app.command()
def show(person_id: str, purpose: Purpose = typer.Option(Purpose.CASE_MANAGEMENT)) -> None:
    """Show one person's record (logged with the purpose given)."""
    with reported():
        person = services().registry.get_person(operator(purpose, Role.CASEWORKER), person_id)
    table = Table("field", "value")
    for name, value in {**person.values, **person.health}.items():
        table.add_row(name, "" if value is None else str(value))
    console.print(table)


@app.command()
def export(person_id: str, out: Path = typer.Option(..., help="JSON file to write")) -> None:
    """Export everything held about a person (a data-subject request made in person)."""
    with reported():
        data = services().registry.export(
            operator(Purpose.DATA_SUBJECT_REQUEST, Role.CASEWORKER), person_id
        )
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    console.print(f"wrote {out}")
