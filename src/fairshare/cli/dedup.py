"""`fairshare dedup`: find people registered twice, export the results, evaluate them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.progress import TaskID
from rich.table import Table

from fairshare.cli.console import console, operator, progress_bar, reported, services
from fairshare.dedup.check import as_date
from fairshare.dedup.model import Evaluation, RunSummary, Scores, Thresholds
from fairshare.dedup.registration import LikelyMatch
from fairshare.dedup.review import Merge, Review
from fairshare.dedup.services import (
    Deduplication,
    configured_linkage_options,
    configured_thresholds,
)
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.registry.importing import read_table

app = typer.Typer(
    help=(
        "Deduplication: find people registered twice (Splink), review and merge them, "
        "export and evaluate the results."
    ),
    no_args_is_help=True,
)


def _deduplication() -> Deduplication:
    return Deduplication(services().uow())


@app.command()
def run(
    upper: float | None = typer.Option(
        None, help="Match probability at or above which pairs are linked automatically"
    ),
    lower: float | None = typer.Option(
        None, help="Match probability at or above which pairs go to review"
    ),
    backend: str | None = typer.Option(
        None,
        help="Where the linkage runs: duckdb (this process) or spark "
        "(needs `pip install 'fairshare[spark]'` and Java); default FAIRSHARE_DEDUP_BACKEND",
    ),
) -> None:
    """Score candidate pairs across the whole registry and cluster the sure ones.

    The registry is read once (and the read logged); people's records are never changed.
    Thresholds default to FAIRSHARE_DEDUP_UPPER / FAIRSHARE_DEDUP_LOWER, else 0.99 / 0.8.
    """
    with reported():
        try:
            options = configured_linkage_options(backend)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        if options.backend == "spark":
            from fairshare.dedup.spark import check_available

            check_available()  # before the registry is read: say at once what is missing
        configured = configured_thresholds()
        thresholds = Thresholds(
            upper=configured.upper if upper is None else upper,
            lower=configured.lower if lower is None else lower,
        )
        with progress_bar() as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            summary = _deduplication().run(
                operator(Purpose.DUPLICATE_REVIEW, Role.CASEWORKER),
                thresholds,
                options,
                progress=progress,
            )
    _print_summary(summary)


def _print_summary(summary: RunSummary) -> None:
    table = Table("run", summary.id, show_header=True)
    table.add_row("records compared", f"{summary.records:,}")
    table.add_row(f"pairs linked (≥ {summary.thresholds.upper:g})", f"{summary.pairs_linked:,}")
    table.add_row(f"pairs to review (≥ {summary.thresholds.lower:g})", f"{summary.pairs_review:,}")
    table.add_row("clusters of two or more", f"{summary.clusters:,}")
    seconds = sum(summary.seconds.values())
    table.add_row("linkage time", f"{seconds:,.1f} s")
    console.print(table)
    for note in summary.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)


@app.command()
def export(
    pairs: Path | None = typer.Option(None, help="Write the scored pairs here (.csv or .parquet)"),
    clusters: Path | None = typer.Option(
        None, help="Write every person's cluster here (.csv or .parquet)"
    ),
    run_id: str | None = typer.Option(None, "--run", help="Run id (default: the latest run)"),
) -> None:
    """Export a run's scored pairs and clusters; people are named by record_ref where set."""
    with reported():
        report = _deduplication().export(
            operator(Purpose.DUPLICATE_REVIEW, Role.CASEWORKER),
            pairs_path=pairs,
            clusters_path=clusters,
            run_id=run_id,
        )
    if report.pairs is not None:
        console.print(f"wrote {report.pairs:,} pairs to {pairs}", highlight=False)
    if report.clusters is not None:
        console.print(f"wrote {report.clusters:,} people's clusters to {clusters}", highlight=False)


