"""Batch record linkage with Splink on DuckDB or Spark: normalise, train, score pairs, cluster.

The registry's values are normalised once per distinct value (in Python, see `normalise`),
handed to DuckDB as Arrow, and linked with the model of `comparisons`: u estimated from random
pairs, m by expectation maximisation over pairs that share a national ID or a birth date and
family name. No labelled data is used. Registries too small to train on use the model's
default parameters.

DuckDB runs in memory in this process; nothing is written to the registry database here.
For registries beyond one machine the same model runs on Apache Spark (`backend="spark"`,
see `spark`): the same comparisons, blocking rules, training, prediction and clustering.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from fairshare.dedup.comparisons import (
    M_FLOOR,
    TRAINING_RULES,
    level_labels,
    settings,
    with_m_floor,
)
from fairshare.dedup.model import PairOutcome, Thresholds
from fairshare.dedup.normalise import (
    address_tokens,
    fold,
    identifier_key,
    name_parts,
    phone_key,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)

INPUT_COLUMNS: tuple[str, ...] = (
    "person_id",
    "given_names",
    "family_names",
    "date_of_birth",
    "sex",
    "national_id",
    "phone",
    "region",
    "municipality",
    "address",
)
# Fields the linkage reads, as named in the catalogue (for the access log).
FIELDS_READ: tuple[str, ...] = INPUT_COLUMNS[1:]

STAGES: tuple[str, ...] = (
    "normalise records",
    "estimate u (random pairs)",
    *(f"estimate m ({name})" for name, _rule in TRAINING_RULES),
    "score pairs",
    "cluster",
)

PAIRS_SCHEMA = pa.schema(
    [
        ("person_a", pa.string()),
        ("person_b", pa.string()),
        ("match_probability", pa.float64()),
        ("match_weight", pa.float64()),
        ("outcome", pa.string()),
        ("evidence", pa.string()),
    ]
)
CLUSTERS_SCHEMA = pa.schema([("cluster_id", pa.string()), ("person_id", pa.string())])
BACKENDS: tuple[str, ...] = ("duckdb", "spark")


@dataclass(frozen=True)
class LinkageOptions:
    """How hard to train and how much of the machine to use.

    `u_max_pairs` random pairs estimate u (more is slower and steadier). `em_max_pairs`
    caps the pairs of each EM pass. Registries smaller than `min_training_records`, and EM
    passes with fewer than `min_em_pairs` pairs, are not trained: a handful of pairs would
    teach the model noise, and the defaults are better. `memory_limit` ("4GB") and
    `threads` bound DuckDB; `temp_directory` is where it spills when memory runs short.
    `u_chunks` is how many pieces the random pairs for u are scored in (Splink stops once
    every level has been seen often enough, so which pieces count depends on the engine's
    hash); one piece scores the whole sample in one go: on Spark far fewer jobs, and with
    `u_max_pairs` above the registry's pair count, the very same pairs on every engine.

    `backend` "spark" runs Splink on Spark instead: in this process on `threads` cores
    (two by default) with `memory_limit` for the driver, or on the cluster at
    `spark_master`, whose executors must all reach `spark_checkpoint_dir`.
    """

    u_max_pairs: float = 5e6
    em_max_pairs: float | None = 2e6
    min_training_records: int = 1_000
    min_em_pairs: int = 50
    seed: int = 42
    u_chunks: int = 10
    threads: int | None = None
    memory_limit: str | None = None
    temp_directory: Path | None = None
    backend: str = "duckdb"
    spark_master: str | None = None
    spark_checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown linkage backend {self.backend!r}: choose one of {', '.join(BACKENDS)}"
            )


@dataclass
class LinkageResult:
    """Scored pairs at or above the lower threshold, multi-record clusters, and the model."""

    pairs: pa.Table  # PAIRS_SCHEMA; person_a < person_b
    clusters: pa.Table  # CLUSTERS_SCHEMA; only clusters of two or more people
    model: dict[str, Any]
    records: int
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    # How often each value of a term-frequency-adjusted column occurs, for the registration
    # check to weigh an exact match on a common name as the batch model does:
    # {"given": {"counts": {value: n (values seen at least twice)}, "total": non-null n}}.
    term_frequencies: dict[str, Any] = field(default_factory=dict)

    def count(self, outcome: PairOutcome) -> int:
        return int(pc.sum(pc.equal(self.pairs["outcome"], outcome.value)).as_py() or 0)

    @property
    def cluster_count(self) -> int:
        return int(pc.count_distinct(self.clusters["cluster_id"]).as_py())


# ---- normalisation -----------------------------------------------------------------------


def _map_distinct(
    column: pa.ChunkedArray | pa.Array,
    function: Callable[[Any], Any],
    outputs: dict[str, pa.DataType],
) -> dict[str, pa.Array]:
    """Apply a Python function to each distinct non-null value once (names repeat a lot).

    `function` returns one value per output, in the order of `outputs` (a bare value when
    there is one output). Nulls stay null.
    """
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = (
            encoded.combine_chunks()
            if encoded.num_chunks
            else pa.array([], pa.dictionary(pa.int32(), pa.string()))
        )
    results = [function(value) for value in encoded.dictionary.to_pylist()]
    if len(outputs) == 1:
        results = [(result,) for result in results]
    return {
        name: pa.array([result[i] for result in results], kind).take(encoded.indices)
        for i, (name, kind) in enumerate(outputs.items())
    }


def _one(column: pa.ChunkedArray | pa.Array, function: Callable[[Any], Any]) -> pa.Array:
    return _map_distinct(column, function, {"value": pa.string()})["value"]


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def normalise(table: pa.Table) -> pa.Table:
    """The registry columns turned into the columns the comparisons and blocking rules use.

    Input: INPUT_COLUMNS (any may be null except person_id; dates as date or ISO text).
    Raises ValueError naming missing columns.
    """
    missing = [c for c in INPUT_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"the linkage input lacks columns: {', '.join(missing)}")
    text_list = pa.list_(pa.string())

    def given_parts(value: str) -> tuple[Any, ...]:
        parts = name_parts(value)
        return (
            parts.whole,
            parts.first,
            parts.rest,
            parts.units,
            parts.whole_and_first,
            parts.formal,
            parts.first_key,
        )

    def family_parts(value: str) -> tuple[Any, ...]:
        parts = name_parts(value)
        return parts.whole, parts.first, parts.rest, parts.first_key

    def address(value: str) -> str | None:
        return " ".join(address_tokens(value)) or None

    def folded(value: str) -> str | None:
        return fold(value) or None

    given = _map_distinct(
        _text(table["given_names"]),
        given_parts,
        {
            "given": pa.string(),
            "given1": pa.string(),
            "given2": pa.string(),
            "given_units": text_list,
            "given_names": text_list,
            "given_aliases": text_list,
            "given1_key": pa.string(),
        },
    )
    family = _map_distinct(
        _text(table["family_names"]),
        family_parts,
        {
            "family": pa.string(),
            "family1": pa.string(),
            "family2": pa.string(),
            "family1_key": pa.string(),
        },
    )
    dob = _map_distinct(table["date_of_birth"], _as_date, {"dob": pa.date32()})["dob"]
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "person_id": _text(table["person_id"]),
        **given,
        **family,
        "dob": dob,
        "birth_year": pc.year(dob),
        # Day and month as an unordered pair, so a swapped day and month give the same key.
        "day_month": pc.add(
            pc.multiply(pc.min_element_wise(pc.month(dob), pc.day(dob)), 100),
            pc.max_element_wise(pc.month(dob), pc.day(dob)),
        ),
        "sex": _one(_text(table["sex"]), folded),
        "nid": _one(_text(table["national_id"]), identifier_key),
        "phone": _one(_text(table["phone"]), phone_key),
        # The municipality, or the region where no municipality is recorded.
        "area": _one(pc.coalesce(_text(table["municipality"]), _text(table["region"])), folded),
        # Abbreviations expanded and filler dropped, so "Cl 5 No 3" and "Calle 5 # 3" agree.
        "address": _one(_text(table["address"]), address),
    }
    return pa.table(columns)


# ---- running it --------------------------------------------------------------------------


def _connection(options: LinkageOptions) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {}
    if options.threads:
        config["threads"] = options.threads
    if options.memory_limit:
        config["memory_limit"] = options.memory_limit
    if options.temp_directory:
        config["temp_directory"] = str(options.temp_directory)
    # Insertion order is not needed and costs memory on large joins.
    config["preserve_insertion_order"] = False
    return duckdb.connect(":memory:", config=config)


class _Engine:
    """Where Splink runs: its database API, and a way to count rows there.

    The model's SQL is written for DuckDB, which reads it as it is; other engines
    translate it (`sql`, `settings`) and give the trained model back in DuckDB's SQL
    (`stored_model`), so a run's model reads the same whichever engine trained it.
    """

    def __init__(self, database: Any, count: Callable[[str], int]) -> None:
        self.database = database
        self.count = count

    def sql(self, text: str) -> str:
        return text

    def settings(self, model: dict[str, Any]) -> dict[str, Any]:
        return model

    def stored_model(self, trained: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
        return trained


class _SparkEngine(_Engine):
    def sql(self, text: str) -> str:
        from fairshare.dedup.spark import spark_sql

        return spark_sql(text)

    def settings(self, model: dict[str, Any]) -> dict[str, Any]:
        from fairshare.dedup.spark import spark_settings

        return spark_settings(model)

    def stored_model(self, trained: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
        from fairshare.dedup.spark import duckdb_model

        return duckdb_model(trained, original)


@contextmanager
def _duckdb_engine(options: LinkageOptions) -> Iterator[_Engine]:
    from splink import DuckDBAPI  # imported here: Splink is slow to import

    connection = _connection(options)
    try:
        yield _Engine(DuckDBAPI(connection=connection), lambda query: _scalar(connection, query))
    finally:
        connection.close()


@contextmanager
def _spark_engine(options: LinkageOptions) -> Iterator[_Engine]:
    # Imported only when chosen: pyspark is an optional extra and slow to import.
    from fairshare.dedup.spark import SparkOptions, spark_database, spark_memory, spark_session

    spark_options = SparkOptions(
        master=options.spark_master,
        cores=options.threads or SparkOptions.cores,
        memory=spark_memory(options.memory_limit),
        checkpoint_dir=options.spark_checkpoint_dir,
        temp_directory=options.temp_directory,
    )
    with spark_session(spark_options) as session:
        yield _SparkEngine(
            spark_database(session),
            lambda query: int(session.sql(query).collect()[0][0]),
        )


def _engine(options: LinkageOptions) -> AbstractContextManager[_Engine]:
    return _spark_engine(options) if options.backend == "spark" else _duckdb_engine(options)


def _expected_duplicate_rate(records: int) -> float:
    """The prior: about one pair in `records` x 30 of random pairs is one person.

    It assumes a few per cent of records are duplicates (each adds one true pair), which is
    what registries report; EM does not re-estimate it, so a wrong guess shifts all
    probabilities a little and is corrected by the thresholds, not by training on a label.
    """
    pairs = records * (records - 1) / 2
    if pairs <= 0:
        return 1e-4
    return min(0.5, max(1e-12, 0.03 * records / pairs))


def link(
    table: pa.Table,
    thresholds: Thresholds,
    options: LinkageOptions | None = None,
    progress: Progress | None = None,
) -> LinkageResult:
    """Train a model on `table` (INPUT_COLUMNS), score candidate pairs and cluster them.

    Returns pairs at or above `thresholds.lower` with their outcome and evidence, and the
    clusters of pairs at or above `thresholds.upper`. Raises ValueError for missing columns
    or duplicate person ids, SparkUnavailable when the Spark backend is chosen and pyspark
    or Java is missing; whatever Splink, DuckDB or Spark raise is passed on.
    """
    options = options or LinkageOptions()
    if options.backend == "spark":
        from fairshare.dedup.spark import check_available

        check_available()  # before any work: the missing piece is named at once
    report = progress or (lambda _stage, _done, _total: None)
    seconds: dict[str, float] = {}
    notes: list[str] = []

    with _Stage(STAGES[0], report, seconds):
        prepared = normalise(table)
        records = prepared.num_rows
        if records != pc.count_distinct(prepared["person_id"]).as_py():
            raise ValueError("person ids must be unique")
    model_settings = settings(_expected_duplicate_rate(records))
    frequencies = {"given": term_counts(prepared["given"])}
    if records < 2:
        for name in STAGES[1:]:
            with _Stage(name, report, seconds):
                pass
        notes.append("fewer than two records: nothing to compare")
        return LinkageResult(
            PAIRS_SCHEMA.empty_table(),
            CLUSTERS_SCHEMA.empty_table(),
            model_settings,
            records,
            notes,
            seconds,
            frequencies,
        )
    with _engine(options) as engine, _splink_messages(notes):
        pairs, clusters, model = _run_splink(
            engine, prepared, model_settings, thresholds, options, report, seconds, notes
        )
    return LinkageResult(pairs, clusters, model, records, notes, seconds, frequencies)


def term_counts(column: pa.ChunkedArray | pa.Array) -> dict[str, Any]:
    """Counts of the values seen at least twice, and how many values are not null.

    Splink divides a value's count by the non-null total for its term-frequency adjustment;
    values seen once are left out (they take 1 / total), which keeps a million-person
    registry's table to the names that repeat.
    """
    counts = pc.value_counts(pc.drop_null(column))
    values = counts.field("values").to_pylist()
    numbers = counts.field("counts").to_pylist()
    return {
        "counts": {v: n for v, n in zip(values, numbers, strict=True) if n > 1},
        "total": int(len(column) - column.null_count),
    }


def _run_splink(
    engine: _Engine,
    prepared: pa.Table,
    model_settings: dict[str, Any],
    thresholds: Thresholds,
    options: LinkageOptions,
    report: Progress,
    seconds: dict[str, float],
    notes: list[str],
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    from splink import Linker  # imported here: Splink is slow to import

    records = prepared.num_rows
    records_frame = engine.database.register(prepared, dataset_display_name="registry")
    linker = Linker(records_frame, engine.settings(model_settings), log_level=None)

    def restored(snapshot: dict[str, Any], stage: str, error: Exception) -> Linker:
        # A failed Splink training pass can leave the linker half-changed (EM drops the
        # comparisons its blocking rule uses before it fails), so start again from the
        # model as it was before the pass.
        notes.append(f"{stage}: not estimated, defaults kept: {_first_line(error)}")
        return Linker(records_frame, snapshot, log_level=None)

    train = records >= options.min_training_records
    if not train:
        notes.append(
            f"{records:,} records are too few to train on (fewer than "
            f"{options.min_training_records:,}): the default parameters are used"
        )
    with _Stage(STAGES[1], report, seconds):
        snapshot = linker.misc.save_model_to_json()
        try:
            if train:
                linker.training.estimate_u_using_random_sampling(
                    max_pairs=min(options.u_max_pairs, records * (records - 1) / 2) + 1,
                    seed=options.seed,
                    num_chunks=options.u_chunks,
                )
        except Exception as error:  # a registry too uniform to sample
            linker = restored(snapshot, STAGES[1], error)
    for name, rule in zip(STAGES[2:-2], (rule for _name, rule in TRAINING_RULES), strict=True):
        with _Stage(name, report, seconds):
            if not train:
                continue
            pairs_for_training = engine.count(
                engine.sql(_count_pairs_sql(records_frame.physical_name, rule))
            )
            if pairs_for_training < options.min_em_pairs:
                notes.append(
                    f"{name}: only {pairs_for_training} pairs, too few to estimate from; "
                    "defaults kept"
                )
                continue
            snapshot = linker.misc.save_model_to_json()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    engine.sql(rule), max_pairs=options.em_max_pairs
                )
            except Exception as error:
                linker = restored(snapshot, name, error)

    # Registries make mistakes in every field, even where the training sample had none: a
    # disagreement on sex or ID learnt as "never happens to one person" would veto a match.
    model = with_m_floor(
        engine.stored_model(linker.misc.save_model_to_json(), model_settings), M_FLOOR
    )
    linker = Linker(records_frame, engine.settings(model), log_level=None)

    with _Stage(STAGES[-2], report, seconds):
        predictions = linker.inference.predict(
            threshold_match_probability=thresholds.lower, warning_mode="never"
        )
        pairs = _pairs_table(_arrow(predictions), thresholds)
    with _Stage(STAGES[-1], report, seconds):
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=thresholds.upper
        )
        clusters = _arrow(clustered.query_sql(engine.sql(_CLUSTERS_SQL)))
        # Spark does not keep a query's order through the table it is written to.
        clusters = clusters.sort_by([("cluster_id", "ascending"), ("person_id", "ascending")])
    return pairs, clusters.cast(CLUSTERS_SCHEMA), model


# A cluster is named by its smallest person id, whatever Splink calls it. (A subquery, not
# QUALIFY, which Spark lacks.)
_CLUSTERS_SQL = (
    "SELECT CAST(cluster_name AS VARCHAR) AS cluster_id, CAST(person_id AS VARCHAR) AS person_id "
    "FROM (SELECT person_id, min(person_id) OVER (PARTITION BY cluster_id) AS cluster_name, "
    "count(*) OVER (PARTITION BY cluster_id) AS members FROM {this}) AS clustered "
    "WHERE members > 1"
)


_UNTRAINED = re.compile(
    r"Level (?P<level>.+) on comparison (?P<comparison>\S+) not observed in dataset"
)


class _NoteHandler(logging.Handler):
    """Keeps Splink's warnings as notes; "level not observed" ones are gathered by field."""

    def __init__(self, notes: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.notes = notes
        self.untrained: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split()).removeprefix("WARNING:").strip()
        found = _UNTRAINED.search(message)
        if found:
            levels = self.untrained.setdefault(found["comparison"], [])
            if found["level"] not in levels:
                levels.append(found["level"])
        elif message and not message.startswith("[EM sampling]") and message not in self.notes:
            self.notes.append(message)

    def summarise(self) -> None:
        if self.untrained:
            listed = "; ".join(
                f"{comparison}: {', '.join(levels)}"
                for comparison, levels in sorted(self.untrained.items())
            )
            self.notes.append(f"levels never seen in an EM pass keep their default m: {listed}")


