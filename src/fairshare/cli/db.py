"""`fairshare db`: schema migrations with Alembic."""

from __future__ import annotations

import typer

from fairshare import schema
from fairshare.cli.console import console, errors, services

app = typer.Typer(
    help="Create and upgrade the database schema (Alembic migrations).", no_args_is_help=True
)


@app.command()
def upgrade(
    revision: str = typer.Argument("heads", help="Target revision (default: the newest)"),
) -> None:
    """Apply migrations up to REVISION (default: the newest). Safe to run again."""
    engine = services().engine
    schema.upgrade(engine, revision)
    console.print(f"database at revision [bold]{schema.current_revision(engine)}[/]")


@app.command()
def check() -> None:
    """Exit 0 if the database is at the newest revision and matches the models, 1 otherwise."""
    engine = services().engine
    current, head = schema.current_revision(engine), schema.head_revision()
    if current != head:
        errors.print(
            f"database is at revision {current}, code expects {head}: run `fairshare db upgrade`"
        )
        raise typer.Exit(1)
    diffs = schema.differences(engine)
    if diffs:
        errors.print("the schema differs from the models:")
        for diff in diffs:
            errors.print(f"  {diff}")
        raise typer.Exit(1)
    console.print(f"database is up to date (revision {current})")


@app.command()
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (`base` empties the database)."""
    engine = services().engine
    schema.downgrade(engine, revision)
    console.print(f"database at revision {schema.current_revision(engine)}")