@app.command()
def evaluate(
    truth: Path = typer.Argument(..., help="CSV or Parquet with columns record_ref, person_key"),
    run_id: str | None = typer.Option(None, "--run", help="Run id (default: the latest run)"),
) -> None:
    """Precision, recall and F1 of a run's pairs and clusters against a truth file."""
    with reported():
        table = read_table(truth)
        result = _deduplication().evaluate(
            operator(Purpose.DUPLICATE_REVIEW, Role.CASEWORKER), table, run_id
        )
    print_evaluation(result)


def print_evaluation(result: Evaluation) -> None:
    table = Table("measure", "precision", "recall", "F1", "counts")
    rows: list[tuple[str, Scores]] = [
        ("pairs linked", result.pairs),
    ]
    with_review = result.extra.get("pairs_with_review")
    if isinstance(with_review, Scores):
        rows.append(("pairs linked or in review", with_review))
    rows += [
        ("clusters (pairs within clusters)", result.clusters),
        ("clusters (B-cubed)", result.clusters_bcubed),
    ]
    for name, scores in rows:
        counts = (
            f"{scores.true_positives:,} of {scores.predicted:,} predicted, {scores.actual:,} true"
            if scores.true_positives is not None
            and scores.predicted is not None
            and scores.actual is not None
            else ""
        )
        table.add_row(
            name, f"{scores.precision:.4f}", f"{scores.recall:.4f}", f"{scores.f1:.4f}", counts
        )
    console.print(table)
    console.print(
        f"{result.records:,} records evaluated (run {result.extra.get('run_id', '?')})"
        + (
            f"; {result.unmatched_records:,} records of the run are not in the truth file"
            if result.unmatched_records
            else ""
        ),
        highlight=False,
    )


def _review() -> Review:
    runtime = services()
    return Review(runtime.uow(), runtime.cipher)


def _reviewer() -> Actor:
    return operator(Purpose.DUPLICATE_REVIEW, Role.CASEWORKER)


@app.command()
def queue(
    run_id: str | None = typer.Option(None, "--run", help="Run id (default: the latest run)"),
    limit: int = typer.Option(20, min=1, max=500, help="How many pairs to show"),
) -> None:
    """Pairs waiting for review: both records side by side and the per-field evidence."""
    with reported():
        pairs = _review().queue(_reviewer(), run_id, limit)
    if not pairs:
        console.print("no pairs are waiting for review")
        return
    for pair in pairs:
        table = Table(
            "field",
            pair.person_a.record_ref or pair.person_a.id,
            pair.person_b.record_ref or pair.person_b.id,
            "evidence",
            title=f"pair {pair.id}: match probability {pair.match_probability:.4f}",
        )
        for name in sorted({*pair.person_a.values, *pair.person_b.values}):
            a = pair.person_a.values.get(name)
            b = pair.person_b.values.get(name)
            if a is None and b is None and name not in pair.evidence:
                continue
            item = pair.evidence.get(name)
            evidence = f"{item.get('level')} (weight {item.get('match_weight')})" if item else ""
            table.add_row(name, _shown(a), _shown(b), evidence)
        for name in sorted(set(pair.evidence) - {*pair.person_a.values}):
            item = pair.evidence[name]
            table.add_row(name, "", "", f"{item.get('level')} (weight {item.get('match_weight')})")
        console.print(table)
    console.print(
        "decide with `fairshare dedup decide PAIR_ID --accept|--reject --reason TEXT`",
        highlight=False,
    )


def _shown(value: object) -> str:
    return "" if value is None else str(value)


@app.command()
def decide(
    pair_id: int = typer.Argument(..., help="The pair's id, from `fairshare dedup queue`"),
    accept: bool = typer.Option(
        False, "--accept/--reject", help="Same person (merge) or different people"
    ),
    reason: str = typer.Option(..., help="Why: kept with the decision"),
    survivor: str | None = typer.Option(
        None, help="Person id to keep as the survivor (default: the earlier-registered one)"
    ),
) -> None:
    """Accept a pair (the records are one person: merge them) or reject it, with a reason."""
    with reported():
        result = _review().decide(
            _reviewer(), pair_id, accept=accept, reason=reason, survivor_id=survivor
        )
    console.print(f"pair {result.pair_id} {result.status.value}", highlight=False)
    if result.merge is not None:
        _print_merge(result.merge)


