"""The linkage on Apache Spark (local, the machine's Java) finds what DuckDB finds.

Needs pyspark (the `spark` extra, in `dev` too) and Java 17 or later. Skipped, with the
reason, when either is missing, unless FAIRSHARE_REQUIRE_SPARK=1 (as in CI), where that
is a failure. The tests that need neither run everywhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from fairshare.bootstrap import Services
from fairshare.dedup.comparisons import BLOCKING_RULES, COMPARISONS, TRAINING_RULES, settings
from fairshare.dedup.linkage import INPUT_COLUMNS, LinkageOptions, LinkageResult, link
from fairshare.dedup.model import PairOutcome, Thresholds
from fairshare.dedup.orm import dedup_clusters, dedup_pairs, dedup_runs
from fairshare.dedup.services import Deduplication
from fairshare.dedup.spark import SparkUnavailable, check_available, spark_sql
from fairshare.identity.model import Purpose, Role
from fairshare.synth.generate import generate
from tests.conftest import actor

# Spark starts a JVM: keep its tests on one xdist worker, one session after another.
pytestmark = pytest.mark.xdist_group("spark")

THRESHOLDS = Thresholds(upper=0.99, lower=0.8)
# Trained on both engines from the same pairs: u from every pair (one chunk, so neither
# engine's hash picks a sample), EM over every blocked pair, and a registry as small as
# the training minimums allow (Spark's cost is per job, not per record: minutes, not hours).
SAME_TRAINING = {
    "u_max_pairs": 1e9,
    "u_chunks": 1,
    "em_max_pairs": None,
    "min_training_records": 100,
    "min_em_pairs": 10,
    "threads": 2,
}


def _spark_missing() -> str | None:
    try:
        check_available()
    except SparkUnavailable as error:
        return error.message
    return None


def _require_spark() -> None:
    reason = _spark_missing()
    if reason is None:
        return
    if os.environ.get("FAIRSHARE_REQUIRE_SPARK") == "1":
        pytest.fail(f"the Spark tests are required (FAIRSHARE_REQUIRE_SPARK=1) but {reason}")
    pytest.skip(f"Spark tests skipped: {reason}")


def _registry() -> pa.Table:
    population = generate(people=240, seed=29, duplicate_rate=0.1)
    return pa.Table.from_pylist(
        [
            {"person_id": row["record_ref"], **{c: row[c] for c in INPUT_COLUMNS[1:]}}
            for row in population.records.to_pylist()
        ]
    )


def _clusters(result: LinkageResult) -> set[frozenset[str]]:
    members: dict[str, set[str]] = {}
    for row in result.clusters.to_pylist():
        members.setdefault(row["cluster_id"], set()).add(row["person_id"])
    return {frozenset(people) for people in members.values()}


def _pairs(result: LinkageResult) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["person_a"], row["person_b"]): row for row in result.pairs.to_pylist()}


@pytest.fixture(scope="module")
def both() -> tuple[LinkageResult, LinkageResult]:
    _require_spark()
    table = _registry()
    on_duckdb = link(table, THRESHOLDS, LinkageOptions(**SAME_TRAINING))
    on_spark = link(table, THRESHOLDS, LinkageOptions(backend="spark", **SAME_TRAINING))
    return on_duckdb, on_spark


def test_spark_finds_the_same_clusters_and_outcomes_as_duckdb(
    both: tuple[LinkageResult, LinkageResult],
) -> None:
    """Trained and run on Spark, the model links, reviews and clusters as on DuckDB."""
    on_duckdb, on_spark = both
    assert on_spark.records == on_duckdb.records
    clusters = _clusters(on_duckdb)
    assert len(clusters) >= 10  # the planted duplicates are found, not two empty results
    assert _clusters(on_spark) == clusters
    duckdb_pairs, spark_pairs = _pairs(on_duckdb), _pairs(on_spark)
    assert {pair: row["outcome"] for pair, row in spark_pairs.items()} == {
        pair: row["outcome"] for pair, row in duckdb_pairs.items()
    }
    assert on_spark.count(PairOutcome.LINKED) == on_duckdb.count(PairOutcome.LINKED) > 0
    # Probabilities agree closely, not to the last digit: the jar's Jaro-Winkler and DuckDB's
    # disagree on a few random pairs near a threshold, which moves some u values a little
    # (see docs/decisions/0022-dedup-on-spark.md).
    for pair, row in duckdb_pairs.items():
        assert spark_pairs[pair]["match_probability"] == pytest.approx(
            row["match_probability"], abs=1e-3
        )
        # Every field of every pair reaches the same comparison level.
        assert _levels(spark_pairs[pair]["evidence"]) == _levels(row["evidence"])


def _levels(evidence: str) -> dict[str, str]:
    return {name: field["level"] for name, field in json.loads(evidence).items()}


def test_spark_trains_the_model_like_duckdb(both: tuple[LinkageResult, LinkageResult]) -> None:
    """EM on Spark learns the m values DuckDB learns; the model is stored in DuckDB's SQL."""
    on_duckdb, on_spark = both
    assert not any("not estimated" in note for note in on_spark.notes), on_spark.notes
    for duckdb_comparison, spark_comparison in zip(
        on_duckdb.model["comparisons"], on_spark.model["comparisons"], strict=True
    ):
        for duckdb_level, spark_level in zip(
            duckdb_comparison["comparison_levels"],
            spark_comparison["comparison_levels"],
            strict=True,
        ):
            assert spark_level["sql_condition"] == duckdb_level["sql_condition"]
            if "m_probability" in duckdb_level:
                assert spark_level["m_probability"] == pytest.approx(
                    duckdb_level["m_probability"], rel=1e-3
                )
                assert spark_level["u_probability"] == pytest.approx(
                    duckdb_level["u_probability"], rel=0.05, abs=1e-6
                )
    # Apart from the estimates, the stored models are the same text: DuckDB's SQL.
    assert _without_estimates(on_spark.model) == _without_estimates(on_duckdb.model)


