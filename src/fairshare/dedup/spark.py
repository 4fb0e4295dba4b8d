"""The linkage on Apache Spark: a session, and the model's SQL in Spark's dialect.

The comparisons and blocking rules are written once, in DuckDB's SQL (`comparisons`). For
Spark they are translated with sqlglot, and the three functions sqlglot cannot map are
swapped for Spark's: `jaro_winkler_similarity` and `damerau_levenshtein` become the
`jaro_winkler` and `damerau_levenshtein` functions of the jar Splink ships (registered with
the session), and `list_has_any` becomes `arrays_overlap`. On a null the jar's functions
return 0 and 100 where DuckDB returns null; every condition compares them with `>=` or
`<=` inside CASE or AND, where a null and a false lead to the same level.

pyspark is an optional extra (`pip install 'fairshare[spark]'`) and needs Java; nothing
here imports it until a session is asked for.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from fairshare.errors import FairshareError

INSTALL_HINT = (
    "it needs pyspark, from `pip install 'fairshare[spark]'`, and Java 17 or later "
    "(`java` on the PATH, or JAVA_HOME set)"
)
# Functions of our SQL that Spark knows by these names once Splink's jar is registered;
# any other function sqlglot leaves untranslated is refused (see `spark_sql`).
_SPARK_FUNCTIONS = frozenset({"arrays_overlap", "damerau_levenshtein", "jaro_winkler"})
# Stands in for Splink's `{this}` template while sqlglot parses the query.
_THIS = "splink_this_placeholder"


class SparkUnavailable(FairshareError):
    """The Spark backend was chosen but pyspark or Java is missing, or Spark did not start."""

    status = 503
    exit_code = 6
    title = "Spark is not available"


@dataclass(frozen=True)
class SparkOptions:
    """Where and how big: `master` None runs Spark in this process on `cores` cores.

    `checkpoint_dir` holds the intermediate tables Splink writes as Parquet; on a cluster
    it must be storage every executor reaches (HDFS, S3, a shared mount). `memory` is the
    driver's heap (Spark's form, "6g"; by default `default_memory()`).
    """

    master: str | None = None
    cores: int = 2
    memory: str = field(default_factory=lambda: default_memory())
    checkpoint_dir: str | None = None
    temp_directory: Path | None = None


def default_memory() -> str:
    """Half the machine's memory, at least 2 GB: local Spark keeps everything in the driver's
    heap (2 GB ran out at 100,000 people; 6 GB did not)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(2, total // 2**31)}g"


def spark_memory(limit: str | None) -> str:
    """A DuckDB-style memory limit ("4GB", "512MB") as Spark writes it ("4g", "512m");
    `default_memory()` when none is given."""
    if not limit:
        return default_memory()
    found = re.fullmatch(r"\s*(\d+)\s*([kmgt])i?b?\s*", limit.lower())
    if not found:
        raise ValueError(f"memory limit {limit!r} is not understood: write it like 4GB or 512MB")
    return f"{found[1]}{found[2]}"


# ---- SQL ---------------------------------------------------------------------------------


def _to_spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JarowinklerSimilarity):
        return exp.Anonymous(this="jaro_winkler", expressions=[node.this, node.expression])
    if isinstance(node, exp.ArrayOverlaps):
        return exp.Anonymous(this="arrays_overlap", expressions=[node.this, node.expression])
    return node


def spark_sql(sql: str) -> str:
    """DuckDB SQL (a condition, a blocking rule or a query) as Spark SQL.

    Raises ValueError naming a function with no known Spark equivalent, so a comparison
    added later cannot silently mean something else on Spark.
    """
    tree = sqlglot.parse_one(sql.replace("{this}", _THIS), read="duckdb").transform(_to_spark)
    unknown = sorted(
        {
            function.name.lower()
            for function in tree.find_all(exp.Anonymous)
            if function.name.lower() not in _SPARK_FUNCTIONS
        }
    )
    if unknown:
        raise ValueError(
            f"no Spark equivalent for the function(s) {', '.join(unknown)} in: {sql}; "
            "add one to fairshare.dedup.spark"
        )
    return tree.sql(dialect="spark").replace(_THIS, "{this}")