def _print_merge(merge: Merge) -> None:
    console.print(
        f"merge {merge.id}: {merge.merged_id} merged into {merge.survivor_id}; "
        f"{len(merge.moved['decisions'])} decisions and {len(merge.moved['enrolments'])} "
        "enrolments moved",
        highlight=False,
    )


@app.command("merge-linked")
def merge_linked(
    run_id: str | None = typer.Option(None, "--run", help="Run id (default: the latest run)"),
) -> None:
    """Merge every automatically linked cluster of a run into its earliest member."""
    with reported():
        report = _review().merge_linked(_reviewer(), run_id)
    for merge in report.merges:
        _print_merge(merge)
    console.print(
        f"run {report.run_id}: {len(report.merges):,} merges, "
        f"{report.skipped:,} people skipped (already merged)",
        highlight=False,
    )


@app.command()
def unmerge(
    merge_id: str = typer.Argument(..., help="The merge's id"),
    reason: str = typer.Option(..., help="Why the merge is undone"),
) -> None:
    """Undo a merge: both records and their decisions and enrolments are as before it."""
    with reported():
        merge = _review().unmerge(_reviewer(), merge_id, reason)
    console.print(
        f"merge {merge.id} undone: {merge.merged_id} is separate from {merge.survivor_id} again",
        highlight=False,
    )


@app.command()
def check(
    given_names: str | None = typer.Option(None, help="Given names of the person to register"),
    family_names: str | None = typer.Option(None, help="Family names"),
    date_of_birth: str | None = typer.Option(None, help="Date of birth, YYYY-MM-DD"),
    sex: str | None = typer.Option(None),
    national_id: str | None = typer.Option(None),
    phone: str | None = typer.Option(None),
    region: str | None = typer.Option(None),
    municipality: str | None = typer.Option(None),
    address: str | None = typer.Option(None),
    household_id: str | None = typer.Option(
        None, help="The household the person joins (its address is compared)"
    ),
) -> None:
    """Before registering someone: list registered people who look like them.

    Scored with the model of the latest `dedup run` (the defaults before the first run).
    Each likely match shown is written to that person's access log. Exits 0 either way.
    """
    with reported():
        if date_of_birth is not None and as_date(date_of_birth) is None:
            raise InvalidInput(f"date of birth {date_of_birth!r}: write it as YYYY-MM-DD")
        result = services().duplicate_check.check(
            operator(Purpose.REGISTRATION, Role.CASEWORKER),
            {
                "given_names": given_names,
                "family_names": family_names,
                "date_of_birth": date_of_birth,
                "sex": sex,
                "national_id": national_id,
                "phone": phone,
            },
            {"region": region, "municipality": municipality, "address": address},
            household_id=household_id,
        )
    print_matches(result.matches)
    model = f"run {result.run_id}" if result.run_id else "untrained defaults"
    console.print(
        f"{len(result.matches)} likely match(es) at or above {result.threshold:g} among "
        f"{result.candidates} candidates ({model})",
        highlight=False,
    )
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)


def print_matches(matches: Sequence[LikelyMatch], row: int | None = None) -> None:
    """A table of likely matches with the fields that counted most."""
    if not matches:
        return
    table = Table(
        *(["row"] if row is not None else []),
        "probability",
        "person",
        "given names",
        "family names",
        "born",
        "municipality",
        "evidence",
    )
    for match in matches:
        strongest = sorted(match.evidence, key=lambda e: -abs(e.match_weight))[:3]
        table.add_row(
            *([str(row)] if row is not None else []),
            f"{match.match_probability:.3f}",
            match.person_id,
            match.given_names,
            match.family_names,
            match.date_of_birth.isoformat() if match.date_of_birth else "",
            match.municipality or match.region or "",
            "; ".join(f"{e.field}: {e.level}" for e in strongest),
        )
    console.print(table)
