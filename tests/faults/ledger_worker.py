"""A process that keeps the ledger busy until it is killed: cycles in small batches, expiry
of in-kind quotas, and redemptions at several tills, all through the services.

Each redemption is announced before it is sent (an `intent` line: what a till would retry)
and acknowledged after the service returns (an `ack` line, flushed and fsynced before the
next request), so the parent that SIGKILLs this process knows exactly which transfers the
ledger promised. Run as
`python -m tests.faults.ledger_worker WORLD_JSON ACK_FILE SEED [READY_FILE]`, or forked by
tests/faults/ledger_crash.py.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import traceback
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select

from fairshare.credentials.model import Authorisation, AuthorisationMethod
from fairshare.db import make_engine
from fairshare.errors import NotFound
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.model import InsufficientBalance, LimitExceeded
from fairshare.ledger.orm import ledger_cycles
from fairshare.ledger.services import Ledger
from tests.faults import ledger_world as world
from tests.faults.ledger_world import DISBURSER, IN_KIND, MONEY, WorldInfo

CYCLE_BATCH = 20  # small, so that kills land between the batches of one cycle
FIRST_YEAR = 2000


def periods() -> list[str]:
    """The monthly periods the crash runs walk through, oldest first (all ended)."""
    return [f"{year}-{month:02d}" for year in range(FIRST_YEAR, 2025) for month in range(1, 13)]


def period_day(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 15)


def next_period(services: Any, programme: str) -> str | None:
    """The first period of `programme` no cycle has started yet."""
    with services.uow() as uow:
        latest = uow.connection.execute(
            select(func.max(ledger_cycles.c.period)).where(ledger_cycles.c.programme == programme)
        ).scalar()
    for label in periods():
        if latest is None or label > latest:
            return label
    return None


class Acknowledgements:
    """The ack file: one JSON line per promise, on disk before the next request is sent."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any], durable: bool = True) -> None:
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()
            if durable:
                os.fsync(self._file.fileno())


def redemption_request(
    key: str, beneficiary: str, programme: str, asset: str, amount: int, verification: str
) -> dict[str, Any]:
    return {
        "key": key,
        "beneficiary_id": beneficiary,
        "programme": programme,
        "asset": asset,
        "amount": amount,
        "verification": verification,
    }


def send(ledger: Ledger, till: int, merchant: int, request: dict[str, Any], today: date) -> Any:
    """One redemption through the service, as till `till` of merchant `merchant`."""
    return ledger.redeem(
        world.till(merchant, till),
        key=request["key"],
        beneficiary_id=request["beneficiary_id"],
        programme=request["programme"],
        asset=request["asset"],
        amount=request["amount"],
        authorisation=Authorisation(AuthorisationMethod.CASEWORKER, request["verification"]),
        today=today,
    )


def expire(cycles: Cycles, period: str, attempts: int = 20) -> Any:
    """Expire an in-kind period as an operator would: a redemption committed between the
    expiry's read and its update makes it refuse (LimitExceeded, "run it again"); so run it
    again."""
    for attempt in range(attempts):
        try:
            return cycles.expire(DISBURSER, IN_KIND, period, today=date(2026, 1, 1))
        except LimitExceeded:
            if attempt == attempts - 1:
                raise
    return None


def cycle_loop(services: Any, acks: Acknowledgements, rng: random.Random) -> None:
    """Post the next period of each programme in turn; expire each in-kind period after."""
    cycles = Cycles(services.uow(), batch_size=CYCLE_BATCH)
    while True:
        programme = rng.choice((MONEY, IN_KIND))
        period = next_period(services, programme)
        if period is None:
            return
        result = cycles.run(DISBURSER, programme, period, today=period_day(period))
        acks.write(
            {"op": "cycle", "programme": programme, "period": period, "posted": result.posted}
        )
        if programme == IN_KIND:
            expired = expire(cycles, period)
            acks.write(
                {
                    "op": "expire",
                    "programme": programme,
                    "period": period,
                    "accounts": expired.accounts,
                }
            )


