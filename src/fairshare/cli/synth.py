"""`fairshare synth`: generate a synthetic population with planted duplicates."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from fairshare.synth.generate import FORMATS, MAX_DUPLICATE_RATE, MAX_PEOPLE, generate, write

app = typer.Typer(
    help="Synthetic populations (households, people and planted duplicates) for the demo, "
    "tests and benchmarks. Every person is invented.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


@app.callback()
def synth() -> None:
    """Synthetic populations for the demo, tests and benchmarks."""


def _refuse(message: str) -> None:
    errors.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command("generate")
def generate_command(
    people: int = typer.Option(20_000, "--people", help="Number of registration records."),
    seed: int = typer.Option(42, "--seed", help="Random seed; the same seed gives the same data."),
    duplicate_rate: float = typer.Option(
        0.03, "--duplicate-rate", help="Share of records that register someone a second time."
    ),
    out: Path = typer.Option(Path("var/synth"), "--out", help="Directory to write into."),
    fmt: str = typer.Option("parquet", "--format", help="Output format: parquet or csv."),
) -> None:
    """Generate people.<format> (the bulk-import file) and truth.<format> (who is who)."""
    if not 1 <= people <= MAX_PEOPLE:
        _refuse(f"--people must be between 1 and {MAX_PEOPLE:,}; got {people:,}")
    if not 0.0 <= duplicate_rate <= MAX_DUPLICATE_RATE:
        _refuse(
            f"--duplicate-rate must be between 0 and {MAX_DUPLICATE_RATE}; got {duplicate_rate}"
        )
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        _refuse(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")

    started = time.perf_counter()
    with console.status(f"Generating {people:,} people (seed {seed})…"):
        population = generate(people=people, seed=seed, duplicate_rate=duplicate_rate)
    generated = time.perf_counter() - started
    with console.status(f"Writing {fmt} files to {escape(str(out))}…"):
        records_path, truth_path = write(population, out, fmt)
    total = time.perf_counter() - started

    console.print(
        f"[green]Generated[/green] {population.people:,} people in "
        f"{population.households:,} households, {population.duplicates:,} planted duplicates "
        f"({generated:.1f} s to generate, {total:.1f} s in all).",
        soft_wrap=True,
    )
    console.print(f"Records: {escape(str(records_path))}", soft_wrap=True)
    console.print(f"Truth:   {escape(str(truth_path))}", soft_wrap=True)
