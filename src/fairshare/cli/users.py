"""`fairshare users`: accounts and API tokens."""

from __future__ import annotations

from datetime import timedelta

import typer

from fairshare.cli.console import console, operator, reported, services
from fairshare.errors import NotFound
from fairshare.identity import services as identity
from fairshare.identity.model import Purpose, Role

app = typer.Typer(help="User accounts, roles and API tokens.", no_args_is_help=True)


@app.command()
def create(
    username: str,
    role: Role = typer.Option(...),
    display_name: str = typer.Option(""),
    person_id: str | None = typer.Option(None, help="For citizens: their person id"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a user with a role (password asked for, argon2-hashed)."""
    with reported():
        user = identity.create_user(
            services().uow(),
            username,
            password,
            role,
            display_name,
            person_id,
            created_by=operator(Purpose.ADMINISTRATION),
        )
    console.print(f"created {user.role.value} [bold]{user.username}[/]")


@app.command()
def token(
    username: str,
    hours: int = typer.Option(12, min=1, max=24 * 90),
    label: str = typer.Option("cli"),
) -> None:
    """Issue an API token for a user (printed once; only its hash is stored)."""
    with reported():
        svc = services()
        user = identity.find_user(svc.uow(), username)
        if user is None:
            raise NotFound(f"no user {username!r}; create it with `fairshare users create`")
        console.print(identity.issue_token(svc.uow(), user, timedelta(hours=hours), label))
