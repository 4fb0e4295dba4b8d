"""The crash loop: start a ledger worker, SIGKILL it at a random moment, check the ledger,
rerun what was interrupted (cycles, expiries, the requests a till would resend), check again.

Used by tests/integration/ledger/test_crash.py (a few kills per database) and by
bench/bench_ledger_crash.py (fifty or more).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from fairshare.db import make_engine, normalise_url
from fairshare.errors import NotFound
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.model import InsufficientBalance, LimitExceeded
from fairshare.ledger.orm import ledger_cycles
from tests.faults import ledger_invariants, ledger_worker
from tests.faults import ledger_world as world
from tests.faults.ledger_world import DISBURSER, IN_KIND, WorldInfo

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class CrashReport:
    database: str
    kills: int = 0
    killed_while_running: int = 0
    reruns: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    acknowledged: int = 0
    resent_after_kill: int = 0
    cycles_completed: int = 0
    cycles_resumed: int = 0
    expiries: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def create_postgres(admin_url: str, prefix: str) -> str:
    """A fresh database on the server of `admin_url`; returns its URL."""
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalise_url(admin_url)).set(database=name).render_as_string(False)


def drop_postgres(admin_url: str, url: str) -> None:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = make_url(url).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _start(info: WorldInfo, ack: Path, seed: int, ready: Path, launcher: str) -> Any:
    if launcher == "fork":
        # Forked from this process, whose engine was disposed first: the child opens its own.
        process = multiprocessing.get_context("fork").Process(
            target=ledger_worker.work, args=(info, ack, seed, ready), daemon=True
        )
        process.start()
        return process
    world_file = ack.with_suffix(".world.json")
    world_file.write_text(info.dumps())
    environment = {**os.environ, "PYTHONPATH": f"{REPOSITORY / 'src'}{os.pathsep}{REPOSITORY}"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.faults.ledger_worker",
            *(str(arg) for arg in (world_file, ack, seed, ready)),
        ],
        cwd=REPOSITORY,
        env=environment,
    )
    return child


def _alive(child: Any) -> bool:
    return child.is_alive() if hasattr(child, "is_alive") else child.poll() is None


def _reap(child: Any) -> None:
    if hasattr(child, "join"):
        child.join(10)
    else:
        child.wait(10)


def _resend_unacknowledged(services: Any, ack: Path, report: CrashReport) -> None:
    """What a till does after losing its answer: send the same request again."""
    entries = ledger_invariants.read_acks(ack)
    settled = {e["key"] for e in entries if e.get("op") in ("ack", "settled")}
    acks = ledger_worker.Acknowledgements(ack)
    ledger = services.ledger
    for entry in entries:
        if entry.get("op") != "intent" or entry["key"] in settled:
            continue
        today = date.fromisoformat(entry["today"])
        try:
            redemption = ledger_worker.send(ledger, entry["till"], entry["merchant"], entry, today)
        except (InsufficientBalance, NotFound, LimitExceeded):
            acks.write({"op": "settled", "key": entry["key"]})
            continue
        report.resent_after_kill += 1
        ids = [transfer.id for transfer in redemption.transfers]
        acks.write({"op": "ack", "key": entry["key"], "ids": ids, "amount": entry["amount"]})


def _rerun(services: Any, report: CrashReport) -> list[tuple[str, str]]:
    """Finish every cycle that was started and expire every in-kind period posted."""
    with services.uow() as uow:
        started = uow.connection.execute(
            select(ledger_cycles.c.programme, ledger_cycles.c.period, ledger_cycles.c.status)
        ).all()
    cycles = Cycles(services.uow())
    expired = []
    for programme, period, status in started:
        if status != "completed":
            cycles.run(DISBURSER, programme, period, today=ledger_worker.period_day(period))
            report.cycles_resumed += 1
        if programme == IN_KIND:
            ledger_worker.expire(cycles, period)
            expired.append((programme, period))
    report.cycles_completed = len(started)
    report.expiries = len(expired)
    return expired


def crash_loop(
    info: WorldInfo,
    workdir: Path,
    *,
    kills: int,
    seed: int = 1,
    min_delay: float = 0.05,
    max_delay: float = 1.5,
    launcher: str = "fork",
    database: str = "",
) -> CrashReport:
    """Kill a worker `kills` times at random moments; after each kill check, rerun, check."""
    rng = random.Random(seed)
    report = CrashReport(database=database or make_url(info.url).get_backend_name())
    ack = workdir / "acks.jsonl"
    started = time.perf_counter()
    engine: Engine = make_engine(info.url)
    services = world.services_for(info, engine)
    for attempt in range(kills):
        engine.dispose()
        ready = workdir / f"ready-{attempt}"
        child = _start(info, ack, seed * 1000 + attempt, ready, launcher)
        deadline = time.monotonic() + 60
        while not ready.exists() and _alive(child) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(min_delay, max_delay))
        report.killed_while_running += _alive(child)
        if _alive(child):
            os.kill(child.pid, signal.SIGKILL)
        _reap(child)
        report.kills += 1
        entries = ledger_invariants.read_acks(ack)
        with engine.connect() as connection:
            problems = ledger_invariants.check(connection, entries)
        _resend_unacknowledged(services, ack, report)
        expired = _rerun(services, report)
        report.reruns += 1
        entries = ledger_invariants.read_acks(ack)
        with engine.connect() as connection:
            problems += ledger_invariants.check(
                connection, entries, complete=True, expired_periods=expired
            )
        report.acknowledged = sum(1 for entry in entries if entry.get("op") == "ack")
        if problems:
            report.checks_failed += 1
            report.problems += [f"after kill {attempt + 1}: {p}" for p in problems]
        else:
            report.checks_passed += 1
    engine.dispose()
    report.seconds = round(time.perf_counter() - started, 2)
    return report
