"""The deduplication step of `fairshare demo`: find, auto-merge, queue, evaluate."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import TaskID

from fairshare.bootstrap import Services
from fairshare.cli.console import progress_bar
from fairshare.cli.dedup import print_evaluation
from fairshare.dedup.review import Review
from fairshare.dedup.services import Deduplication, configured_thresholds
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.registry.importing import read_table


def run_dedup(services: Services, console: Console, truth_path: Path) -> None:
    """Run linkage once, merge the sure clusters, and score the run against the planted truth.

    Safe to re-run: an existing run is reused and merge_linked skips people already merged.
    """
    reviewer = Actor("caseworker", Role.CASEWORKER, Purpose.DUPLICATE_REVIEW)
    deduplication = Deduplication(services.uow())
    summary = deduplication.latest_run()
    if summary is None:
        with progress_bar() as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"   {stage}", total=total)
                bar.update(tasks[stage], completed=done, total=total)

            summary = deduplication.run(reviewer, configured_thresholds(), progress=progress)
    console.print(
        f"   run {summary.id[:8]}: {summary.pairs_linked:,} pairs linked automatically, "
        f"{summary.pairs_review:,} left for a caseworker's review, "
        f"{summary.clusters:,} clusters",
        highlight=False,
    )
    report = Review(services.uow(), services.cipher).merge_linked(reviewer, summary.id)
    console.print(
        f"   merged {len(report.merges):,} sure duplicates into their earliest record "
        "(both records kept; `fairshare dedup unmerge` undoes any of them)",
        highlight=False,
    )
    if truth_path.exists():
        evaluation = deduplication.evaluate(reviewer, read_table(truth_path), summary.id)
        console.print("   against the synthetic truth file:")
        print_evaluation(evaluation)
