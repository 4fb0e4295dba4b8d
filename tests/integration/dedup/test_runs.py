"""Batch deduplication runs through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.dedup import services as dedup_services
from fairshare.dedup.linkage import FIELDS_READ, LinkageOptions
from fairshare.dedup.model import EmptyRegistry, NoRun, Thresholds
from fairshare.dedup.orm import dedup_clusters, dedup_pairs, dedup_runs
from fairshare.dedup.services import Deduplication
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.registry.importing import read_table
from fairshare.registry.orm import people
from fairshare.synth.generate import Population, generate
from tests.conftest import actor

FAST = LinkageOptions(u_max_pairs=3e5, em_max_pairs=2e5, threads=2)


@pytest.fixture
def reviewer() -> Actor:
    return actor(Role.CASEWORKER, Purpose.DUPLICATE_REVIEW, username="rosa.revisora")


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(people=2000, seed=23)


@pytest.fixture(scope="module")
def small_population() -> Population:
    return generate(people=400, seed=29, duplicate_rate=0.05)


def load(services: Services, table: pa.Table) -> None:
    services.importer.import_table(
        actor(Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION, username="ana.importer"), table
    )


def count(services: Services, table: Any, *where: Any) -> int:
    with services.uow() as uow:
        query = select(func.count()).select_from(table)
        for condition in where:
            query = query.where(condition)
        return int(uow.connection.execute(query).scalar_one())


def rows(
    record: str, household: str, given: str, family: str, born: str, **extra: str | None
) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "record_ref": record,
        "household_ref": household,
        "region": "Capital",
        "municipality": "Distrito Central",
        "address": "Calle Bolívar 12",
        "given_names": given,
        "family_names": family,
        "date_of_birth": born,
        "sex": "female",
        "relationship_to_head": "head",
        "health_consent": "false",
    }
    values.update(extra)
    return values


def test_run_finds_planted_duplicates(
    services: Services, population: Population, reviewer: Actor
) -> None:
    """On 2,000 synthetic people the linked pairs are nearly all planted duplicates."""
    load(services, population.records)
    summary = Deduplication(services.uow()).run(reviewer, Thresholds(), FAST)
    assert summary.records == 2000
    result = Deduplication(services.uow()).evaluate(reviewer, population.truth, summary.id)
    assert result.pairs.precision >= 0.98
    assert result.pairs.recall >= 0.9
    assert result.clusters.precision >= 0.98
    assert summary.pairs_linked == count(
        services, dedup_pairs, dedup_pairs.c.run_id == summary.id, dedup_pairs.c.outcome == "linked"
    )
    assert summary.clusters >= 0.9 * population.duplicates


def test_run_is_stored_with_evidence_and_logged_once(
    services: Services, small_population: Population, reviewer: Actor
) -> None:
    """A run stores its thresholds, pairs with per-field evidence, clusters; one log entry."""
    load(services, small_population.records)
    logged_before = count(services, access_log)
    thresholds = Thresholds(upper=0.97, lower=0.6)
    summary = Deduplication(services.uow()).run(reviewer, thresholds, FAST)

    with services.uow() as uow:
        run = uow.connection.execute(select(dedup_runs)).one()
        pair = uow.connection.execute(
            select(dedup_pairs).order_by(dedup_pairs.c.match_probability.desc()).limit(1)
        ).one()
        entries = uow.connection.execute(
            select(access_log).where(access_log.c.sequence > logged_before)
        ).all()
    assert (run.upper_threshold, run.lower_threshold) == (0.97, 0.6)
    assert json.loads(run.model)["splink"]["comparisons"]
    assert pair.person_a < pair.person_b
    assert pair.outcome == "linked" and pair.review_status == "automatic"
    evidence = json.loads(pair.evidence)
    assert set(evidence) >= {"given_names", "date_of_birth", "national_id"}
    assert {"level", "match_weight", "bayes_factor"} <= set(evidence["date_of_birth"])
    assert count(services, dedup_clusters) >= summary.clusters * 2
    [entry] = entries
    assert (entry.action, entry.subject_type, entry.subject_id) == (
        Tag.DEDUP_REGISTRY_READ,
        "registry",
        summary.id,
    )
    assert sorted(json.loads(entry.fields)) == sorted(FIELDS_READ)
    assert entry.actor == "rosa.revisora" and entry.purpose == "duplicate_review"


def test_pairs_between_thresholds_wait_for_review(
    services: Services, small_population: Population, reviewer: Actor
) -> None:
    """With a lower threshold well below the upper one, some pairs are pending review."""
    load(services, small_population.records)
    summary = Deduplication(services.uow()).run(reviewer, Thresholds(0.999999, 0.01), FAST)
    assert summary.pairs_review > 0
    assert summary.pairs_review == count(
        services, dedup_pairs, dedup_pairs.c.review_status == "pending"
    )


def test_empty_registry_is_a_clear_error(services: Services, reviewer: Actor) -> None:
    """With no people, the run says to import first, and writes and logs nothing."""
    logged = count(services, access_log)
    with pytest.raises(EmptyRegistry, match="registry import"):
        Deduplication(services.uow()).run(reviewer, options=FAST)
    assert count(services, dedup_runs) == 0
    assert count(services, access_log) == logged


def test_only_duplicate_review_may_run(services: Services, small_population: Population) -> None:
    """Another purpose is refused (and the refusal logged) before anything is read."""
    load(services, small_population.records)
    logged = count(services, access_log)
    clerk = actor(Role.CASEWORKER, Purpose.REGISTRATION)
    with pytest.raises(PurposeNotAllowed):
        Deduplication(services.uow()).run(clerk, options=FAST)
    assert count(services, dedup_runs) == 0
    assert count(services, access_log) == logged + 1


def test_awkward_records_are_handled(services: Services, reviewer: Actor) -> None:
    """Identical records, non-Latin scripts and placeholder names run without a crash."""
    table = pa.Table.from_pylist(
        [rows(f"S{i}", f"HS{i}", "Ana Lucía", "Quispe Mamani", "1970-03-14") for i in range(12)]
        + [
            rows("C1", "HC1", "Дмитрий", "Иванов Петров", "1985-11-02", national_id="7700"),
            rows("C2", "HC2", "Дмитрий", "Иванов Петров", "1985-11-02", national_id="7700"),
            rows("Z1", "HZ1", "小明", "王", "1990-01-02", sex="male"),
            rows("Z2", "HZ2", "小明", "王", "1990-01-02", sex="male"),
            # A clerk's placeholder for an unknown family name folds to nothing.
            rows("M1", "HM1", "Rosa", "-", "2001-06-30", national_id="5550001"),
            rows("M2", "HM2", "Rosa", "-", "2001-06-30", national_id="5550001"),
        ]
    )
    load(services, table)
    dedup = Deduplication(services.uow())
    summary = dedup.run(reviewer, Thresholds(), FAST)
    assert summary.records == 18
    truth = pa.table(
        {
            "record_ref": [f"S{i}" for i in range(12)] + ["C1", "C2", "Z1", "Z2", "M1", "M2"],
            "person_key": ["S"] * 12 + ["C", "C", "Z", "Z", "M", "M"],
        }
    )
    result = dedup.evaluate(reviewer, truth, summary.id)
    assert result.pairs.precision == 1.0
    assert result.clusters.recall >= 0.9


def test_interrupted_write_leaves_no_run(
    services: Services, small_population: Population, reviewer: Actor
) -> None:
    """An interruption while writing results rolls the whole run back; people are untouched."""
    load(services, small_population.records)
    before = count(services, people)

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "write results" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Deduplication(services.uow()).run(reviewer, Thresholds(0.99, 0.01), FAST, interrupt)
    assert count(services, dedup_runs) == 0
    assert count(services, dedup_pairs) == 0
    assert count(services, dedup_clusters) == 0
    assert count(services, people) == before
    assert count(services, people, people.c.version != 1) == 0


def test_failed_linkage_leaves_no_run_but_the_read_is_logged(
    services: Services,
    small_population: Population,
    reviewer: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A linkage that fails midway stores nothing; the registry read stays in the log."""
    load(services, small_population.records)
    logged = count(services, access_log)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("DuckDB ran out of memory")

    monkeypatch.setattr(dedup_services, "link", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        Deduplication(services.uow()).run(reviewer, options=FAST)
    assert count(services, dedup_runs) == 0
    assert count(services, access_log, access_log.c.action == Tag.DEDUP_REGISTRY_READ) == 1
    assert count(services, access_log) == logged + 1


def test_evaluate_and_export_files(
    services: Services, small_population: Population, reviewer: Actor, tmp_path: Path
) -> None:
    """Evaluate reads a truth CSV; export writes pairs and clusters named by record_ref."""
    load(services, small_population.records)
    dedup = Deduplication(services.uow())
    summary = dedup.run(reviewer, Thresholds(), FAST)
    truth_path = tmp_path / "truth.csv"
    pacsv.write_csv(small_population.truth, truth_path)

    result = dedup.evaluate(reviewer, read_table(truth_path))
    assert result.records == 400
    assert result.pairs.precision >= 0.95 and result.pairs.recall >= 0.85

    report = dedup.export(
        reviewer, pairs_path=tmp_path / "pairs.csv", clusters_path=tmp_path / "clusters.parquet"
    )
    assert report.run_id == summary.id
    pairs = pacsv.read_csv(tmp_path / "pairs.csv")
    clusters = pq.read_table(tmp_path / "clusters.parquet")
    assert pairs.num_rows == summary.pairs_linked + summary.pairs_review
    assert str(pairs["record_a"][0]).startswith("R")
    assert clusters.num_rows == 400
    sizes = {
        c: n
        for c, n in zip(
            *(clusters[k].to_pylist() for k in ("cluster_id", "cluster_size")), strict=True
        )
    }
    assert sum(1 for n in sizes.values() if n > 1) == summary.clusters
    assert count(services, access_log, access_log.c.action == Tag.DEDUP_RESULT_EXPORT) == 1
    assert count(services, access_log, access_log.c.action == Tag.DEDUP_RESULT_EVALUATE) == 1


def test_truth_file_needs_its_columns(
    services: Services, small_population: Population, reviewer: Actor
) -> None:
    """A truth table without person_key is refused with the column named."""
    with pytest.raises(Exception, match="person_key"):
        Deduplication(services.uow()).evaluate(
            reviewer, small_population.truth.drop_columns(["person_key"])
        )


def test_export_without_a_run_says_so(services: Services, reviewer: Actor, tmp_path: Path) -> None:
    """Exporting before any run is a clear error naming the command to run."""
    with pytest.raises(NoRun, match="dedup run"):
        Deduplication(services.uow()).export(reviewer, pairs_path=tmp_path / "pairs.csv")
