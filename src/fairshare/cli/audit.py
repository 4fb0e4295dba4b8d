"""`fairshare audit`: verify the access-log chain, report accesses to a person."""

from __future__ import annotations

import typer
from rich.table import Table

from fairshare.audit import services as audit_services
from fairshare.cli.console import console, errors, operator, progress_bar, reported, services
from fairshare.identity.model import Purpose, Role

app = typer.Typer(help="The access log: verification and reports.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Walk the hash chain; exit 1 naming the first entry changed, removed or reordered."""
    with progress_bar() as bar:
        task = bar.add_task("verifying access log", total=None)
        result = audit_services.verify(
            services().uow(), lambda done: bar.update(task, completed=done)
        )
        bar.update(task, completed=result.entries_checked, total=result.entries_checked)
    if result.ok:
        console.print(f"[green]{result.describe()}[/]")
        return
    errors.print(f"[bold red]{result.describe()}[/]")
    raise typer.Exit(1)


@app.command()
def report(person_id: str) -> None:
    """Who read or changed a person's record, when and for what purpose."""
    with reported():
        lines = services().registry.access_report(operator(Purpose.AUDIT, Role.AUDITOR), person_id)
    table = Table("when (UTC)", "who", "role", "purpose", "action", "fields", "outcome")
    for line in lines:
        table.add_row(
            line.at,
            line.actor,
            line.role,
            line.purpose,
            line.action,
            ", ".join(line.fields),
            line.outcome,
        )
    console.print(table)