def spark_settings(duckdb_settings: dict[str, Any]) -> dict[str, Any]:
    """Splink settings with every comparison level and blocking rule in Spark SQL."""
    translated: dict[str, Any] = json.loads(json.dumps(duckdb_settings))
    for comparison in translated["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level["sql_condition"].strip().upper() != "ELSE":
                level["sql_condition"] = spark_sql(level["sql_condition"])
    translated["blocking_rules_to_generate_predictions"] = [
        spark_sql(_rule_text(rule)) for rule in translated["blocking_rules_to_generate_predictions"]
    ]
    translated.pop("sql_dialect", None)
    return translated


def duckdb_model(trained: dict[str, Any], duckdb_settings: dict[str, Any]) -> dict[str, Any]:
    """A model trained on Spark, written back in the DuckDB SQL it was translated from.

    A run's stored model reads the same whichever backend trained it: the parameters are
    Spark's, the conditions and blocking rules the original ones (level by level).
    """
    model: dict[str, Any] = json.loads(json.dumps(trained))
    for comparison, original in zip(
        model["comparisons"], duckdb_settings["comparisons"], strict=True
    ):
        for level, source in zip(
            comparison["comparison_levels"], original["comparison_levels"], strict=True
        ):
            level["sql_condition"] = source["sql_condition"]
    model["blocking_rules_to_generate_predictions"] = [
        {**rule, "blocking_rule": _rule_text(source), "sql_dialect": "duckdb"}
        if isinstance(rule, dict)
        else _rule_text(source)
        for rule, source in zip(
            model["blocking_rules_to_generate_predictions"],
            duckdb_settings["blocking_rules_to_generate_predictions"],
            strict=True,
        )
    ]
    model["sql_dialect"] = "duckdb"
    return model


def _rule_text(rule: Any) -> str:
    return str(rule["blocking_rule"]) if isinstance(rule, dict) else str(rule)


# ---- the session -------------------------------------------------------------------------


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def check_available() -> None:
    """Raises SparkUnavailable, saying what to install, when pyspark or Java is missing."""
    if importlib.util.find_spec("pyspark") is None:
        raise SparkUnavailable(f"pyspark is not installed, so Spark cannot run: {INSTALL_HINT}")
    if _java() is None:
        raise SparkUnavailable(f"Java was not found, so Spark cannot run: {INSTALL_HINT}")


_QUIET_LOGS = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


@contextmanager
def spark_session(options: SparkOptions) -> Iterator[Any]:
    """A Spark session with Splink's functions registered, stopped afterwards.

    Local by default (`local[cores]`, no web UI, scratch and checkpoints in a temporary
    folder removed at the end, only errors logged). Raises SparkUnavailable when pyspark or
    Java is missing or the session does not start. A session already running in this
    process (a notebook's) is used as it is and left running.
    """
    check_available()
    from pyspark.sql import SparkSession  # imported here: optional, and slow to import
    from splink.backends.spark import similarity_jar_location

    with tempfile.TemporaryDirectory(
        prefix="fairshare-spark-", dir=options.temp_directory
    ) as scratch:
        folder = Path(scratch)
        (folder / "log4j2.properties").write_text(_QUIET_LOGS, encoding="utf-8")
        existing = SparkSession.getActiveSession()
        builder = (
            SparkSession.builder.master(options.master or f"local[{max(1, options.cores)}]")
            .appName("fairshare-dedup")
            .config("spark.jars", similarity_jar_location())
            .config("spark.driver.memory", options.memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.local.dir", str(folder / "local"))
            .config(
                "spark.driver.extraJavaOptions",
                f"-Dlog4j2.configurationFile={(folder / 'log4j2.properties').as_uri()}",
            )
            # Arrow moves the registry in and the results out in columns, not row by row.
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            # Splink runs hundreds of jobs with long query plans; Spark keeps the last 1,000
            # of each in the driver's heap for a web UI we do not start. A few will do.
            .config("spark.ui.retainedJobs", "50")
            .config("spark.ui.retainedStages", "50")
            .config("spark.ui.retainedTasks", "5000")
            .config("spark.sql.ui.retainedExecutions", "20")
        )
        if options.master is None:
            # One machine: a few shuffle partitions per core, not Spark's 200 (tiny tasks
            # cost more than they save), and no network name lookups.
            builder = (
                builder.config("spark.sql.shuffle.partitions", str(2 * max(1, options.cores)))
                .config("spark.default.parallelism", str(2 * max(1, options.cores)))
                # Python workers (Splink registers small tables from Python) run this Python.
                .config("spark.pyspark.python", sys.executable)
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
            )
        try:
            session = builder.getOrCreate()
        except Exception as error:  # pyspark raises its own runtime errors when Java fails
            raise SparkUnavailable(
                f"Spark did not start ({type(error).__name__}: {str(error).strip()[:300]}); "
                f"{INSTALL_HINT}"
            ) from error
        session.sparkContext.setLogLevel("ERROR")
        session.sparkContext.setCheckpointDir(options.checkpoint_dir or str(folder / "checkpoints"))
        try:
            yield session
        finally:
            if existing is None:
                session.stop()


def spark_database(session: Any) -> Any:
    """Splink's Spark API over `session`.

    Splink cuts the lineage of its intermediate tables by writing them as Parquet to the
    checkpoint folder and reading them back. Its other way, `persist`, keeps every table
    cached with its whole query plan and never releases one (Splink's drop is a no-op for
    it), so a run's driver heap only grows: 100,000 records ran out of 6 GB.
    """
    from splink.backends.spark import SparkAPI

    return SparkAPI(  # type: ignore[no-untyped-call]
        spark_session=session, break_lineage_method="parquet"
    )


__all__ = [
    "INSTALL_HINT",
    "SparkOptions",
    "SparkUnavailable",
    "check_available",
    "default_memory",
    "duckdb_model",
    "spark_database",
    "spark_memory",
    "spark_session",
    "spark_settings",
    "spark_sql",
]
