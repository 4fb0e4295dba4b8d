"""Benchmark: an entitlement cycle for 1,000,000 beneficiaries on SQLite.

Floor (issue 5): the cycle posts in under 60 s on SQLite (a file database with the default
settings of fairshare.db). Only `Cycles.run` is timed: the world is built through the
services (synthetic people imported, the programmes published and run, funded), then the
enrolments are topped up to 1,000,000 with SQL (`ledger_world.bulk_enrolments`: each points
at a real decision row of the programme's real eligibility run), because importing a million
people through the importer alone takes several minutes and is measured by bench_import.

Also timed: a rerun of the same period (nothing left to post), a second period of the money
programme (every wallet exists, so accounts are credited rather than created), a cycle and
an expiry of an in-kind period (quotas returned to the programme), and then what an auditor
asks of the ledger they leave: the trial balance and a month's reconciliation.
Run as `python -m bench.bench_ledger_cycle [--quick]` (quick: 20,000 beneficiaries).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import update
from tests.faults import ledger_world as world
from tests.faults.ledger_world import DISBURSER, IN_KIND, MONEY

from fairshare.eligibility.orm import enrolments

FLOOR_BENEFICIARIES = 1_000_000
QUICK_BENEFICIARIES = 20_000
FLOOR_SECONDS = 60.0


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _timed(label: str, action: Any, beneficiaries: int) -> dict[str, Any]:
    started, cpu_started = time.perf_counter(), time.process_time()
    result = action()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    row = {
        "measure": label,
        "beneficiaries": beneficiaries,
        "posted": getattr(result, "posted", getattr(result, "accounts", 0)),
        "seconds": round(seconds, 3),
        # This process's own CPU time (SQLite runs in it): on a shared machine the wall time
        # also counts the time other processes held the cores.
        "cpu_seconds": round(cpu_seconds, 3),
        "load_average": [round(value, 2) for value in os.getloadavg()[:2]],
        "per_second": round(getattr(result, "posted", getattr(result, "accounts", 0)) / seconds),
        "peak_rss_mb": _rss_mb(),
    }
    if hasattr(result, "balanced"):  # the auditor's checks: what they found
        row["balanced"] = result.balanced
    print(json.dumps(row), flush=True)
    return row


def run(quick: bool = False) -> dict[str, Any]:
    """Time Cycles.run for 1,000,000 beneficiaries (20,000 when quick) on SQLite."""
    target = QUICK_BENEFICIARIES if quick else FLOOR_BENEFICIARIES
    with tempfile.TemporaryDirectory(prefix="bench-cycle-") as tmp:
        workdir = Path(tmp)
        path = workdir / "ledger.sqlite3"
        started = time.perf_counter()
        info = world.build(f"sqlite:///{path}", workdir, people=2_000)
        services = world.services_for(info)
        for programme in (MONEY, IN_KIND):
            have = len(world.enrolled(services, programme))
            world.bulk_enrolments(services, programme, target - have)
        with services.uow() as uow:  # the in-kind programme is for households
            uow.connection.execute(
                update(enrolments)
                .where(enrolments.c.programme == IN_KIND)
                .where(enrolments.c.subject_type == "person")
                .values(subject_type="household")
            )
            uow.commit()
        setup = time.perf_counter() - started
        cycles = services.cycles
        june, july = date(2025, 6, 15), date(2025, 7, 15)
        results = [
            _timed(
                "cycle, money (new wallets)",
                lambda: cycles.run(DISBURSER, MONEY, "2025-06", today=june),
                target,
            ),
            _timed(
                "rerun, nothing to post",
                lambda: cycles.run(DISBURSER, MONEY, "2025-06", today=june),
                target,
            ),
            _timed(
                "cycle, money (wallets credited)",
                lambda: cycles.run(DISBURSER, MONEY, "2025-07", today=july),
                target,
            ),
            _timed(
                "cycle, in kind (quotas of the period)",
                lambda: cycles.run(DISBURSER, IN_KIND, "2025-06", today=june),
                target,
            ),
            _timed(
                "expiry of the in-kind period",
                lambda: cycles.expire(DISBURSER, IN_KIND, "2025-06", today=july),
                target,
            ),
        ]
        # What an auditor asks of the ledger these left (3 million accounts' worth of
        # transfers): the trial balance and the reconciliation of one month.
        ledger, reports = services.ledger, services.ledger_reports
        for label, check in (
            (
                "trial balance (every asset, flags recounted)",
                lambda: ledger.trial_balance(DISBURSER),
            ),
            (
                "reconciliation of local currency for 2025-06",
                lambda: reports.reconciliation(DISBURSER, "local_currency", "2025-06"),
            ),
        ):
            results.append(_timed(label, check, target))
        database_bytes = path.stat().st_size
    first = results[0]
    return {
        "name": "ledger-cycle",
        "floor": "a cycle for 1,000,000 beneficiaries in under 60 s on SQLite",
        "floor_met": None
        if quick
        else first["posted"] == FLOOR_BENEFICIARIES and first["seconds"] < FLOOR_SECONDS,
        "beneficiaries": target,
        "setup_seconds": round(setup, 1),
        "database_bytes": database_bytes,
        "results": results,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