@contextmanager
def _splink_messages(notes: list[str]) -> Iterator[None]:
    """Splink's warnings (levels never observed, sampling skipped) become the run's notes.

    Without this they would go to stderr through logging's last-resort handler, in the
    middle of the CLI's progress bars.
    """
    splink_logger = logging.getLogger("splink")
    handler = _NoteHandler(notes)
    previous = splink_logger.propagate
    splink_logger.addHandler(handler)
    splink_logger.propagate = False
    try:
        yield
    finally:
        splink_logger.removeHandler(handler)
        splink_logger.propagate = previous
        handler.summarise()


def _arrow(frame: Any) -> pa.Table:
    """A Splink frame as an Arrow table (Splink's own method is not typed)."""
    table: pa.Table = frame.as_pyarrow_table()
    return table


def _count_pairs_sql(table: str, rule: str) -> str:
    """The query counting the pairs of records a blocking rule yields (each pair once)."""
    return (
        f"SELECT count(*) FROM {table} AS l JOIN {table} AS r "  # noqa: S608 - our own rules
        f"ON ({rule}) AND l.person_id < r.person_id"
    )


def _scalar(connection: duckdb.DuckDBPyConnection, query: str) -> int:
    # fetchall: DuckDB 2 keeps a partly fetched result open and refuses the next query.
    [(count,)] = connection.execute(query).fetchall()
    return int(count)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:300]