def redemption_loop(
    services: Any, acks: Acknowledgements, rng: random.Random, name: str, info: WorldInfo
) -> None:
    """Redeem at random tills for random beneficiaries; now and then resend an earlier
    request, which must come back as the first result."""
    ledger = services.ledger
    authorised = world.authorisations(services)
    money = [subject for subject, _ in world.enrolled(services, MONEY) if subject in authorised]
    baskets = [s for s, _ in world.enrolled(services, IN_KIND) if s in authorised]
    sent: list[tuple[dict[str, Any], int, int, date]] = []
    for number in range(10**9):
        merchant, till = rng.randrange(info.merchants), rng.randrange(info.tills)
        if sent and rng.random() < 0.05:
            request, merchant, till, today = rng.choice(sent)
            again = send(ledger, till, merchant, request, today)
            acks.write(
                {
                    "op": "replay",
                    "key": request["key"],
                    "ids": [t.id for t in again.transfers],
                    "replayed": again.replayed,
                },
                durable=False,
            )
            continue
        key = f"{name}-{number:09d}"
        if baskets and rng.random() < 0.2:
            with services.uow() as uow:
                latest = uow.connection.execute(
                    select(func.max(ledger_cycles.c.period)).where(
                        ledger_cycles.c.programme == IN_KIND
                    )
                ).scalar()
            if latest is None:
                continue
            beneficiary = rng.choice(baskets)
            request = redemption_request(
                key, beneficiary, IN_KIND, "food_basket", 1, authorised[beneficiary]
            )
            today = period_day(latest)
        else:
            beneficiary = rng.choice(money)
            amount = rng.randint(1, 4000)
            request = redemption_request(
                key, beneficiary, MONEY, "local_currency", amount, authorised[beneficiary]
            )
            today = date(2025, 1, 1)
        acks.write(
            {
                "op": "intent",
                "merchant": merchant,
                "till": till,
                "today": today.isoformat(),
                **request,
            },
            durable=False,
        )
        try:
            redemption = send(ledger, till, merchant, request, today)
        except (InsufficientBalance, NotFound, LimitExceeded):
            # Refused: nothing moved, nothing promised, nothing for the till to resend.
            acks.write({"op": "settled", "key": request["key"]}, durable=False)
            continue
        ids = [transfer.id for transfer in redemption.transfers]
        acks.write({"op": "ack", "key": request["key"], "ids": ids, "amount": request["amount"]})
        sent.append((request, merchant, till, today))


def work(info: WorldInfo, ack_path: Path, seed: int, ready_path: Path | None = None) -> None:
    """Run one cycle thread and two redemption threads until killed (or out of periods)."""
    engine = make_engine(info.url)
    services = world.services_for(info, engine)
    acks = Acknowledgements(ack_path)
    failures: list[str] = []

    def guarded(target: Any, *args: Any) -> None:
        try:
            target(*args)
        except BaseException:  # the parent reads this file: any surprise fails the test
            failures.append(traceback.format_exc())
            acks.write({"op": "error", "traceback": traceback.format_exc()})

    threads = [
        threading.Thread(target=guarded, args=(cycle_loop, services, acks, random.Random(seed))),
        *(
            threading.Thread(
                target=guarded,
                args=(
                    redemption_loop,
                    services,
                    acks,
                    random.Random(seed * 31 + n),
                    f"s{seed}-t{n}",
                    info,
                ),
            )
            for n in range(2)
        ),
    ]
    for thread in threads:
        thread.start()
    if ready_path is not None:
        ready_path.write_text("ready")
    for thread in threads:
        thread.join()
    engine.dispose()
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    world_file, ack_file, seed_text = sys.argv[1:4]
    ready_file = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    work(WorldInfo.loads(Path(world_file).read_text()), Path(ack_file), int(seed_text), ready_file)
