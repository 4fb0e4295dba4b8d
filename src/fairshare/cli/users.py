"""`fairshare users`: accounts and API tokens."""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.table import Table

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


@app.command("list")
def list_accounts() -> None:
    """Every account, its role and whether it is locked or inactive."""
    table = Table("username", "role", "display name", "active", "locked until", "person")
    for status in identity.list_users(services().uow()):
        user = status.user
        table.add_row(
            user.username,
            user.role.value,
            user.display_name,
            "yes" if user.active else "no",
            status.locked_until or "",
            "linked" if user.person_id else "",
        )
    console.print(table)


@app.command()
def unlock(username: str) -> None:
    """Lift a lockout after repeated failed logins."""
    with reported():
        identity.unlock(services().uow(), username)
    console.print(f"unlocked {username}")


@app.command()
def deactivate(username: str) -> None:
    """Stop an account from logging in and revoke its tokens."""
    with reported():
        identity.set_active(services().uow(), username, False)
    console.print(f"deactivated {username}; its tokens are revoked")


@app.command()
def activate(username: str) -> None:
    """Let a deactivated account log in again."""
    with reported():
        identity.set_active(services().uow(), username, True)
    console.print(f"activated {username}")
