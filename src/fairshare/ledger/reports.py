"""Reconciliation: the journal of transfers against the running account totals.

Account rows carry running totals for speed; the transfers are the immutable journal. The
report recomputes every kind of account's balance from the journal and compares it with the
totals, so a total changed behind the ledger's back shows as a mismatch. For a period it also
shows the opening balance, what flowed in by transfer kind, and the closing balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, and_, func, select

from fairshare.assets import asset_definition, format_amount
from fairshare.audit import services as audit
from fairshare.audit.model import Tag
from fairshare.db import UnitOfWork
from fairshare.errors import InvalidInput
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose
from fairshare.ledger.model import AccountKind, TransferFlag, parse_period
from fairshare.ledger.orm import ledger_accounts, ledger_transfers

READ = frozenset({Purpose.AUDIT, Purpose.DISBURSEMENT})
HELD_OR_VOID = int(TransferFlag.PENDING | TransferFlag.VOID_PENDING)


@dataclass(frozen=True)
class KindLine:
    """One kind of account within an asset: balances from the journal and from the totals."""

    kind: str
    opening: int
    inflow: int
    outflow: int
    closing: int
    journal_now: int  # all-time balance from the journal
    totals_now: int  # all-time balance from the account rows

    @property
    def matches(self) -> bool:
        return self.journal_now == self.totals_now


@dataclass(frozen=True)
class AssetReconciliation:
    asset: str
    kinds: tuple[KindLine, ...]
    flows: dict[str, int]  # transfer kind → amount posted in the period
    on_hold: int  # open holds (payouts on their way)

    @property
    def balanced(self) -> bool:
        """Every kind matches, and the asset sums to zero both ways."""
        return (
            all(line.matches for line in self.kinds)
            and sum(line.totals_now for line in self.kinds) == 0
            and sum(line.closing for line in self.kinds) == sum(line.opening for line in self.kinds)
        )

    def text(self, amount: int) -> str:
        return format_amount(self.asset, amount)


@dataclass(frozen=True)
class Reconciliation:
    period: str | None
    start: datetime | None
    end: datetime | None
    assets: tuple[AssetReconciliation, ...]

    @property
    def balanced(self) -> bool:
        return all(asset.balanced for asset in self.assets)


def _month_range(period: str | None) -> tuple[datetime | None, datetime | None]:
    if not period:
        return None, None
    span = parse_period("monthly", period)
    start = datetime.combine(span.start, time.min, tzinfo=UTC)
    end = datetime.combine(date.fromordinal(span.end.toordinal() + 1), time.min, tzinfo=UTC)
    return start, end


def _net_by_kind(
    connection: Connection, asset: str, before: datetime | None, since: datetime | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """Credits and debits of posted transfers by the kind of account they touched."""
    t, a = ledger_transfers.c, ledger_accounts.c
    credits: dict[str, int] = {}
    debits: dict[str, int] = {}
    for side, into in ((t.credit_account_id, credits), (t.debit_account_id, debits)):
        statement = (
            select(a.kind, func.coalesce(func.sum(t.amount), 0))
            .select_from(ledger_transfers.join(ledger_accounts, a.id == side))
            .where(t.asset == asset)
            .where(t.flags.op("&")(HELD_OR_VOID) == 0)
            .group_by(a.kind)
        )
        if before is not None:
            statement = statement.where(t.created_at < before)
        if since is not None:
            statement = statement.where(t.created_at >= since)
        for kind, amount in connection.execute(statement):
            into[kind] = int(amount)
    return credits, debits


def reconcile(
    connection: Connection, asset: str | None = None, period: str | None = None
) -> Reconciliation:
    start, end = _month_range(period)
    if asset is not None:
        asset_definition(asset)
    assets = (
        [asset]
        if asset
        else [
            row[0]
            for row in connection.execute(
                select(ledger_accounts.c.asset).distinct().order_by(ledger_accounts.c.asset)
            )
        ]
    )
    t, a = ledger_transfers.c, ledger_accounts.c
    results = []
    for code in assets:
        totals = {
            kind: int(net)
            for kind, net in connection.execute(
                select(a.kind, func.coalesce(func.sum(a.credits_posted - a.debits_posted), 0))
                .where(a.asset == code)
                .group_by(a.kind)
            )
        }
        all_credits, all_debits = _net_by_kind(connection, code, None)
        open_credits, open_debits = _net_by_kind(connection, code, start) if start else ({}, {})
        period_credits, period_debits = _net_by_kind(connection, code, end, start)
        lines = []
        for kind in AccountKind:
            name = kind.value
            opening = open_credits.get(name, 0) - open_debits.get(name, 0)
            inflow, outflow = period_credits.get(name, 0), period_debits.get(name, 0)
            journal_now = all_credits.get(name, 0) - all_debits.get(name, 0)
            if not any((opening, inflow, outflow, journal_now, totals.get(name, 0))):
                continue
            lines.append(
                KindLine(
                    name,
                    opening,
                    inflow,
                    outflow,
                    opening + inflow - outflow,
                    journal_now,
                    totals.get(name, 0),
                )
            )
        flows_statement = (
            select(t.kind, func.coalesce(func.sum(t.amount), 0))
            .where(t.asset == code)
            .where(t.flags.op("&")(HELD_OR_VOID) == 0)
            .group_by(t.kind)
        )
        if start is not None and end is not None:
            flows_statement = flows_statement.where(and_(t.created_at >= start, t.created_at < end))
        flows = {kind: int(amount) for kind, amount in connection.execute(flows_statement)}
        on_hold = connection.execute(
            select(func.coalesce(func.sum(a.debits_pending), 0)).where(a.asset == code)
        ).scalar_one()
        results.append(AssetReconciliation(code, tuple(lines), flows, int(on_hold)))
    return Reconciliation(period, start, end, tuple(results))


class LedgerReports:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def reconciliation(
        self, actor: Actor, asset: str | None = None, period: str | None = None
    ) -> Reconciliation:
        """Journal against totals for each asset (or one), over a month or all time.

        Raises InvalidInput (period not like 2026-11), UnknownAsset, PurposeNotAllowed.
        """
        authorize(self.uow, actor, READ, "ledger", "reconciliation", Tag.LEDGER_BALANCE_READ)
        if period is not None and not period.strip():
            raise InvalidInput("give the period as a month like 2026-11, or leave it out")
        with self.uow:
            result = reconcile(self.uow.connection, asset, period)
            audit.record(
                self.uow,
                [
                    access_request(
                        actor, Tag.LEDGER_BALANCE_READ, "ledger", "reconciliation", ("balance",)
                    )
                ],
            )
            self.uow.commit()
        return result
