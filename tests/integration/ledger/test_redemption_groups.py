"""On SQLite, redemptions that arrive together in one server process share one transaction
and one commit (decision 0029): each in a savepoint, each answered only once the group is
durable, a refused one keeping nothing and costing the others nothing.

The services run on an engine of their own, as a server's do. PostgreSQL commits
redemptions side by side and does not group them (decision 0028); the concurrency tests in
test_concurrency.py run both databases through whichever path applies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from fairshare import group_commit
from fairshare.audit import services as audit
from fairshare.audit.model import Tag
from fairshare.audit.orm import AccessLogRepository
from fairshare.bootstrap import Services
from fairshare.credentials.model import Authorisation, AuthorisationMethod
from fairshare.db import UnitOfWork
from fairshare.ledger.model import InsufficientBalance, Redemption
from fairshare.ledger.orm import ledger_transfers
from fairshare.ledger.services import Ledger
from tests.faults import ledger_world as world
from tests.faults.ledger_world import CHECKER, DISBURSER, MONEY, MONEY_AMOUNT
from tests.integration.ledger.paid_world import TODAY, paid_world


@dataclass
class Market:
    services: Services
    pairs: list[tuple[str, str]]  # (beneficiary, verification id)


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Market]:
    """A SQLite database of its own, one cycle paid, everyone checked in, one redemption
    made (the shop's settlement account opened)."""
    with paid_world("sqlite", tmp_path, "groups", people=16, merchants=1, tills=6) as services:
        world.verify_everyone(services, MONEY)
        found = world.authorisations(services)
        pairs = [(subject, found[subject]) for subject, _ in world.enrolled(services, MONEY)]
        market = Market(services, pairs)
        _redeem(market, 0, "opening-redemption", pairs[-1][0], 1)
        yield market


def _redeem(market: Market, till: int, key: str, beneficiary: str, amount: int) -> Redemption:
    verification = dict(market.pairs)[beneficiary]
    return market.services.ledger.redeem(
        world.till(0, till),
        key=key,
        beneficiary_id=beneficiary,
        programme=MONEY,
        asset="local_currency",
        amount=amount,
        authorisation=Authorisation(AuthorisationMethod.CASEWORKER, verification),
        today=TODAY,
    )


@dataclass
class HeldGroups:
    """`Ledger._redeem_group` with the first group held until released, and the size of
    every group written."""

    sizes: list[int] = field(default_factory=list)
    first_started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldGroups:
    groups = HeldGroups()
    write = Ledger._redeem_group

    def held_write(self: Ledger, requests: Sequence[Any]) -> list[Any]:
        groups.sizes.append(len(requests))
        if len(groups.sizes) == 1:
            groups.first_started.set()
            assert groups.release.wait(10)
        return write(self, requests)

    monkeypatch.setattr(Ledger, "_redeem_group", held_write)
    return groups


def _together(
    market: Market, held: HeldGroups, requests: list[tuple[str, str, int]]
) -> dict[str, Any]:
    """Send the first request, then the others while its group is held, one thread each
    and in order; release the group once all wait; return each key's redemption or error."""
    results: dict[str, Any] = {}

    def send(till: int, key: str, beneficiary: str, amount: int) -> None:
        try:
            results[key] = _redeem(market, till, key, beneficiary, amount)
        except Exception as error:
            results[key] = error

    group = group_commit.group_for(market.services.engine)
    threads = []
    for till, (key, beneficiary, amount) in enumerate(requests):
        threads.append(threading.Thread(target=send, args=(till, key, beneficiary, amount)))
        threads[-1].start()
        if till == 0:
            assert held.first_started.wait(10)
        deadline = time.monotonic() + 10
        while group.queued < till and time.monotonic() < deadline:
            time.sleep(0.001)
    held.release.set()
    for thread in threads:
        thread.join(10)
    return results


def _count_transfers(market: Market) -> int:
    with market.services.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(ledger_transfers)).scalar_one()


