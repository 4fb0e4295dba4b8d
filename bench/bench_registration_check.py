"""Benchmark: the registration-time duplicate check against a registry of 1 million people.

Floor: p95 under 200 ms for one check against 1,000,000 registered people. A synthetic
population is imported into a fresh SQLite registry (in chunks of whole households), minus
500 of its planted duplicates, which are held back; a deduplication run trains the model.
Then 1,000 people are checked through the service (`DuplicateCheck.check`, access log
included), alternating the held-back duplicates (their original is registered: the check
should name it) and new people from another seed (it should name no one).

Reported: p50/p95/p99 of the check, recall on the planted duplicates, the share of new people
wrongly flagged, candidates scored per check, the time to build the registry and train, the
cost of checking import rows (`check_table`), and for comparison what scoring one pair costs
through Splink itself (`score_pair`, `compare_records`). Quick mode: 20,000 people.
Run as `python -m bench.bench_registration_check [--quick]`.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from fairshare import schema
from fairshare.bootstrap import Services, bootstrap
from fairshare.db import make_engine
from fairshare.dedup.linkage import INPUT_COLUMNS, normalise
from fairshare.dedup.orm import dedup_runs
from fairshare.dedup.registration import DuplicateCheck
from fairshare.dedup.services import Deduplication
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.registry.orm import people
from fairshare.settings import Settings
from fairshare.synth.generate import generate

FLOOR_PEOPLE = 1_000_000
QUICK_PEOPLE = 20_000
FLOOR_P95_MS = 200.0
PLANTED = 500
NEW_PEOPLE = 500
IMPORT_CHUNK = 100_000
IMPORT_CHECK_ROWS = 1_000
SEED = 42


def _chunks_by_household(table: pa.Table, size: int) -> list[pa.Table]:
    """Slices of about `size` rows that never split a household."""
    refs = table["household_ref"].to_pylist()
    chunks, start = [], 0
    while start < len(refs):
        end = min(start + size, len(refs))
        while end < len(refs) and refs[end] == refs[end - 1]:
            end += 1
        chunks.append(table.slice(start, end - start))
        start = end
    return chunks


def _build(services: Services, people_count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Import the population less the held-back duplicates; returns timings and the queries."""
    started = time.perf_counter()
    population = generate(people=people_count, seed=SEED)
    generated = time.perf_counter() - started
    truth = population.truth
    duplicate_rows = pc.indices_nonzero(pc.is_valid(truth["duplicate_of"])).to_pylist()
    held = sorted(random.Random(SEED).sample(duplicate_rows, min(PLANTED, len(duplicate_rows))))
    held_set = set(held)
    keep = pa.array([i not in held_set for i in range(population.people)])
    records = population.records.filter(keep)
    importer = Actor("bench.importer", Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION)
    started = time.perf_counter()
    for number, chunk in enumerate(_chunks_by_household(records, IMPORT_CHUNK)):
        services.importer.import_table(importer, chunk, source=f"bench-{number}")
    imported = time.perf_counter() - started

    started = time.perf_counter()
    summary = Deduplication(services.uow()).run(
        Actor("bench.reviewer", Role.CASEWORKER, Purpose.DUPLICATE_REVIEW)
    )
    trained = time.perf_counter() - started

    with services.uow() as uow:
        wanted = [truth["duplicate_of"][i].as_py() for i in held]
        ref_to_id: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            ref_to_id.update(
                uow.connection.execute(
                    select(people.c.record_ref, people.c.id).where(
                        people.c.record_ref.in_(wanted[start : start + 500])
                    )
                ).all()
            )
    planted_rows = population.records.take(pa.array(held)).to_pylist()
    planted = [
        {"row": row, "original": ref_to_id[ref], "errors": truth["errors"][i].as_py()}
        for row, ref, i in zip(planted_rows, wanted, held, strict=True)
    ]
    fresh = generate(people=NEW_PEOPLE, seed=SEED + 1, duplicate_rate=0.0).records.to_pylist()
    queries: list[dict[str, Any]] = []
    for index in range(max(len(planted), len(fresh))):
        if index < len(planted):
            queries.append(planted[index])
        if index < len(fresh):
            queries.append({"row": fresh[index], "original": None, "errors": None})
    timings = {
        "generate_seconds": round(generated, 1),
        "import_seconds": round(imported, 1),
        "train_seconds": round(trained, 1),
        "registry_people": int(records.num_rows),
        "run_pairs_linked": summary.pairs_linked,
        "run_notes": list(summary.notes),
    }
    return timings, queries


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _measure(services: Services, queries: list[dict[str, Any]]) -> dict[str, Any]:
    caseworker = Actor("bench.caseworker", Role.CASEWORKER, Purpose.REGISTRATION)
    check = DuplicateCheck(services.uow(), services.cipher)
    for query in queries[:20]:  # warm up: the model is loaded once per run and cached
        check.check(caseworker, query["row"], query["row"])
    seconds: list[float] = []
    candidates: list[int] = []
    found = planted = flagged_new = new = 0
    missed: list[str] = []
    for query in queries:
        started = time.perf_counter()
        result = check.check(caseworker, query["row"], query["row"])
        seconds.append(time.perf_counter() - started)
        candidates.append(result.candidates)
        if query["original"] is None:
            new += 1
            flagged_new += bool(result.matches)
        else:
            planted += 1
            if any(m.person_id == query["original"] for m in result.matches):
                found += 1
            elif len(missed) < 20:
                missed.append(query["errors"])
    milliseconds = [s * 1000 for s in seconds]
    return {
        "checks": len(seconds),
        "p50_ms": round(_percentile(milliseconds, 0.50), 2),
        "p95_ms": round(_percentile(milliseconds, 0.95), 2),
        "p99_ms": round(_percentile(milliseconds, 0.99), 2),
        "max_ms": round(max(milliseconds), 2),
        "mean_ms": round(statistics.fmean(milliseconds), 2),
        "planted": planted,
        "recall": round(found / planted, 4) if planted else None,
        "new_people": new,
        "new_people_flagged": flagged_new,
        "false_alarm_rate": round(flagged_new / new, 4) if new else None,
        "candidates_mean": round(statistics.fmean(candidates), 1),
        "candidates_max": max(candidates),
        "missed_errors": missed,
        "threshold": check.threshold,
    }


