"""Shared CLI plumbing: the Rich console, the operator identity, errors as exit codes."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fairshare.bootstrap import Services, bootstrap
from fairshare.errors import FairshareError, InvalidInput
from fairshare.identity.model import Actor, Purpose, Role, as_actor

# Outside a terminal (CI logs, pipes) Rich would wrap at 80 columns and cut the tables.
_WIDTH = None if sys.stdout.isatty() else 120
console = Console(width=_WIDTH)
errors = Console(stderr=True, width=_WIDTH)


def services() -> Services:
    return bootstrap()


def operator(purpose: Purpose, role: Role = Role.ADMINISTRATOR) -> Actor:
    """The person at the terminal, as named in the access log."""
    name = os.environ.get("FAIRSHARE_ACTOR") or getpass.getuser()
    return as_actor(f"cli:{name}", role, purpose)


@contextmanager
def reported() -> Iterator[None]:
    """Turn domain errors into a clear message and the error's exit code."""
    try:
        yield
    except FairshareError as error:
        # Escaped: a message may hold brackets ("pip install 'fairshare[spark]'").
        errors.print(f"[bold red]error:[/] {escape(error.message)}", highlight=False)
        if isinstance(error, InvalidInput):
            for item in error.errors[:20]:
                where = ", ".join(f"{k} {v}" for k, v in item.items() if k != "reason")
                errors.print(f"  - {where}: {item.get('reason', '')}", highlight=False)
            if len(error.errors) > 20:
                errors.print(f"  … and {len(error.errors) - 20} more", highlight=False)
        raise typer.Exit(error.exit_code) from None


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
