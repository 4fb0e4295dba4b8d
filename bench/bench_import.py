"""Benchmark: how fast a bulk import lands in a fresh SQLite registry, with its access log.

The floor: 100,000 people in under 60 s on SQLite. A synthetic population is written as
Parquet and as CSV; each file is imported (read, validated, written, logged) into its own fresh
database, then the access-log chain is verified.
Run as `python -m bench.bench_import [--quick]`; prints the result as JSON.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from fairshare import schema
from fairshare.audit import services as audit
from fairshare.audit.orm import access_log
from fairshare.bootstrap import bootstrap
from fairshare.db import make_engine
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.registry.importing import read_table
from fairshare.settings import Settings
from fairshare.synth.generate import generate, write

FLOOR_PEOPLE = 100_000
QUICK_PEOPLE = 20_000
FLOOR_SECONDS = 60.0
FORMATS = ("parquet", "csv")


def _import(records_path: Path, fmt: str, workdir: Path) -> dict[str, Any]:
    """Import one file into a fresh, migrated SQLite database and verify the log after."""
    var_dir = workdir / f"registry-{fmt}"
    url = f"sqlite:///{var_dir / 'fairshare.sqlite3'}"
    schema.upgrade(make_engine(url))
    services = bootstrap(
        Settings(environment="test", var_dir=var_dir, key_dir=var_dir / "keys", database_url=url)
    )
    services.cipher  # noqa: B018 - create the key before the clock starts
    actor = Actor("bench.importer", Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION)
    started = time.perf_counter()
    table = read_table(records_path)
    read = time.perf_counter() - started
    report = services.importer.import_table(actor, table, source=records_path.name)
    seconds = time.perf_counter() - started
    with services.uow() as uow:
        entries = uow.connection.execute(select(func.count()).select_from(access_log)).scalar_one()
    started = time.perf_counter()
    verification = audit.verify(services.uow())
    verified = time.perf_counter() - started
    return {
        "format": fmt,
        "people": report.people,
        "households": report.households,
        "rejected_rows": report.rejected_rows,
        "file_bytes": records_path.stat().st_size,
        "seconds": round(seconds, 3),
        "read_seconds": round(read, 3),
        "people_per_second": round(report.people / seconds),
        "access_log_entries": int(entries),
        "verify_seconds": round(verified, 3),
        "verify_entries_per_second": round(verification.entries_checked / verified),
        "verify_ok": verification.ok,
        "database_bytes": (var_dir / "fairshare.sqlite3").stat().st_size,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Import 100,000 generated people (20,000 when quick) from Parquet and from CSV."""
    people = QUICK_PEOPLE if quick else FLOOR_PEOPLE
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        population = generate(people=people, seed=42)
        generated = time.perf_counter() - started
        paths = {fmt: write(population, workdir / f"synth-{fmt}", fmt)[0] for fmt in FORMATS}
        results = [_import(paths[fmt], fmt, workdir) for fmt in FORMATS]
    floor_met = (
        None
        if people != FLOOR_PEOPLE
        else all(r["seconds"] < FLOOR_SECONDS and r["verify_ok"] for r in results)
    )
    return {
        "name": "import",
        "floor": "100,000 people in under 60 s on SQLite",
        "floor_met": floor_met,
        "people": people,
        "generate_seconds": round(generated, 3),
        "results": results,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
