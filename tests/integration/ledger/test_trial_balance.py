"""The trial balance recounts, in the database, the accounts that break their flags."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, update

from fairshare.identity.model import Actor
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.orm import ledger_accounts
from fairshare.ledger.services import Ledger
from tests.integration.ledger.conftest import IN_PERIOD, PERIOD, World

pytestmark = pytest.mark.postgres


@contextmanager
def checks_off(connection: Connection) -> Iterator[None]:
    """Let the test write totals the CHECK constraints forbid, as a hand editing the
    database behind the ledger could (PostgreSQL's drop is undone with the test's
    transaction)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        try:
            yield
        finally:
            connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
        return
    for name in ("debits_within_credits", "totals_not_negative"):
        connection.exec_driver_sql(
            f"ALTER TABLE ledger_accounts DROP CONSTRAINT ck_ledger_accounts_{name}"
        )
    yield


def test_accounts_breaking_their_flags_are_counted_even_when_the_asset_sums_to_zero(
    connection: Connection, world: World, cycles: Cycles, ledger: Ledger, disburser: Actor
) -> None:
    cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    before = ledger.trial_balance(disburser)
    [money] = [line for line in before.assets if line.asset == "local_currency"]
    assert (money.violations, before.balanced) == (0, True)
    a = ledger_accounts.c
    accounts = connection.execute(
        ledger_accounts.select().where(a.programme == "old_age_pension")
    ).all()
    wallet = next(row for row in accounts if row.kind == "entitlement")
    funding = next(row for row in accounts if row.kind == "funding")
    with checks_off(connection):
        # The wallet is overdrawn by 500 and the funding credited as much: every asset
        # still sums to zero, but an entitlement may never go below nothing.
        overdraft = wallet.credits_posted + 500
        connection.execute(
            update(ledger_accounts).where(a.id == wallet.id).values(debits_posted=overdraft)
        )
        connection.execute(
            update(ledger_accounts)
            .where(a.id == funding.id)
            .values(credits_posted=funding.credits_posted + overdraft)
        )
        broken = ledger.trial_balance(disburser)
        [money] = [line for line in broken.assets if line.asset == "local_currency"]
        assert money.debits_posted == money.credits_posted  # sums to zero
        assert (money.violations, money.balanced, broken.balanced) == (1, False, False)
        # A negative total breaks the range however the flags read.
        connection.execute(
            update(ledger_accounts).where(a.id == funding.id).values(debits_pending=-1)
        )
        [money] = [
            line
            for line in ledger.trial_balance(disburser).assets
            if line.asset == "local_currency"
        ]
        assert money.violations == 2
