"""The ledger survives SIGKILL at random moments of cycles, expiries and redemptions.

Each kill is followed by a check, a rerun of what was interrupted (the cycle, the expiry,
the redemption a till would resend) and a second check: every asset sums to zero, no
account breaks its flags or drifts from its transfers, every acknowledged transfer is there
exactly once, nobody is paid twice for a period, and every cycle pays everyone once. A few
kills per database here; bench/bench_ledger_crash.py runs fifty or more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from fairshare.db import make_engine
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database
from tests.faults import ledger_crash, ledger_invariants
from tests.faults import ledger_world as world
from tests.faults.ledger_world import WorldInfo

pytestmark = pytest.mark.slow

KILLS = 10
PEOPLE = 400


@pytest.fixture(params=BACKENDS)
def crash_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorldInfo]:
    """A database of its own (workers connect to it from other processes), filled."""
    if request.param == "sqlite":
        url, admin = f"sqlite:///{tmp_path / 'crash.sqlite3'}", None
    else:
        url, admin = create_postgres_database("fairshare_crash")
    info = world.build(url, tmp_path, people=PEOPLE)
    services = world.services_for(info)
    world.verify_everyone(services, world.MONEY)
    world.verify_everyone(services, world.IN_KIND)
    services.engine.dispose()
    yield info
    if admin is not None:
        drop_postgres_database(url, admin)


def test_random_kills_lose_nothing_and_pay_nobody_twice(
    crash_world: WorldInfo, tmp_path: Path
) -> None:
    """After each of ten SIGKILLs and its rerun, all ledger invariants hold."""
    report = ledger_crash.crash_loop(crash_world, tmp_path, kills=KILLS, seed=20261130)
    assert not report.problems, "\n".join(report.problems)
    assert (report.kills, report.reruns, report.checks_passed) == (KILLS, KILLS, KILLS)
    assert report.killed_while_running == KILLS
    assert report.acknowledged > 0 and report.cycles_completed > 0


def test_the_checks_see_a_lost_transfer_and_a_drifted_account(
    crash_world: WorldInfo, tmp_path: Path
) -> None:
    """The invariant checks are not vacuous: an invented acknowledgement and an account
    changed behind the ledger's back are both reported."""
    report = ledger_crash.crash_loop(crash_world, tmp_path, kills=1, seed=7)
    assert report.problems == []
    entries = ledger_invariants.read_acks(tmp_path / "acks.jsonl")
    invented = {"op": "ack", "key": "never-sent-0001", "ids": ["x"], "amount": 1}
    engine = make_engine(crash_world.url)
    with engine.begin() as connection:
        assert ledger_invariants.check(connection, entries) == []
        connection.execute(
            text(
                # Any account: the kill may have come before the cycle made entitlements.
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = "
                "(SELECT min(id) FROM ledger_accounts WHERE kind = 'funding')"
            )
        )
        problems = ledger_invariants.check(connection, [*entries, invented])
    engine.dispose()
    assert any("does not sum to zero" in problem for problem in problems)
    assert any("differ from their transfers" in problem for problem in problems)
    assert any("never-sent-0001" in problem for problem in problems)
