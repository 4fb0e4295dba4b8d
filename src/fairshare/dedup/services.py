"""Deduplication use cases: run the batch linkage, export its results, evaluate them.

A run reads the registry in one short transaction, with one access-log entry naming the
fields read; links records in DuckDB outside any database transaction (it takes minutes, and
on SQLite a transaction holds the write lock); then writes the run, its pairs and clusters in
one transaction. A run that fails at any point leaves no run rows behind, and it never changes
a person's record.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Row, func, insert, select

from fairshare.audit import services as audit
from fairshare.audit.model import Tag, as_utc, utc_now
from fairshare.db import UnitOfWork
from fairshare.dedup.linkage import (
    FIELDS_READ,
    INPUT_COLUMNS,
    LinkageOptions,
    Progress,
    link,
)
from fairshare.dedup.model import (
    DEFAULT_LOWER,
    DEFAULT_UPPER,
    EmptyRegistry,
    Evaluation,
    NoRun,
    PairOutcome,
    RunSummary,
    Scores,
    Thresholds,
    evaluate,
    pair_scores,
    review_status_for,
)
from fairshare.dedup.orm import dedup_clusters, dedup_pairs, dedup_runs
from fairshare.errors import InvalidInput
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose
from fairshare.registry.orm import households, people

DEDUPLICATE = frozenset({Purpose.DUPLICATE_REVIEW})
READ_BATCH = 50_000
WRITE_BATCH = 5_000
EXPORT_FORMATS = (".csv", ".parquet")


class DedupSettings(BaseSettings):
    """Per-deployment thresholds: FAIRSHARE_DEDUP_UPPER and FAIRSHARE_DEDUP_LOWER."""

    model_config = SettingsConfigDict(env_prefix="FAIRSHARE_DEDUP_", extra="ignore")

    upper: float = Field(default=DEFAULT_UPPER, gt=0, lt=1)
    lower: float = Field(default=DEFAULT_LOWER, gt=0, lt=1)
    # FAIRSHARE_DEDUP_CHECK_THRESHOLD: the match probability from which the registration
    # check reports a likely duplicate (by default the lower threshold: what would go to
    # review in a batch run).
    check_threshold: float = Field(default=DEFAULT_LOWER, gt=0, lt=1)
    # FAIRSHARE_DEDUP_BACKEND: where the linkage runs (duckdb in this process, or spark).
    # FAIRSHARE_DEDUP_SPARK_MASTER: a Spark cluster's master URL (default: local Spark);
    # FAIRSHARE_DEDUP_SPARK_CHECKPOINT_DIR: storage every executor reaches (cluster only).
    backend: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str | None = None
    spark_checkpoint_dir: str | None = None
    # FAIRSHARE_DEDUP_MEMORY: how much memory the linkage may take ("6GB", "512MB"): DuckDB's
    # limit (it spills beyond it), or the Spark driver's heap (local Spark runs in it).
    memory: str | None = None

    @field_validator("memory")
    @classmethod
    def _memory_size(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\s*\d+\s*[kmgt]i?b?\s*", value.lower()):
            raise ValueError(
                f"FAIRSHARE_DEDUP_MEMORY={value!r} is not a memory size; write it like 6GB or 512MB"
            )
        return value


def configured_linkage_options(backend: str | None = None) -> LinkageOptions:
    """The deployment's linkage backend (environment), `backend` overriding it.

    Raises ValueError for an unknown backend.
    """
    configured = DedupSettings()
    return LinkageOptions(
        backend=backend or configured.backend,
        spark_master=configured.spark_master,
        spark_checkpoint_dir=configured.spark_checkpoint_dir,
        memory_limit=configured.memory.strip() if configured.memory else None,
    )


def configured_thresholds() -> Thresholds:
    """The deployment's thresholds (environment), else the defaults.

    Raises InvalidThresholds when the lower one is above the upper one.
    """
    configured = DedupSettings()
    return Thresholds(upper=configured.upper, lower=configured.lower)


@dataclass(frozen=True)
class ExportReport:
    run_id: str
    pairs: int | None = None
    clusters: int | None = None


class Deduplication:
    """Batch deduplication of the registry, with access logging."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    # ---- running -------------------------------------------------------------------------

    def run(
        self,
        actor: Actor,
        thresholds: Thresholds | None = None,
        options: LinkageOptions | None = None,
        progress: Progress | None = None,
    ) -> RunSummary:
        """Score every candidate pair in the registry, cluster the sure ones, store the run.

        Returns the run's summary. Raises PurposeNotAllowed (logged), EmptyRegistry (no
        people), InvalidThresholds. Anything raised after the registry was read (including
        an interruption) leaves no run behind; the read itself stays logged.
        """
        run_id = str(uuid.uuid4())
        authorize(self.uow, actor, DEDUPLICATE, "registry", run_id, Tag.DEDUP_REGISTRY_READ)
        thresholds = thresholds or configured_thresholds()
        report = progress or (lambda _stage, _done, _total: None)
        started_at = utc_now()

        table = self._read_registry(actor, run_id, report)
        result = link(table, thresholds, options or configured_linkage_options(), report)
        del table  # the registry copy is not needed while the results are written

        pair_rows = result.pairs.num_rows
        cluster_rows = result.clusters.num_rows
        total = pair_rows + cluster_rows
        stage = "write results"
        report(stage, 0, total)
        with self.uow:
            finished_at = utc_now()
            summary = RunSummary(
                id=run_id,
                started_at=started_at,
                finished_at=finished_at,
                started_by=actor.username,
                thresholds=thresholds,
                records=result.records,
                pairs_linked=result.count(PairOutcome.LINKED),
                pairs_review=result.count(PairOutcome.REVIEW),
                clusters=result.cluster_count,
                notes=tuple(result.notes),
                seconds=result.seconds,
            )
            connection = self.uow.connection
            connection.execute(
                insert(dedup_runs).values(
                    id=run_id,
                    started_at=started_at,
                    finished_at=finished_at,
                    started_by=actor.username,
                    upper_threshold=thresholds.upper,
                    lower_threshold=thresholds.lower,
                    records=summary.records,
                    pairs_linked=summary.pairs_linked,
                    pairs_review=summary.pairs_review,
                    clusters=summary.clusters,
                    model=json.dumps(
                        {
                            "splink": result.model,
                            "notes": result.notes,
                            "seconds": result.seconds,
                            "term_frequencies": result.term_frequencies,
                        },
                        ensure_ascii=False,
                    ),
                )
            )
            written = 0
            for batch in _batches(result.pairs, WRITE_BATCH):
                connection.execute(
                    insert(dedup_pairs),
                    [
                        {
                            "run_id": run_id,
                            **row,
                            "review_status": review_status_for(PairOutcome(row["outcome"])),
                        }
                        for row in batch
                    ],
                )
                written += len(batch)
                report(stage, written, total)
            for batch in _batches(result.clusters, WRITE_BATCH):
                connection.execute(
                    insert(dedup_clusters), [{"run_id": run_id, **row} for row in batch]
                )
                written += len(batch)
                report(stage, written, total)
            self.uow.commit()
        report(stage, total, total)
        return summary

    def _read_registry(self, actor: Actor, run_id: str, report: Progress) -> pa.Table:
        """The linkage input for every person, and the access-log entry for reading it."""
        stage = "read registry"
        source = {
            "person_id": people.c.id,
            "given_names": people.c.given_names,
            "family_names": people.c.family_names,
            "date_of_birth": people.c.date_of_birth,
            "sex": people.c.sex,
            "national_id": people.c.national_id,
            "phone": people.c.phone,
            "region": households.c.region,
            "municipality": households.c.municipality,
            "address": households.c.address,
        }
        columns = [source[name].label(name) for name in INPUT_COLUMNS]
        schema = pa.schema(
            [
                (name, pa.date32() if name == "date_of_birth" else pa.string())
                for name in INPUT_COLUMNS
            ]
        )
        with self.uow:
            connection = self.uow.connection
            total = int(connection.execute(select(func.count()).select_from(people)).scalar_one())
            if total == 0:
                raise EmptyRegistry(
                    "the registry has no people yet, so there is nothing to deduplicate; "
                    "import people with `fairshare registry import FILE` first"
                )
            report(stage, 0, total)
            batches: list[pa.RecordBatch] = []
            result = connection.execute(
                select(*columns)
                .join(households, households.c.id == people.c.household_id)
                .order_by(people.c.id)
                .execution_options(yield_per=READ_BATCH)
            )
            done = 0
            for partition in result.partitions():
                batches.append(_record_batch(partition, schema))
                done += len(partition)
                report(stage, done, total)
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.DEDUP_REGISTRY_READ,
                        "registry",
                        run_id,
                        FIELDS_READ,
                    )
                ],
            )
            self.uow.commit()
        return pa.Table.from_batches(batches, schema)

    # ---- reading results -----------------------------------------------------------------

    def latest_run(self) -> RunSummary | None:
        """The most recently finished run, or None. Counts only: no access is logged."""
        with self.uow:
            row = self.uow.connection.execute(
                select(dedup_runs).order_by(dedup_runs.c.finished_at.desc()).limit(1)
            ).first()
            return _summary(row) if row is not None else None

    def _run(self, run_id: str | None) -> RunSummary:
        query = select(dedup_runs)
        if run_id:
            query = query.where(dedup_runs.c.id == run_id)
        else:
            query = query.order_by(dedup_runs.c.finished_at.desc()).limit(1)
        row = self.uow.connection.execute(query).first()
        if row is None:
            raise NoRun(
                f"no deduplication run with id {run_id!r}"
                if run_id
                else "no deduplication run yet; run `fairshare dedup run` first"
            )
        return _summary(row)

    def export(
        self,
        actor: Actor,
        *,
        pairs_path: Path | None = None,
        clusters_path: Path | None = None,
        run_id: str | None = None,
    ) -> ExportReport:
        """Write a run's scored pairs and/or clusters to CSV or Parquet (by file suffix).

        People are named by their record reference where they have one, else by id. The
        clusters file lists everyone registered when the run started, alone or not. Returns
        the row counts written. Raises NoRun, InvalidInput (no path, unknown format),
        PurposeNotAllowed.
        """
        if pairs_path is None and clusters_path is None:
            raise InvalidInput("name a file for the pairs, the clusters, or both")
        for path in (pairs_path, clusters_path):
            if path is not None and path.suffix.lower() not in EXPORT_FORMATS:
                raise InvalidInput(f"{path.name}: export to a .csv or .parquet file")
        authorize(
            self.uow, actor, DEDUPLICATE, "dedup_run", run_id or "latest", Tag.DEDUP_RESULT_EXPORT
        )
        with self.uow:
            run = self._run(run_id)
            refs = self._references(run)
            report = ExportReport(run.id)
            if pairs_path is not None:
                pairs = self._pairs_table(run, refs)
                _write(pairs, pairs_path)
                report = ExportReport(run.id, pairs=pairs.num_rows)
            if clusters_path is not None:
                clusters = self._clusters_table(run, refs)
                _write(clusters, clusters_path)
                report = ExportReport(run.id, report.pairs, clusters.num_rows)
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.DEDUP_RESULT_EXPORT,
                        "dedup_run",
                        run.id,
                        ("record_ref",),
                    )
                ],
            )
            self.uow.commit()
        return report

    def evaluate(self, actor: Actor, truth: pa.Table, run_id: str | None = None) -> Evaluation:
        """Pair and cluster precision, recall and F1 of a run against a truth table.

        `truth` has columns record_ref and person_key (records of one person share a key).
        Linked pairs are the predicted matches; `extra["pairs_with_review"]` also counts the
        pairs waiting for review. Raises NoRun, InvalidInput (columns missing, no record in
        common), PurposeNotAllowed.
        """
        missing = [c for c in ("record_ref", "person_key") if c not in truth.column_names]
        if missing:
            raise InvalidInput(
                f"the truth file needs the columns record_ref and person_key; it lacks "
                f"{', '.join(missing)}"
            )
        authorize(
            self.uow,
            actor,
            DEDUPLICATE,
            "dedup_run",
            run_id or "latest",
            Tag.DEDUP_RESULT_EVALUATE,
        )
        truth_map = {
            str(ref): str(key)
            for ref, key in zip(
                truth["record_ref"].to_pylist(), truth["person_key"].to_pylist(), strict=True
            )
            if ref is not None and key is not None
        }
        with self.uow:
            run = self._run(run_id)
            refs = self._references(run)
            connection = self.uow.connection
            linked: list[tuple[str, str]] = []
            with_review: list[tuple[str, str]] = []
            for a, b, outcome in connection.execute(
                select(dedup_pairs.c.person_a, dedup_pairs.c.person_b, dedup_pairs.c.outcome)
                .where(dedup_pairs.c.run_id == run.id)
                .execution_options(yield_per=READ_BATCH)
            ):
                pair = (refs.get(a, a), refs.get(b, b))
                with_review.append(pair)
                if outcome == PairOutcome.LINKED:
                    linked.append(pair)
            clusters = {
                refs.get(person, person): cluster
                for person, cluster in connection.execute(
                    select(dedup_clusters.c.person_id, dedup_clusters.c.cluster_id).where(
                        dedup_clusters.c.run_id == run.id
                    )
                )
            }
            result = evaluate(linked, clusters, truth_map, run_records=refs.values())
            review_scores: Scores = pair_scores(
                with_review, {r: k for r, k in truth_map.items() if r in set(refs.values())}
            )
            result.extra["pairs_with_review"] = review_scores
            result.extra["run_id"] = run.id
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.DEDUP_RESULT_EVALUATE,
                        "dedup_run",
                        run.id,
                        ("record_ref",),
                    )
                ],
            )
            self.uow.commit()
        return result

    def _references(self, run: RunSummary) -> dict[str, str]:
        """person id -> record_ref (or the id) for everyone registered when the run started."""
        query = select(people.c.id, people.c.record_ref).where(
            people.c.created_at <= run.started_at
        )
        return {
            person: ref or person
            for person, ref in self.uow.connection.execute(
                query.execution_options(yield_per=READ_BATCH)
            )
        }

    def _pairs_table(self, run: RunSummary, refs: dict[str, str]) -> pa.Table:
        rows = self.uow.connection.execute(
            select(dedup_pairs)
            .where(dedup_pairs.c.run_id == run.id)
            .order_by(dedup_pairs.c.match_probability.desc(), dedup_pairs.c.id)
        ).all()
        return pa.table(
            {
                "record_a": [refs.get(r.person_a, r.person_a) for r in rows],
                "record_b": [refs.get(r.person_b, r.person_b) for r in rows],
                "person_a": [r.person_a for r in rows],
                "person_b": [r.person_b for r in rows],
                "match_probability": pa.array([r.match_probability for r in rows], pa.float64()),
                "match_weight": pa.array([r.match_weight for r in rows], pa.float64()),
                "outcome": pa.array([r.outcome for r in rows], pa.string()),
                "review_status": pa.array([r.review_status for r in rows], pa.string()),
                "evidence": pa.array([r.evidence for r in rows], pa.string()),
            }
        )

    def _clusters_table(self, run: RunSummary, refs: dict[str, str]) -> pa.Table:
        cluster_of = dict(
            self.uow.connection.execute(
                select(dedup_clusters.c.person_id, dedup_clusters.c.cluster_id).where(
                    dedup_clusters.c.run_id == run.id
                )
            ).all()
        )
        sizes = Counter(cluster_of.values())
        people_ids = sorted(refs, key=lambda p: (cluster_of.get(p, p), p))
        return pa.table(
            {
                "cluster_id": pa.array(
                    [refs.get(cluster_of.get(p, p), cluster_of.get(p, p)) for p in people_ids],
                    pa.string(),
                ),
                "record": pa.array([refs[p] for p in people_ids], pa.string()),
                "person_id": pa.array(people_ids, pa.string()),
                "cluster_size": pa.array(
                    [sizes.get(cluster_of.get(p, p), 1) for p in people_ids],
                    pa.int32(),
                ),
            }
        )


def _record_batch(rows: Sequence[Row[Any]], schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([row[index] for row in rows], field.type) for index, field in enumerate(schema)],
        schema=schema,
    )


def _batches(table: pa.Table, size: int) -> Iterator[list[dict[str, Any]]]:
    for batch in table.to_batches(max_chunksize=size):
        yield batch.to_pylist()


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)


def _summary(row: Row[Any]) -> RunSummary:
    model = json.loads(row.model)
    return RunSummary(
        id=row.id,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        started_by=row.started_by,
        thresholds=Thresholds(upper=row.upper_threshold, lower=row.lower_threshold),
        records=row.records,
        pairs_linked=row.pairs_linked,
        pairs_review=row.pairs_review,
        clusters=row.clusters,
        notes=tuple(model.get("notes", ())),
        seconds=model.get("seconds", {}),
    )


__all__ = ["DedupSettings", "Deduplication", "ExportReport", "configured_thresholds"]
