"""Benchmark: the ledger under SIGKILL, at least fifty kills on each database.

A worker process runs cycles in small batches, expiries and redemptions at several tills;
it is killed (SIGKILL) at a random moment; then the ledger is checked, what was interrupted
is rerun (cycles, expiries, the redemptions a till would resend) and it is checked again:
every asset sums to zero, no account breaks its flags or differs from its transfers, every
acknowledged transfer is present exactly once, and nobody was paid twice for a period.
The same loop runs in CI with ten kills (tests/integration/ledger/test_crash.py).
Run as `python -m bench.bench_ledger_crash [--quick]` (quick: 5 kills per database).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.faults import ledger_crash
from tests.faults import ledger_world as world

KILLS = 50
QUICK_KILLS = 5
PEOPLE = 600
POSTGRES_ADMIN = os.environ.get(
    "FAIRSHARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _one(database: str, url: str, workdir: Path, kills: int) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = world.build(url, workdir, people=PEOPLE)
    services = world.services_for(info)
    world.verify_everyone(services, world.MONEY)
    world.verify_everyone(services, world.IN_KIND)
    services.engine.dispose()
    setup = time.perf_counter() - started
    report = ledger_crash.crash_loop(info, workdir, kills=kills, seed=kills, database=database)
    return {**report.as_dict(), "setup_seconds": round(setup, 2), "people": PEOPLE}


def run(quick: bool = False) -> dict[str, Any]:
    """Kill the worker KILLS times (QUICK_KILLS when quick) on SQLite and on PostgreSQL."""
    kills = QUICK_KILLS if quick else KILLS
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        workdir = Path(tmp)
        sqlite = workdir / "sqlite"
        results.append(_one("sqlite", f"sqlite:///{sqlite / 'ledger.sqlite3'}", sqlite, kills))
        url = ledger_crash.create_postgres(POSTGRES_ADMIN, "bench_crash")
        try:
            results.append(_one("postgresql", url, workdir / "postgresql", kills))
        finally:
            ledger_crash.drop_postgres(POSTGRES_ADMIN, url)
    return {
        "name": "ledger-crash",
        "floor": "at least 50 SIGKILLs per database, every invariant holding after each",
        "floor_met": None
        if quick
        else all(r["kills"] >= KILLS and r["checks_failed"] == 0 for r in results),
        "results": results,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