def test_redemptions_arriving_together_share_a_commit_and_a_refusal_keeps_nothing(
    market: Market, held: HeldGroups
) -> None:
    (first, _), (second, _), (third, _) = market.pairs[:3]
    before = _count_transfers(market)
    results = _together(
        market,
        held,
        [
            ("group-k-1", first, 1000),
            ("group-k-2", second, 2000),
            ("group-k-3", third, MONEY_AMOUNT + 1),  # more than the entitlement holds
            ("group-k-4", second, 3000),  # the same entitlement again, after k-2 in the group
            ("group-k-5", first, 500),
        ],
    )
    assert held.sizes == [1, 4]
    refused = results.pop("group-k-3")
    assert isinstance(refused, InsufficientBalance)
    assert refused.details["available"] == MONEY_AMOUNT
    assert {key: r.available_after for key, r in results.items()} == {
        "group-k-1": MONEY_AMOUNT - 1000,
        "group-k-2": MONEY_AMOUNT - 2000,
        "group-k-4": MONEY_AMOUNT - 5000,
        "group-k-5": MONEY_AMOUNT - 1500,
    }
    assert _count_transfers(market) == before + 4
    ledger = market.services.ledger
    balances = {
        a.owner_id: a.available
        for a in ledger.entitlements(CHECKER, [first, second, third], today=TODAY)
    }
    assert balances == {
        first: MONEY_AMOUNT - 1500,
        second: MONEY_AMOUNT - 5000,
        third: MONEY_AMOUNT,
    }
    assert ledger.trial_balance(DISBURSER).balanced
    # Every kept redemption is in the access log, chained; the refused one wrote nothing.
    with market.services.uow() as uow:
        entries = AccessLogRepository(uow.connection).search(
            subject_ids=[first, second, third], action=Tag.LEDGER_ENTITLEMENT_REDEEM
        )
    assert sorted(e.subject_id for e in entries) == sorted([first, first, second, second])
    assert audit.verify(market.services.uow()).ok
    # A retry of a grouped redemption replays it.
    again = _redeem(market, 1, "group-k-4", second, 3000)
    assert again.replayed
    assert [t.id for t in again.transfers] == [t.id for t in results["group-k-4"].transfers]


def test_a_group_whose_commit_fails_answers_everyone_with_the_error_and_keeps_nothing(
    market: Market, held: HeldGroups, monkeypatch: pytest.MonkeyPatch
) -> None:
    (first, _), (second, _) = market.pairs[:2]
    before = _count_transfers(market)
    commit = UnitOfWork.commit

    def failing_commit(self: UnitOfWork) -> None:
        if self._owns_connection:  # the group's transaction, not a member's savepoint
            raise OSError("disk full")
        commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)
    results = _together(
        market,
        held,
        [("group-f-1", first, 100), ("group-f-2", second, 200), ("group-f-3", first, 300)],
    )
    assert held.sizes == [1, 2]
    assert all(isinstance(r, OSError) and str(r) == "disk full" for r in results.values())
    monkeypatch.setattr(UnitOfWork, "commit", commit)
    assert _count_transfers(market) == before
    # Nothing was kept, so the same keys go through afresh.
    assert not _redeem(market, 0, "group-f-2", second, 200).replayed


def test_a_lone_redemption_is_not_held_back_or_wrapped_in_a_savepoint(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a quiet server a redemption is its own group of one: straight to its own
    transaction, no savepoint."""
    nested: list[bool] = []
    enter = UnitOfWork.__enter__

    def entering(self: UnitOfWork) -> UnitOfWork:
        nested.append(not isinstance(self.bind, Engine))
        return enter(self)

    monkeypatch.setattr(UnitOfWork, "__enter__", entering)
    first, _ = market.pairs[0]
    done = _redeem(market, 0, "lone-redemption", first, 700)
    assert done.available_after == MONEY_AMOUNT - 700
    assert nested == [False]