def _without_estimates(model: dict[str, Any]) -> dict[str, Any]:
    shape: dict[str, Any] = json.loads(json.dumps(model))
    shape.pop("probability_two_random_records_match", None)
    shape.pop("linker_uid", None)  # a random name for each linker
    for comparison in shape["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("m_probability", None)
            level.pop("u_probability", None)
    return shape


def test_every_comparison_and_rule_has_a_spark_form() -> None:
    """Each level, blocking rule and training rule translates; the jar's functions are used."""
    conditions = [
        level["sql_condition"]
        for comparison in COMPARISONS
        for level in comparison["comparison_levels"]
        if level["sql_condition"] != "ELSE"
    ]
    translated = [
        spark_sql(sql)
        for sql in (*conditions, *BLOCKING_RULES, *(rule for _, rule in TRAINING_RULES))
    ]
    text = " ".join(translated).lower()
    assert "jaro_winkler(" in text and "jarowinkler_similarity" not in text
    assert "arrays_overlap(" in text and "list_has_any" not in text
    assert "damerau_levenshtein(" in text
    assert len(settings()["comparisons"]) == len(COMPARISONS)


def test_a_function_without_a_spark_form_is_refused() -> None:
    """A comparison using a DuckDB-only function fails loudly instead of meaning nothing."""
    with pytest.raises(ValueError, match=r"no Spark equivalent for the function.*list_cosine"):
        spark_sql("list_cosine_similarity(given_units_l, given_units_r) > 0.5")


def test_without_java_the_spark_backend_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No Java: a clear error naming the extra and Java, raised before any work is done."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed; the missing-pyspark message is checked instead")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(SparkUnavailable) as raised:
        link(_registry(), THRESHOLDS, LinkageOptions(backend="spark"))
    assert "Java" in raised.value.message
    assert "pip install 'fairshare[spark]'" in raised.value.message
    assert raised.value.exit_code == 6


def test_an_unknown_backend_is_refused() -> None:
    """Only duckdb and spark are backends; anything else is named in the error."""
    with pytest.raises(ValueError, match="unknown linkage backend 'polars'"):
        LinkageOptions(backend="polars")


