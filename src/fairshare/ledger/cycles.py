"""Entitlement cycles: one entitlement per enrolled beneficiary per programme and period.

A cycle posts in batches, each its own transaction. Every entitlement's idempotency key is
(programme, period, beneficiary) and a partial unique index holds the same rule in the
database, so a cycle killed halfway is simply run again: it posts to those not yet paid and
nobody is paid twice. In-kind quotas live in an account per period and, once the period has
ended, what is left of them goes back to the programme's funding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, text, update

from fairshare.audit import services as audit
from fairshare.audit.model import Tag, as_utc, utc_now
from fairshare.db import UnitOfWork
from fairshare.eligibility import storage as eligibility_storage
from fairshare.eligibility.model import NotPublished
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose
from fairshare.ids import new_id
from fairshare.ledger import store
from fairshare.ledger.model import (
    ACCOUNT_FLAGS,
    MAX_AMOUNT,
    Account,
    AccountKind,
    CycleResult,
    ExpiryResult,
    InsufficientBalance,
    LimitExceeded,
    Period,
    PeriodNotEnded,
    TransferKind,
    check_cycle_period,
    cycle_key,
    entitlement_code,
    expiry_key,
    funding_code,
    in_kind,
    parse_period,
    request_hash,
)
from fairshare.ledger.orm import ledger_accounts, ledger_cycles, ledger_transfers

DISBURSE = frozenset({Purpose.DISBURSEMENT})
BATCH = 5_000
Progress = Callable[[int, int], None]

# Records merged into another by deduplication are not paid: their survivor is (an
# enrolment from a run before the merge would otherwise pay the same person twice).
_NOT_MERGED = (
    " AND NOT EXISTS (SELECT 1 FROM dedup_merges m"
    " WHERE m.merged_id = e.subject_id AND m.unmerged_at IS NULL)"
)
# A survivor is not paid for a period in which a record merged into them was paid already
# (the merge moved that record's enrolment, and its entitlement with it).
_NOT_PAID_THROUGH_MERGED = (
    " AND NOT EXISTS (SELECT 1 FROM dedup_merges m JOIN ledger_transfers t2"
    " ON t2.beneficiary_id = m.merged_id AND t2.kind = 'entitlement'"
    " AND t2.programme = :programme AND t2.period = :period"
    " WHERE m.survivor_id = e.subject_id AND m.unmerged_at IS NULL)"
)
# The statements below join constant SQL only; values are bound parameters.
_ENROLLED = text(
    "SELECT count(*) FROM enrolments e WHERE e.programme = :programme" + _NOT_MERGED  # noqa: S608
)
# Enrolled subjects with no entitlement for this programme and period yet, in id order, each
# with the id of its entitlement account when it has one already (the account code is
# entitlement_code(subject, ...) = :code_prefix || subject || :code_suffix).
_UNPAID_SQL = (
    "SELECT e.subject_id, e.subject_type, a.id AS account_id FROM enrolments e "
    "LEFT JOIN ledger_accounts a ON a.code = :code_prefix || e.subject_id || :code_suffix "
    "WHERE e.programme = :programme AND e.subject_id > :after AND NOT EXISTS ("
    " SELECT 1 FROM ledger_transfers t WHERE t.kind = 'entitlement'"
    " AND t.programme = :programme AND t.period = :period AND t.beneficiary_id = e.subject_id)"
)
_UNPAID_COUNT_SQL = (
    "SELECT count(*) FROM enrolments e WHERE e.programme = :programme AND NOT EXISTS ("
    " SELECT 1 FROM ledger_transfers t WHERE t.kind = 'entitlement'"
    " AND t.programme = :programme AND t.period = :period AND t.beneficiary_id = e.subject_id)"
)
_PAGE = " ORDER BY e.subject_id LIMIT :limit"
# Without any merge in force the merge clauses cannot exclude anyone, and a million-row
# cycle need not evaluate them: each statement comes in both forms, chosen per batch.
_UNPAID = {
    True: text(_UNPAID_SQL + _NOT_MERGED + _NOT_PAID_THROUGH_MERGED + _PAGE),
    False: text(_UNPAID_SQL + _PAGE),
}
_UNPAID_COUNT = {
    True: text(_UNPAID_COUNT_SQL + _NOT_MERGED + _NOT_PAID_THROUGH_MERGED),
    False: text(_UNPAID_COUNT_SQL),
}
# An ended period's quotas with something left, in id order from :after: the index on
# (programme, period, id) reads each batch as one range, however many quotas came before.
_OPEN_QUOTAS_WHERE = (
    "FROM ledger_accounts WHERE programme = :programme AND period = :period "
    "AND kind = 'entitlement' AND credits_posted - debits_posted - debits_pending > 0"
)
_OPEN_QUOTAS = text(
    "SELECT id, owner_id, asset, credits_posted - debits_posted - debits_pending AS available "
    + _OPEN_QUOTAS_WHERE
    + " AND id > :after ORDER BY id LIMIT :limit"
)
_OPEN_QUOTAS_COUNT = text("SELECT count(*) " + _OPEN_QUOTAS_WHERE)
_ANY_MERGE = text("SELECT 1 FROM dedup_merges WHERE unmerged_at IS NULL LIMIT 1")
# Rows are written as tuples in the tables' own column order (see store.insert_tuples).
_ACCOUNT_COLUMNS = tuple(column.name for column in ledger_accounts.columns)
_TRANSFER_COLUMNS = tuple(column.name for column in ledger_transfers.columns)
_CREDIT_MANY = text(
    "UPDATE ledger_accounts SET credits_posted = credits_posted + :amount "
    "WHERE id = :id AND credits_posted <= :max - :amount"
)
_DEBIT_MANY = text(
    "UPDATE ledger_accounts SET debits_posted = debits_posted + :amount "
    "WHERE id = :id AND :amount <= credits_posted - debits_posted - debits_pending"
)


class Cycles:
    """Posting cycles and expiring the in-kind quotas of ended periods."""

    def __init__(self, uow: UnitOfWork, *, batch_size: int = BATCH) -> None:
        self.uow = uow
        self.batch_size = batch_size

    def run(
        self,
        actor: Actor,
        programme: str,
        period_label: str,
        *,
        today: date | None = None,
        progress: Progress | None = None,
    ) -> CycleResult:
        """Post this period's entitlement to every enrolled beneficiary not yet paid for it.

        Uses the terms (asset, amount) of the programme's published version. Refuses before
        posting anything when the programme's funding cannot cover everyone left to pay.
        Raises UnknownProgramme, NotPublished, InvalidInput (period), PeriodInFuture,
        InsufficientBalance (funding), PurposeNotAllowed.
        """
        authorize(self.uow, actor, DISBURSE, "programme", programme, Tag.LEDGER_CYCLE_RUN)
        day = today or date.today()
        with self.uow:
            connection = self.uow.connection
            eligibility_storage.load_programme(self.uow, programme)  # UnknownProgramme
            version = eligibility_storage.latest_version(self.uow, programme)
            if version is None:
                raise NotPublished(programme)
            period = check_cycle_period(version.period.value, period_label, day)
            asset, amount = version.asset, version.amount
            now = utc_now()
            funding = _funding_account(connection, programme, asset, now)
            enrolled = connection.execute(_ENROLLED, {"programme": programme}).scalar_one()
            merges = connection.execute(_ANY_MERGE).first() is not None
            unpaid = connection.execute(
                _UNPAID_COUNT[merges], {"programme": programme, "period": period.label}
            ).scalar_one()
            needed = unpaid * amount
            if needed > funding.available:
                raise InsufficientBalance(
                    f"programme {programme!r} has {funding.available} in funding; paying the "
                    f"{unpaid} beneficiaries left in {period.label} needs {needed}. Fund it "
                    f"with `fairshare ledger fund {programme} AMOUNT` and run the cycle again; "
                    "nothing was posted",
                    asset=asset,
                    available=funding.available,
                    requested=needed,
                )
            cycle_id = self._start(connection, actor, programme, period.label, version.version)
            connection.execute(
                update(ledger_cycles)
                .where(ledger_cycles.c.id == cycle_id)
                .values(enrolled=enrolled, status="running", finished_at=None)
            )
            audit.record(
                self.uow,
                [
                    access_request(
                        actor, Tag.LEDGER_CYCLE_RUN, "programme", programme, ("enrolments",)
                    )
                ],
            )
            self.uow.commit()
        expires_on = period.end if in_kind(asset) else None
        marker = "\x00"  # splits the account code around the subject id
        code_prefix, code_suffix = entitlement_code(
            marker, programme, asset, period.label if expires_on is not None else None
        ).split(marker)
        posted, after = 0, ""
        if progress is not None:
            progress(0, unpaid)
        while True:
            with self.uow:
                connection = self.uow.connection
                merges = connection.execute(_ANY_MERGE).first() is not None
                batch = connection.execute(
                    _UNPAID[merges],
                    {
                        "programme": programme,
                        "period": period.label,
                        "after": after,
                        "limit": self.batch_size,
                        "code_prefix": code_prefix,
                        "code_suffix": code_suffix,
                    },
                ).all()
                if not batch:
                    break
                self._post_batch(
                    connection,
                    actor.username,
                    programme,
                    period.label,
                    expires_on,
                    asset,
                    amount,
                    funding.id,
                    batch,
                )
                connection.execute(
                    update(ledger_cycles)
                    .where(ledger_cycles.c.id == cycle_id)
                    .values(
                        posted=ledger_cycles.c.posted + len(batch),
                        total=ledger_cycles.c.total + len(batch) * amount,
                    )
                )
                self.uow.commit()
            posted += len(batch)
            after = batch[-1].subject_id
            if progress is not None:
                progress(posted, unpaid)
        with self.uow:
            self.uow.connection.execute(
                update(ledger_cycles)
                .where(ledger_cycles.c.id == cycle_id)
                .values(status="completed", finished_at=utc_now())
            )
            self.uow.commit()
        if posted:
            # A cycle can add a million accounts and transfers at once; the planner should
            # know before the first redemption, not when autovacuum next looks.
            with self.uow:
                if self.uow.dialect == "postgresql":
                    self.uow.connection.exec_driver_sql("ANALYZE ledger_accounts, ledger_transfers")
                self.uow.commit()
        return CycleResult(
            programme=programme,
            period=period.label,
            asset=asset,
            amount=amount,
            enrolled=enrolled,
            posted=posted,
            already_paid=enrolled - unpaid,
            total=posted * amount,
        )

    def _start(
        self, connection: Connection, actor: Actor, programme: str, period: str, version: int
    ) -> str:
        existing = connection.execute(
            select(ledger_cycles.c.id).where(
                and_(ledger_cycles.c.programme == programme, ledger_cycles.c.period == period)
            )
        ).scalar()
        if existing is not None:
            return str(existing)
        terms = eligibility_storage.latest_version(self.uow, programme)
        assert terms is not None
        cycle_id = new_id()
        connection.execute(
            insert(ledger_cycles).values(
                id=cycle_id,
                programme=programme,
                period=period,
                rule_version=version,
                asset=terms.asset,
                amount=terms.amount,
                status="running",
                enrolled=0,
                posted=0,
                total=0,
                started_at=utc_now(),
                run_by=actor.username,
            )
        )
        return cycle_id

    def _post_batch(
        self,
        connection: Connection,
        username: str,
        programme: str,
        period: str,
        expires_on: date | None,
        asset: str,
        amount: int,
        funding_id: str,
        batch: Sequence[Any],
    ) -> None:
        # Rows are written as tuples with their constant values converted once (see
        # store.insert_tuples): a cycle for a million beneficiaries spends its time in the
        # database, not in building dictionaries.
        now = utc_now()
        # Money carries over in one wallet per programme; in-kind quotas get one per period.
        account_period = period if expires_on is not None else None
        stored_now = store.stored_value(connection, ledger_accounts.c.created_at, now)
        stored_expiry = store.stored_value(connection, ledger_accounts.c.expires_on, expires_on)
        kind, flags = AccountKind.ENTITLEMENT.value, int(ACCOUNT_FLAGS[AccountKind.ENTITLEMENT])
        new_accounts: list[tuple[Any, ...]] = []
        credits = []
        account_ids: list[str] = []
        fresh = iter(store.new_ids(sum(row.account_id is None for row in batch)))
        for row in batch:
            account_id = row.account_id
            if account_id is not None:
                account_ids.append(account_id)
                credits.append({"id": account_id, "amount": amount, "max": MAX_AMOUNT})
                continue
            # A new account starts with this entitlement as its one credit; the transfer row
            # below is written in the same transaction.
            account_id = next(fresh)
            account_ids.append(account_id)
            new_accounts.append(
                (
                    account_id,
                    entitlement_code(row.subject_id, programme, asset, account_period),
                    kind,
                    asset,
                    flags,
                    programme,
                    row.subject_type,
                    row.subject_id,
                    account_period,
                    stored_expiry,
                    0,
                    0,
                    0,
                    amount,
                    stored_now,
                )
            )
        store.insert_tuples(connection, ledger_accounts, _ACCOUNT_COLUMNS, new_accounts)
        if credits:
            result = connection.execute(_CREDIT_MANY, credits)
            if result.rowcount != len(credits):
                raise LimitExceeded("an entitlement account would overflow; nothing was posted")
        total = amount * len(batch)
        debited = connection.execute(_DEBIT_MANY, {"id": funding_id, "amount": total}).rowcount
        if debited != 1:
            funding = store.get_account(connection, funding_id)
            available = funding.available if funding else 0
            raise InsufficientBalance(
                f"programme {programme!r} ran out of funding during the cycle ({available} "
                f"left, {total} needed for the next {len(batch)}); fund it and run the cycle "
                "again to pay the rest",
                asset=asset,
                available=available,
                requested=total,
            )
        _insert_transfers(
            connection,
            [
                (
                    cycle_key(programme, period, row.subject_id),
                    funding_id,
                    account_id,
                    amount,
                    row.subject_id,
                )
                for row, account_id in zip(batch, account_ids, strict=True)
            ],
            body_hash=request_hash({"op": "cycle", "programme": programme, "period": period}),
            asset=asset,
            kind=TransferKind.ENTITLEMENT,
            programme=programme,
            period=period,
            reference={},
            username=username,
            now=now,
        )

    # ---- expiry ---------------------------------------------------------------------------

    def expire(
        self,
        actor: Actor,
        programme: str,
        period_label: str,
        *,
        today: date | None = None,
        progress: Progress | None = None,
    ) -> ExpiryResult:
        """Return what is left of an ended period's in-kind quotas to the programme's funding.

        Raises PeriodNotEnded, InvalidInput (period), UnknownProgramme. Safe to run again.
        """
        authorize(self.uow, actor, DISBURSE, "programme", programme, Tag.LEDGER_QUOTA_EXPIRE)
        day = today or date.today()
        with self.uow:
            terms = eligibility_storage.load_programme(self.uow, programme)
            version = eligibility_storage.latest_version(self.uow, programme)
            kind = (version.period if version else terms.period).value
            period = parse_period(kind, period_label)
            if not period.has_ended(day):
                raise PeriodNotEnded(
                    f"period {period.label} ends on {period.end.isoformat()}; its quotas can be "
                    "redeemed until then and expire after"
                )
            left = self.uow.connection.execute(
                _OPEN_QUOTAS_COUNT, {"programme": programme, "period": period.label}
            ).scalar_one()
        if progress is not None:
            progress(0, left)
        accounts = returned = 0
        asset, after = "", ""
        while True:
            with self.uow:
                connection = self.uow.connection
                quotas = connection.execute(
                    _OPEN_QUOTAS,
                    {
                        "programme": programme,
                        "period": period.label,
                        "after": after,
                        "limit": self.batch_size,
                    },
                ).all()
                if not quotas:
                    if accounts:
                        audit.record(
                            self.uow,
                            [
                                access_request(
                                    actor,
                                    Tag.LEDGER_QUOTA_EXPIRE,
                                    "programme",
                                    programme,
                                    ("entitlement_balance",),
                                )
                            ],
                        )
                        self.uow.commit()
                    break
                asset = quotas[0].asset
                total = self._return_batch(connection, actor.username, programme, period, quotas)
                self.uow.commit()
            accounts += len(quotas)
            returned += total
            after = quotas[-1].id
            if progress is not None:  # a hold voided meanwhile can add a quota to the count
                progress(accounts, max(left, accounts))
        return ExpiryResult(programme, period.label, accounts, returned, asset)

    def _return_batch(
        self,
        connection: Connection,
        username: str,
        programme: str,
        period: Period,
        quotas: Sequence[Any],
    ) -> int:
        """Return each quota's balance to the programme's funding, one transfer each; the
        batch's total. Rows are tuples, as in `_post_batch`: an expiry touches as many
        accounts as the cycle that filled them."""
        asset, now = quotas[0].asset, utc_now()
        funding = _funding_account(connection, programme, asset, now)
        debits = [{"id": quota.id, "amount": quota.available} for quota in quotas]
        if connection.execute(_DEBIT_MANY, debits).rowcount != len(debits):
            raise LimitExceeded("a quota changed during expiry; run it again")
        total: int = sum(quota.available for quota in quotas)
        credited = connection.execute(
            _CREDIT_MANY, {"id": funding.id, "amount": total, "max": MAX_AMOUNT}
        ).rowcount
        if credited != 1:
            raise LimitExceeded("the programme's funding account would overflow")
        _insert_transfers(
            connection,
            [
                (expiry_key(quota.id), quota.id, funding.id, quota.available, quota.owner_id)
                for quota in quotas
            ],
            body_hash=request_hash({"op": "expire", "period": period.label}),
            asset=asset,
            kind=TransferKind.EXPIRY,
            programme=programme,
            period=period.label,
            reference={"reason": f"quota of {period.label} expired"},
            username=username,
            now=now,
        )
        return total

    def cycles(self, programme: str | None = None) -> list[dict[str, Any]]:
        """Every cycle started, newest first: terms, status and how far it got."""
        statement = select(ledger_cycles).order_by(ledger_cycles.c.started_at.desc())
        if programme:
            statement = statement.where(ledger_cycles.c.programme == programme)
        with self.uow:
            rows = self.uow.connection.execute(statement).all()
        return [
            {
                **row._asdict(),
                "started_at": as_utc(row.started_at),
                "finished_at": as_utc(row.finished_at) if row.finished_at else None,
            }
            for row in rows
        ]


def _insert_transfers(
    connection: Connection,
    moves: Sequence[tuple[str, str, str, int, str | None]],
    *,
    body_hash: str,
    asset: str,
    kind: TransferKind,
    programme: str,
    period: str,
    reference: dict[str, Any],
    username: str,
    now: datetime,
) -> None:
    """One posted transfer per (key, debit, credit, amount, beneficiary) of a batch, alike in
    everything else: written as tuples with the shared values converted once (see
    store.insert_tuples), the bulk path of cycles and expiry."""
    stored_at = store.stored_value(connection, ledger_transfers.c.created_at, now)
    kind_value, stored_reference = kind.value, json.dumps(reference, sort_keys=True)
    rows = [
        (  # the table's column order: flags 0, no hold, timeout, link or merchant
            transfer_id,
            key,
            body_hash,
            debit,
            credit,
            asset,
            amount,
            kind_value,
            0,
            None,
            None,
            None,
            programme,
            period,
            beneficiary,
            None,
            stored_reference,
            stored_at,
            username,
        )
        for transfer_id, (key, debit, credit, amount, beneficiary) in zip(
            store.new_ids(len(moves)), moves, strict=True
        )
    ]
    store.insert_tuples(connection, ledger_transfers, _TRANSFER_COLUMNS, rows)


def _funding_account(connection: Connection, programme: str, asset: str, now: datetime) -> Account:
    """The programme's funding account in `asset`, opened on first use."""
    return store.ensure_account(
        connection,
        store.account_row(
            funding_code(programme, asset), AccountKind.FUNDING, asset, now, programme=programme
        ),
    )


def paid_periods(connection: Connection, programme: str, beneficiary_id: str) -> list[str]:
    """The periods a beneficiary received this programme's entitlement for."""
    rows = connection.execute(
        select(ledger_transfers.c.period)
        .where(ledger_transfers.c.kind == TransferKind.ENTITLEMENT.value)
        .where(ledger_transfers.c.programme == programme)
        .where(ledger_transfers.c.beneficiary_id == beneficiary_id)
        .order_by(ledger_transfers.c.period)
    )
    return [row.period for row in rows]