def _pairs_table(predictions: pa.Table, thresholds: Thresholds) -> pa.Table:
    """Splink's predictions as PAIRS_SCHEMA, with outcome and per-field evidence."""
    if predictions.num_rows == 0:
        return PAIRS_SCHEMA.empty_table()
    labels = level_labels()
    columns = {name: predictions[name].to_pylist() for name in predictions.column_names}
    a_ids, b_ids = columns["person_id_l"], columns["person_id_r"]
    evidence: list[str] = []
    outcomes: list[str] = []
    person_a: list[str] = []
    person_b: list[str] = []
    for row, probability in enumerate(columns["match_probability"]):
        fields = {}
        for name, by_value in labels.items():
            gamma = columns[f"gamma_{name}"][row]
            weight = columns[f"mw_{name}"][row]
            tf_weight = columns.get(f"mw_tf_adj_{name}")  # common names count for less
            total = (weight or 0.0) + ((tf_weight[row] or 0.0) if tf_weight else 0.0)
            fields[name] = {
                "level": by_value.get(gamma, str(gamma)),
                "match_weight": round(total, 4),
                "bayes_factor": float(f"{2.0**total:.5g}") if math.isfinite(total) else None,
            }
        evidence.append(json.dumps(fields, sort_keys=True, separators=(",", ":")))
        outcomes.append(thresholds.outcome(probability).value)
        a, b = str(a_ids[row]), str(b_ids[row])
        person_a.append(min(a, b))
        person_b.append(max(a, b))
    return pa.table(
        {
            "person_a": person_a,
            "person_b": person_b,
            "match_probability": columns["match_probability"],
            "match_weight": columns["match_weight"],
            "outcome": outcomes,
            "evidence": evidence,
        },
        schema=PAIRS_SCHEMA,
    )


class _Stage:
    """Reports a stage as started (0 of 1) and finished (1 of 1), and times it."""

    def __init__(self, name: str, report: Progress, seconds: dict[str, float]) -> None:
        self.name, self.report, self.seconds = name, report, seconds

    def __enter__(self) -> _Stage:
        self.started = time.perf_counter()
        self.report(self.name, 0, 1)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.seconds[self.name] = round(time.perf_counter() - self.started, 3)
        if exc_type is None:
            self.report(self.name, 1, 1)


__all__ = [
    "BACKENDS",
    "FIELDS_READ",
    "INPUT_COLUMNS",
    "STAGES",
    "LinkageOptions",
    "LinkageResult",
    "link",
    "normalise",
]