def test_duckdb_runs_do_not_import_spark() -> None:
    """Choosing DuckDB (the default) never imports pyspark: importing it costs seconds."""
    code = (
        "import sys, pyarrow as pa\n"
        "import fairshare.cli.main, fairshare.dedup.services\n"
        "from fairshare.dedup.linkage import INPUT_COLUMNS, link\n"
        "from fairshare.dedup.model import Thresholds\n"
        "rows = [dict.fromkeys(INPUT_COLUMNS, 'x') | {'person_id': str(i)} for i in (1, 2)]\n"
        "assert link(pa.Table.from_pylist(rows), Thresholds(0.99, 0.8)).records == 2\n"
        "assert 'pyspark' not in sys.modules, 'pyspark was imported'\n"
    )
    source = str(Path(__file__).resolve().parents[3] / "src")
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]),
    }
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_the_cli_refuses_spark_without_java_before_reading_the_registry(tmp_path: Path) -> None:
    """`dedup run --backend spark` without Java exits 6, saying what to install."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed; the missing-pyspark message is checked instead")
    environment = {
        key: value for key, value in os.environ.items() if key not in {"JAVA_HOME", "PATH"}
    }
    source = str(Path(__file__).resolve().parents[3] / "src")
    environment.update(
        PATH=str(tmp_path),  # no java here
        PYTHONPATH=source,
        FAIRSHARE_VAR_DIR=str(tmp_path / "var"),
        FAIRSHARE_DATABASE_URL=f"sqlite:///{tmp_path / 'never-opened.sqlite3'}",
    )
    completed = subprocess.run(
        [sys.executable, "-m", "fairshare.cli.main", "dedup", "run", "--backend", "spark"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert completed.returncode == 6, completed.stderr
    message = " ".join(completed.stderr.split())
    assert "Java was not found" in message and "pip install 'fairshare[spark]'" in message
    assert not (tmp_path / "never-opened.sqlite3").exists()  # stopped before the registry


@pytest.mark.parametrize(
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_spark_run_through_the_service_is_stored_as_a_duckdb_run_is(services: Services) -> None:
    """`fairshare dedup run --backend spark` does this: read the registry from the database,
    link on Spark, store pairs, clusters and a model the registration check can use."""
    _require_spark()
    population = generate(people=240, seed=29, duplicate_rate=0.1)
    services.importer.import_table(
        actor(Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION, username="ana.importer"),
        population.records,
    )
    reviewer = actor(Role.CASEWORKER, Purpose.DUPLICATE_REVIEW, username="rosa.revisora")
    runs = {
        backend: Deduplication(services.uow()).run(
            reviewer, THRESHOLDS, LinkageOptions(backend=backend, **SAME_TRAINING)
        )
        for backend in ("duckdb", "spark")
    }
    stored = {backend: _stored(services, run.id) for backend, run in runs.items()}
    assert stored["spark"] == stored["duckdb"]
    assert runs["spark"].pairs_linked == runs["duckdb"].pairs_linked > 0
    assert runs["spark"].clusters == runs["duckdb"].clusters >= 10
    with services.uow() as uow:
        model = json.loads(
            uow.connection.execute(
                select(dedup_runs.c.model).where(dedup_runs.c.id == runs["spark"].id)
            ).scalar_one()
        )
    # Stored in DuckDB's SQL, which the registration check reads, with Spark's parameters.
    assert model["splink"]["sql_dialect"] == "duckdb"
    conditions = " ".join(
        level["sql_condition"]
        for comparison in model["splink"]["comparisons"]
        for level in comparison["comparison_levels"]
    )
    assert "jaro_winkler_similarity(" in conditions and "arrays_overlap" not in conditions
    scores = Deduplication(services.uow()).evaluate(reviewer, population.truth, runs["spark"].id)
    assert scores.pairs.precision >= 0.98 and scores.pairs.recall >= 0.9


def _stored(services: Services, run_id: str) -> tuple[dict[Any, str], set[frozenset[str]]]:
    """A run's stored pair outcomes and clusters."""
    with services.uow() as uow:
        pairs = {
            (row.person_a, row.person_b): row.outcome
            for row in uow.connection.execute(
                select(dedup_pairs.c.person_a, dedup_pairs.c.person_b, dedup_pairs.c.outcome).where(
                    dedup_pairs.c.run_id == run_id
                )
            )
        }
        members: dict[str, set[str]] = {}
        for row in uow.connection.execute(
            select(dedup_clusters.c.cluster_id, dedup_clusters.c.person_id).where(
                dedup_clusters.c.run_id == run_id
            )
        ):
            members.setdefault(row.cluster_id, set()).add(row.person_id)
    return pairs, {frozenset(people) for people in members.values()}
