"""Many tills redeem against one entitlement at the same moment: never more than it holds.

Each worker is a thread with its own unit of work on an engine (its own connection and
transaction), against a database of its own, since the shared test connection would
serialise them.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from fairshare.bootstrap import Services
from fairshare.credentials.model import Authorisation
from fairshare.ledger.model import InsufficientBalance, Redemption, TransferInFlight
from fairshare.ledger.orm import ledger_accounts, ledger_transfers
from fairshare.ledger.services import trial_balance
from tests.conftest import BACKENDS
from tests.faults import ledger_world as world
from tests.faults.ledger_world import MONEY, MONEY_AMOUNT
from tests.integration.ledger.paid_world import TODAY, checked_in, paid_world

WORKERS, REQUESTS = 8, 6


@dataclass
class Target:
    services: Services
    engine: Engine
    beneficiary: str
    authorisation: Authorisation


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A database of its own, one cycle paid, and one pensioner checked in at the till."""
    with paid_world(
        request.param, tmp_path, "concurrency", people=40, merchants=2, tills=WORKERS
    ) as services:
        person, authorisation = checked_in(services)
        yield Target(services, services.engine, person, authorisation)


def _redeem(target: Target, worker: int, key: str, amount: int) -> Redemption:
    return target.services.ledger.redeem(
        world.till(worker % 2, worker),
        key=key,
        beneficiary_id=target.beneficiary,
        programme=MONEY,
        asset="local_currency",
        amount=amount,
        authorisation=target.authorisation,
        today=TODAY,
    )


def test_concurrent_redemptions_never_take_more_than_the_entitlement(target: Target) -> None:
    """Eight tills at once ask for about four times the balance: what is acknowledged fits
    the entitlement and is stored once, the rest is refused for balance, and a request sent
    by two tills at the same moment is posted once (the other gets 409 or the first result)."""
    rng = random.Random(5)
    plans: list[list[tuple[str, int]]] = [[] for _ in range(WORKERS)]
    for worker in range(WORKERS):
        for number in range(REQUESTS):
            plans[worker].append((f"till-{worker}-{number:04d}", rng.randint(500, 1700)))
    for pair in range(WORKERS // 2):  # the same request from two tills at once
        amount = rng.randint(500, 1700)
        plans[2 * pair].insert(0, (f"shared-{pair:04d}", amount))
        plans[2 * pair + 1].insert(0, (f"shared-{pair:04d}", amount))
    start = threading.Barrier(WORKERS)
    outcomes: list[tuple[str, int, Any]] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        start.wait()
        for key, amount in plans[worker]:
            try:
                outcome: Any = _redeem(target, worker, key, amount)
            except (InsufficientBalance, TransferInFlight) as refused:
                outcome = refused
            except Exception as error:  # anything else fails the test below
                outcome = error
            with lock:
                outcomes.append((key, amount, outcome))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    unexpected = [o for o in outcomes if not isinstance(o[2], Redemption | InsufficientBalance)]
    assert all(
        key.startswith("shared-") and isinstance(error, TransferInFlight)
        for key, _, error in unexpected
    ), unexpected
    first = {key: o for key, _, o in outcomes if isinstance(o, Redemption) and not o.replayed}
    for key, _, outcome in outcomes:
        if isinstance(outcome, Redemption) and outcome.replayed:
            ids = [transfer.id for transfer in outcome.transfers]
            assert ids == [transfer.id for transfer in first[key].transfers]  # the first result
    redeemed = sum(o.amount for o in first.values())
    assert 0 < redeemed <= MONEY_AMOUNT
    assert any(isinstance(o, InsufficientBalance) for _, _, o in outcomes)
    with target.engine.connect() as connection:
        stored = dict(
            connection.execute(
                select(ledger_transfers.c.idempotency_key, func.count())
                .where(ledger_transfers.c.kind == "redemption")
                .group_by(ledger_transfers.c.idempotency_key)
            ).all()
        )
        debited = connection.execute(
            select(ledger_accounts.c.debits_posted, ledger_accounts.c.credits_posted).where(
                ledger_accounts.c.owner_id == target.beneficiary
            )
        ).one()
        balance = trial_balance(connection)
    assert sorted(stored) == sorted(first) and set(stored.values()) == {1}
    assert tuple(debited) == (redeemed, MONEY_AMOUNT)
    assert balance.balanced


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_a_key_held_by_another_connection_is_in_flight(target: Target) -> None:
    """While another connection (another server process) holds a request's key, the same
    key gets 409 (TransferInFlight) instead of waiting; once it lets go, the request posts."""
    key = "till-0-held-0001"
    holder = target.engine.connect()
    transaction = holder.begin()
    taken = holder.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 7))"), {"key": key}
    ).scalar()
    assert taken
    with pytest.raises(TransferInFlight):
        _redeem(target, 0, key, 100)
    transaction.rollback()
    holder.close()
    assert _redeem(target, 0, key, 100).amount == 100