def _measure_import_check(services: Services, queries: list[dict[str, Any]]) -> dict[str, Any]:
    """How fast `check_table` goes through import rows (the import report's check)."""
    administrator = Actor("bench.importer", Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION)
    rows = [q["row"] for q in queries][:IMPORT_CHECK_ROWS]
    started = time.perf_counter()
    found = DuplicateCheck(services.uow(), services.cipher).check_table(
        administrator, pa.Table.from_pylist(rows)
    )
    seconds = time.perf_counter() - started
    return {
        "import_check_rows": len(rows),
        "import_check_seconds": round(seconds, 2),
        "import_check_rows_per_second": round(len(rows) / seconds),
        "import_check_rows_flagged": len(found),
    }


def _measure_splink(services: Services) -> dict[str, Any]:
    """What one pair costs through Splink itself (the alternative to scoring in Python).

    `score_pair` on a linker with the trained model, and `compare_records` with its SQL
    cached, on DuckDB in this process; 20 pairs of synthetic records each.
    """
    import duckdb
    from splink import DuckDBAPI, Linker
    from splink.internals.realtime import compare_records

    with services.uow() as uow:
        stored = uow.connection.execute(
            select(dedup_runs.c.model).order_by(dedup_runs.c.finished_at.desc()).limit(1)
        ).scalar_one()
    model = json.loads(stored)["splink"]
    records = generate(people=2000, seed=SEED + 2).records
    prepared = normalise(
        pa.table({"person_id": records["record_ref"], **{c: records[c] for c in INPUT_COLUMNS[1:]}})
    )
    rows = [{**row, "tf_given": 0.001} for row in prepared.slice(0, 41).to_pylist()]
    database = DuckDBAPI(connection=duckdb.connect())
    linker = Linker(database.register(prepared), model, log_level=None)
    timings: dict[str, list[float]] = {"score_pair": [], "compare_records": []}
    for index in range(20):
        left, right = rows[2 * index], rows[2 * index + 1]
        started = time.perf_counter()
        linker.inference.score_pair(left, right).as_record_list()
        timings["score_pair"].append(time.perf_counter() - started)
        started = time.perf_counter()
        compare_records(left, right, model, database, sql_cache_key="bench").as_record_list()
        timings["compare_records"].append(time.perf_counter() - started)
    return {
        f"splink_{name}_ms_p50": round(_percentile([t * 1000 for t in values], 0.5), 1)
        for name, values in timings.items()
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Build a registry of 1,000,000 people (20,000 when quick), train, time 1,000 checks."""
    people_count = QUICK_PEOPLE if quick else FLOOR_PEOPLE
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        var_dir = Path(tmp)
        url = f"sqlite:///{var_dir / 'fairshare.sqlite3'}"
        schema.upgrade(make_engine(url))
        services = bootstrap(
            Settings(
                environment="test", var_dir=var_dir, key_dir=var_dir / "keys", database_url=url
            )
        )
        services.cipher  # noqa: B018 - create the key before the clock starts
        build, queries = _build(services, people_count)
        result = {"people": people_count, **build, **_measure(services, queries)}
        result.update(_measure_import_check(services, queries))
        try:
            result.update(_measure_splink(services))
        except Exception as error:  # only a comparison; the check itself is measured above
            result["splink_error"] = f"{type(error).__name__}: {error}"[:300]
    floor_met = None if people_count != FLOOR_PEOPLE else result["p95_ms"] < FLOOR_P95_MS
    return {
        "name": "registration-check",
        "floor": "p95 under 200 ms for one check against 1,000,000 people (SQLite)",
        "floor_met": floor_met,
        "results": [result],
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
