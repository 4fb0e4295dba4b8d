"""The ledger's persistence: accounts and transfers on one connection, inside the caller's
transaction.

Balances change only through `post`, whose UPDATE statements carry the account flags in their
WHERE clause: the check and the change are one statement, so two concurrent redemptions can
never both pass a check that only one of them fits (SQLite serialises writers with BEGIN
IMMEDIATE; PostgreSQL re-evaluates the WHERE clause on the locked row).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Numeric, and_, bindparam, cast, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from fairshare.audit.model import as_utc
from fairshare.db import bulk_insert
from fairshare.driver import Sql, bind_datetime, to_date
from fairshare.ids import new_id
from fairshare.ledger.model import (
    ACCOUNT_FLAGS,
    MAX_AMOUNT,
    Account,
    AccountFlag,
    AccountKind,
    InsufficientBalance,
    LimitExceeded,
    Transfer,
    TransferFlag,
    TransferInFlight,
    TransferKind,
    describe_account,
)
from fairshare.ledger.orm import ledger_accounts, ledger_transfers

A = ledger_accounts
T = ledger_transfers

# The flag checks live in the statements; CASE keeps PostgreSQL from evaluating (and
# overflowing) the arithmetic of an unflagged account.
_DEBIT_POSTED = Sql(
    "UPDATE ledger_accounts SET debits_posted = debits_posted + :amount "
    "WHERE id = :id AND debits_posted <= :max - :amount AND "
    "CASE WHEN (flags & 1) = 0 THEN 1 "
    "WHEN :amount <= credits_posted - debits_posted - debits_pending THEN 1 ELSE 0 END = 1"
)
_CREDIT_POSTED = Sql(
    "UPDATE ledger_accounts SET credits_posted = credits_posted + :amount "
    "WHERE id = :id AND credits_posted <= :max - :amount AND "
    "CASE WHEN (flags & 2) = 0 THEN 1 "
    "WHEN :amount <= debits_posted - credits_posted - credits_pending THEN 1 ELSE 0 END = 1"
)
_DEBIT_PENDING = Sql(
    "UPDATE ledger_accounts SET debits_pending = debits_pending + :amount "
    "WHERE id = :id AND debits_pending <= :max - :amount AND "
    "CASE WHEN (flags & 1) = 0 THEN 1 "
    "WHEN :amount <= credits_posted - debits_posted - debits_pending THEN 1 ELSE 0 END = 1"
)
_CREDIT_PENDING = Sql(
    "UPDATE ledger_accounts SET credits_pending = credits_pending + :amount "
    "WHERE id = :id AND credits_pending <= :max - :amount AND "
    "CASE WHEN (flags & 2) = 0 THEN 1 "
    "WHEN :amount <= debits_posted - credits_posted - credits_pending THEN 1 ELSE 0 END = 1"
)
# Closing a hold: release `held` from pending and post `posted` (0 when voiding).
_DEBIT_RESOLVE = Sql(
    "UPDATE ledger_accounts SET debits_pending = debits_pending - :held, "
    "debits_posted = debits_posted + :posted "
    "WHERE id = :id AND debits_pending >= :held AND debits_posted <= :max - :posted"
)
_CREDIT_RESOLVE = Sql(
    "UPDATE ledger_accounts SET credits_pending = credits_pending - :held, "
    "credits_posted = credits_posted + :posted "
    "WHERE id = :id AND credits_pending >= :held AND credits_posted <= :max - :posted"
)
_BY_KEY = select(T).where(T.c.idempotency_key == bindparam("key"))
_KEY_TAKEN = Sql("SELECT request_hash FROM ledger_transfers WHERE idempotency_key = :key")
ACCOUNT_COLUMNS = (
    "id, code, kind, asset, flags, programme, owner_type, owner_id, period, expires_on, "
    "debits_pending, debits_posted, credits_pending, credits_posted"
)
# The f-strings below join constant column names only; values are bound parameters.
# A_ACCOUNT_COLUMNS: the same, of a table aliased `a`.
A_ACCOUNT_COLUMNS = ", ".join(f"a.{name.strip()}" for name in ACCOUNT_COLUMNS.split(","))
_ACCOUNT = Sql(f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = :id")  # noqa: S608
_ACCOUNT_BY_CODE = Sql(
    f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE code = :code"  # noqa: S608
)
_ADVISORY = Sql("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 7))")
TRANSFER_COLUMNS = tuple(column.name for column in T.columns)
_INSERT_TRANSFER = Sql(
    f"INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + name for name in TRANSFER_COLUMNS)})"
)

# Keys being processed in this process; PostgreSQL adds an advisory lock across processes.
_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


@contextmanager
def held_in_process(keys: Sequence[str]) -> Iterator[None]:
    """Hold the keys against other requests of this process for the block, or raise
    TransferInFlight naming the first key another request holds."""
    with _in_flight_lock:
        busy = next((key for key in keys if key in _in_flight), None)
        if busy is not None:
            raise TransferInFlight(busy)
        _in_flight.update(keys)
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight.difference_update(keys)


@contextmanager
def claim(connection: Connection, keys: Sequence[str]) -> Iterator[None]:
    """Hold the idempotency keys for the length of a request; a duplicate arriving meanwhile
    gets TransferInFlight (409) instead of waiting on, or racing, the first."""
    with held_in_process(keys):
        if connection.dialect.name == "postgresql":
            for key in keys:
                taken = _ADVISORY.run(connection, {"key": key}).fetchone()[0]
                if not taken:
                    raise TransferInFlight(key)
        yield


# One round trip where redemption used two: PostgreSQL takes the key's advisory lock and
# looks the key up in the same statement. Its snapshot may predate the commit of a request
# that held the lock a moment before; that request's transfer then meets the unique index on
# the key when this one inserts, which `insert_transfers` reports as in flight (409).
_CLAIM_AND_LOOK_UP = Sql(
    "SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 7)), "
    "(SELECT request_hash FROM ledger_transfers WHERE idempotency_key = :key)"
)


@contextmanager
def claim_key(connection: Connection, key: str) -> Iterator[bool]:
    """`claim` for one key, yielding whether a transfer with that key exists already."""
    with held_in_process([key]):
        if connection.dialect.name == "postgresql":
            taken, request_hash = _CLAIM_AND_LOOK_UP.run(connection, {"key": key}).fetchone()
            if not taken:
                raise TransferInFlight(key)
        else:
            request_hash = _KEY_TAKEN.run(connection, {"key": key}).fetchone()
        yield request_hash is not None


# ---- ids in bulk ---------------------------------------------------------------------------

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 32 hex digits of a UUID go in its 36-character text (the rest are dashes).
_UUID_SLOTS = [(0, 8, 0), (9, 13, 8), (14, 18, 12), (19, 23, 16), (24, 36, 20)]


def new_ids(count: int) -> list[str]:
    """`count` version-7 ids in increasing order, laid out as `fairshare.ids.new_id` makes
    them, for a cycle batch: one call of new_id fixes the millisecond and counter, the rest
    count on from it (borrowing later milliseconds past 4,096, as new_id does), each with its
    own 62 random bits. Built with numpy: a million beneficiaries need two million ids, and
    new_id one by one would spend a quarter of a cycle's time on them."""
    if count <= 0:
        return []
    first = new_id().replace("-", "")
    start = int(first[:12], 16) << 12 | int(first[13:16], 16)  # millisecond, counter
    steps = np.uint64(start) + np.arange(count, dtype=np.uint64)
    high = ((steps >> np.uint64(12)) << np.uint64(16)) | np.uint64(0x7000)
    high |= steps & np.uint64(0xFFF)
    raw = np.empty((count, 16), dtype=np.uint8)
    raw[:, :8] = high.astype(">u8").view(np.uint8).reshape(count, 8)
    raw[:, 8:] = np.frombuffer(os.urandom(8 * count), dtype=np.uint8).reshape(count, 8)
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # the RFC 9562 variant
    digits = np.empty((count, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[raw >> 4]
    digits[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    for begin, end, source in _UUID_SLOTS:
        text[:, begin:end] = digits[:, source : source + end - begin]
    joined = text.tobytes().decode("ascii")
    return [joined[index : index + 36] for index in range(0, 36 * count, 36)]


def stored_value(connection: Connection, column: Any, value: Any) -> Any:
    """`value` as the driver receives it for `column` (SQLite keeps dates as text)."""
    if value is None or connection.dialect.name != "sqlite":
        return value
    processor = column.type._cached_bind_processor(connection.dialect)
    return processor(value) if processor is not None else value


def insert_tuples(
    connection: Connection, table: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert rows given as tuples in `columns` order, each value already as `stored_value`
    makes it: the bulk path of cycles, without building a dict per row on SQLite."""
    if not rows:
        return
    if [column.name for column in table.columns if column.name in columns] != list(columns):
        raise ValueError(f"give the columns of {table.name} in the table's order")
    if connection.dialect.name == "sqlite":
        statement = str(insert(table).compile(dialect=connection.dialect, column_keys=columns))
        if statement.count("?") != len(columns):
            raise ValueError(f"{table.name}: a column left out has a default; give them all")
        connection.exec_driver_sql(statement, rows)
    else:
        connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


# An account breaking its flags (TigerBeetle's rules) or the 64-bit range of its totals;
# the CHECK constraints forbid both, and the trial balance recounts them independently.
# Sums are taken as NUMERIC so that totals near the top of the range cannot overflow.
_A = ledger_accounts.c
BREAKS_FLAGS = or_(
    and_(
        _A.flags.op("&")(int(AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS)) != 0,
        cast(_A.debits_posted, Numeric) + _A.debits_pending > _A.credits_posted,
    ),
    and_(
        _A.flags.op("&")(int(AccountFlag.CREDITS_MUST_NOT_EXCEED_DEBITS)) != 0,
        cast(_A.credits_posted, Numeric) + _A.credits_pending > _A.debits_posted,
    ),
    *(
        or_(total < 0, total > MAX_AMOUNT)
        for total in (_A.debits_pending, _A.debits_posted, _A.credits_pending, _A.credits_posted)
    ),
)


# ---- rows ----------------------------------------------------------------------------------


def account_from_row(row: Any) -> Account:
    return Account(
        id=row.id,
        code=row.code,
        kind=AccountKind(row.kind),
        asset=row.asset,
        flags=AccountFlag(row.flags),
        programme=row.programme,
        owner_type=row.owner_type,
        owner_id=row.owner_id,
        period=row.period,
        expires_on=row.expires_on,
        debits_pending=row.debits_pending,
        debits_posted=row.debits_posted,
        credits_pending=row.credits_pending,
        credits_posted=row.credits_posted,
    )


def transfer_from_row(row: Any, replayed: bool = False) -> Transfer:
    return Transfer(
        id=row.id,
        idempotency_key=row.idempotency_key,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        asset=row.asset,
        amount=row.amount,
        kind=TransferKind(row.kind),
        flags=TransferFlag(row.flags),
        pending_id=row.pending_id,
        timeout_at=as_utc(row.timeout_at) if row.timeout_at else None,
        link_id=row.link_id,
        programme=row.programme,
        period=row.period,
        beneficiary_id=row.beneficiary_id,
        merchant_id=row.merchant_id,
        reference=json.loads(row.reference or "{}"),
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        replayed=replayed,
    )


# ---- accounts ------------------------------------------------------------------------------


def account_from_tuple(row: tuple[Any, ...]) -> Account:
    """An account from a driver row in `ACCOUNT_COLUMNS` order."""
    return Account(
        id=row[0],
        code=row[1],
        kind=AccountKind(row[2]),
        asset=row[3],
        flags=AccountFlag(row[4]),
        programme=row[5],
        owner_type=row[6],
        owner_id=row[7],
        period=row[8],
        expires_on=to_date(row[9]),
        debits_pending=row[10],
        debits_posted=row[11],
        credits_pending=row[12],
        credits_posted=row[13],
    )


def get_account(connection: Connection, account_id: str) -> Account | None:
    row = _ACCOUNT.run(connection, {"id": account_id}).fetchone()
    return account_from_tuple(row) if row else None


def account_by_code(connection: Connection, code: str) -> Account | None:
    row = _ACCOUNT_BY_CODE.run(connection, {"code": code}).fetchone()
    return account_from_tuple(row) if row else None


def insert_missing(
    connection: Connection, table: Any, rows: list[dict[str, Any]], key: str
) -> None:
    """Insert rows whose `key` is not taken yet; concurrent creators of one row both succeed."""
    if not rows:
        return
    dialect = connection.dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(table).on_conflict_do_nothing(index_elements=[key])
    connection.execute(statement, rows)


def account_row(
    code: str,
    kind: AccountKind,
    asset: str,
    now: datetime,
    *,
    programme: str | None = None,
    owner_type: str | None = None,
    owner_id: str | None = None,
    period: str | None = None,
    expires_on: date | None = None,
    credits_posted: int = 0,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "code": code,
        "kind": kind.value,
        "asset": asset,
        "flags": int(ACCOUNT_FLAGS[kind]),
        "programme": programme,
        "owner_type": owner_type,
        "owner_id": owner_id,
        "period": period,
        "expires_on": expires_on,
        "debits_pending": 0,
        "debits_posted": 0,
        "credits_pending": 0,
        "credits_posted": credits_posted,
        "created_at": now,
    }


def ensure_account(connection: Connection, row: dict[str, Any]) -> Account:
    """The account with this code, created (empty) when it does not exist yet."""
    existing = account_by_code(connection, row["code"])
    if existing is not None:
        return existing
    insert_missing(connection, A, [row], "code")
    created = account_by_code(connection, row["code"])
    assert created is not None
    return created


def accounts_of(
    connection: Connection,
    owner_ids: Iterable[str],
    *,
    programme: str | None = None,
    kind: AccountKind | None = None,
) -> list[Account]:
    statement = select(A).where(A.c.owner_id.in_(list(owner_ids)))
    if programme is not None:
        statement = statement.where(A.c.programme == programme)
    if kind is not None:
        statement = statement.where(A.c.kind == kind.value)
    rows = connection.execute(statement.order_by(A.c.expires_on, A.c.code))
    return [account_from_row(row) for row in rows]


# The beneficiary's current owner (themselves, or the end of their chain of merges not undone;
# households are never merged) and that owner's entitlement accounts of a programme, in one
# statement: redemption runs it on every call. The owner is looked up by `owner_id` alone so
# the plan is the same whatever the table's statistics say (a beneficiary holds few accounts);
# the programme is filtered here.
OWNER_CHAIN = (
    "WITH RECURSIVE chain(id, depth) AS ("
    "SELECT CAST(:owner AS VARCHAR(36)), 0 UNION ALL "
    "SELECT m.survivor_id, c.depth + 1 FROM dedup_merges m JOIN chain c ON m.merged_id = c.id "
    "WHERE m.unmerged_at IS NULL AND c.depth < 32), "
    "owner AS (SELECT id FROM chain ORDER BY depth DESC LIMIT 1) "
)
ENTITLEMENTS_OF_OWNER = (
    "LEFT JOIN ledger_accounts a ON a.owner_id = owner.id AND a.kind = 'entitlement'"
)


def entitlements_in(rows: Sequence[Any], at: int, programme: str) -> list[Account]:
    """The programme's accounts in `rows` (ACCOUNT_COLUMNS from column `at`, all null where
    the owner has none), soonest to expire first (money, which never expires, first)."""
    accounts = [
        account_from_tuple(row[at:])
        for row in rows
        if row[at] is not None and row[at + 5] == programme
    ]
    accounts.sort(key=lambda a: (a.expires_on is not None, a.expires_on or date.min, a.code))
    return accounts


# ---- transfers -----------------------------------------------------------------------------


def transfer_by_key(connection: Connection, key: str) -> Any:
    """The transfer row with this idempotency key, or None (checked on the driver first:
    nearly every request is new)."""
    if _KEY_TAKEN.run(connection, {"key": key}).fetchone() is None:
        return None
    return connection.execute(_BY_KEY, {"key": key}).first()


def get_transfer(connection: Connection, transfer_id: str) -> Transfer | None:
    row = connection.execute(select(T).where(T.c.id == transfer_id)).first()
    return transfer_from_row(row) if row else None


def resolution_of(connection: Connection, pending_id: str) -> Transfer | None:
    """The transfer that posted or voided a hold, if any."""
    row = connection.execute(select(T).where(T.c.pending_id == pending_id)).first()
    return transfer_from_row(row) if row else None


def refuse(
    connection: Connection, debit: Account, credit: Account, amount: int, debited: bool
) -> None:
    """Say why a move failed, the debit side first: 'not enough' is the answer a person can
    act on, whichever row the statements happened to touch first."""
    current = get_account(connection, debit.id) or debit
    available = current.available + (amount if debited else 0)  # before this transfer
    if current.flags & AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS and amount > available:
        raise InsufficientBalance(
            f"the {describe_account(current.kind, current.asset)} account holds "
            f"{max(available, 0)} available; {amount} was asked for. Nothing moved.",
            asset=current.asset,
            available=available,
            requested=amount,
        )
    target = get_account(connection, credit.id) or credit
    raise LimitExceeded(
        f"moving {amount} from the {describe_account(current.kind, current.asset)} account to "
        f"the {describe_account(target.kind, target.asset)} account would take one of them "
        "beyond its limits (an account that may only give cannot receive more than it gave, "
        "and no total may pass 2^63-1); nothing moved"
    )


def move(
    connection: Connection,
    debit: Account,
    credit: Account,
    amount: int,
    *,
    pending: bool = False,
) -> None:
    """Change both accounts' totals, or raise (InsufficientBalance, LimitExceeded) having
    changed nothing the caller's transaction will keep. Rows are touched in id order so two
    transfers between the same accounts never deadlock on PostgreSQL."""
    debit_statement = _DEBIT_PENDING if pending else _DEBIT_POSTED
    credit_statement = _CREDIT_PENDING if pending else _CREDIT_POSTED
    steps = [(debit, debit_statement), (credit, credit_statement)]
    debited = False
    for account, statement in sorted(steps, key=lambda step: step[0].id):
        result = statement.run(connection, {"id": account.id, "amount": amount, "max": MAX_AMOUNT})
        if result.rowcount != 1:
            refuse(connection, debit, credit, amount, debited)
        debited = debited or account is debit


# Both sides of a posted transfer in one statement (redemption's hot path): the same flag and
# limit checks as _DEBIT_POSTED and _CREDIT_POSTED, chosen per row.
MOVE_POSTED_SET = (
    "UPDATE ledger_accounts SET "
    "debits_posted = debits_posted + CASE WHEN id = :debit THEN :amount ELSE 0 END, "
    "credits_posted = credits_posted + CASE WHEN id = :debit THEN 0 ELSE :amount END "
)
MOVE_POSTED_CHECK = (
    "AND CASE WHEN id = :debit THEN "
    "CASE WHEN debits_posted > :max - :amount THEN 0 WHEN (flags & 1) = 0 THEN 1 "
    "WHEN :amount <= credits_posted - debits_posted - debits_pending THEN 1 ELSE 0 END "
    "ELSE CASE WHEN credits_posted > :max - :amount THEN 0 WHEN (flags & 2) = 0 THEN 1 "
    "WHEN :amount <= debits_posted - credits_posted - credits_pending THEN 1 ELSE 0 END "
    "END = 1 RETURNING id"
)
_MOVE_POSTED_SQLITE = Sql(MOVE_POSTED_SET + "WHERE id IN (:debit, :credit) " + MOVE_POSTED_CHECK)
# PostgreSQL would visit the two rows in whatever order its plan reads them (a bitmap scan
# reads them in heap order, which updates change), so the CTE locks them first, in id order,
# as `move` does: two transfers between the same accounts never deadlock.
_MOVE_POSTED_POSTGRESQL = Sql(
    "WITH locked AS MATERIALIZED (SELECT id FROM ledger_accounts WHERE id IN (:debit, :credit) "  # noqa: S608
    "ORDER BY id FOR UPDATE) "
    + MOVE_POSTED_SET
    + "WHERE id IN (SELECT id FROM locked) "
    + MOVE_POSTED_CHECK
)


# PostgreSQL posts a single transfer, balances and journal row, in one statement. The row is
# inserted whatever the update found: when it did not change both accounts, post_one raises
# and the transaction, row and all, rolls back.
_POST_ONE_POSTGRESQL = Sql(
    "WITH locked AS MATERIALIZED (SELECT id FROM ledger_accounts WHERE id IN (:debit, :credit) "  # noqa: S608
    "ORDER BY id FOR UPDATE), moved AS ("
    + MOVE_POSTED_SET
    + "WHERE id IN (SELECT id FROM locked) "
    + MOVE_POSTED_CHECK
    + f"), inserted AS (INSERT INTO ledger_transfers ({', '.join(TRANSFER_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + name for name in TRANSFER_COLUMNS)})) "
    "SELECT id FROM moved"
)


def post_one(
    connection: Connection, debit: Account, credit: Account, amount: int, row: dict[str, Any]
) -> None:
    """`move_posted` and `insert_transfers` of one posted transfer row, raising as they do;
    one round trip on PostgreSQL."""
    if connection.dialect.name != "postgresql" or debit.id == credit.id:
        move_posted(connection, debit, credit, amount)
        insert_transfers(connection, [row])
        return
    params = dict(row)
    for column in ("created_at", "timeout_at"):
        params[column] = bind_datetime(connection, params[column])
    params.update(debit=debit.id, credit=credit.id, amount=amount, max=MAX_AMOUNT)
    try:
        changed = {found[0] for found in _POST_ONE_POSTGRESQL.run(connection, params).fetchall()}
    except Exception as error:
        if is_key_clash(error):
            raise TransferInFlight(row["idempotency_key"]) from error
        raise
    if len(changed) != 2:
        refuse(connection, debit, credit, amount, debit.id in changed)


def move_posted(connection: Connection, debit: Account, credit: Account, amount: int) -> None:
    """`move` for a posted transfer, in one statement; raises as `move` does."""
    if debit.id == credit.id:
        raise LimitExceeded("a transfer needs two different accounts; nothing moved")
    postgres = connection.dialect.name == "postgresql"
    statement = _MOVE_POSTED_POSTGRESQL if postgres else _MOVE_POSTED_SQLITE
    changed = {
        row[0]
        for row in statement.run(
            connection,
            {"debit": debit.id, "credit": credit.id, "amount": amount, "max": MAX_AMOUNT},
        ).fetchall()
    }
    if len(changed) != 2:
        refuse(connection, debit, credit, amount, debit.id in changed)


def resolve(connection: Connection, debit_id: str, credit_id: str, held: int, posted: int) -> None:
    """Close a hold of `held`, posting `posted` of it (0 to void)."""
    for account_id, statement in sorted(
        [(debit_id, _DEBIT_RESOLVE), (credit_id, _CREDIT_RESOLVE)], key=lambda step: step[0]
    ):
        result = statement.run(
            connection, {"id": account_id, "held": held, "posted": posted, "max": MAX_AMOUNT}
        )
        if result.rowcount != 1:
            raise LimitExceeded(
                "the hold no longer matches the account totals; nothing moved. Run "
                "`fairshare ledger trial-balance` and report this to the operator"
            )


def transfer_row(
    *,
    key: str,
    body_hash: str,
    debit: Account,
    credit: Account,
    amount: int,
    kind: TransferKind,
    actor: str,
    now: datetime,
    flags: TransferFlag = TransferFlag.NONE,
    pending_id: str | None = None,
    timeout_at: datetime | None = None,
    link_id: str | None = None,
    programme: str | None = None,
    period: str | None = None,
    beneficiary_id: str | None = None,
    merchant_id: str | None = None,
    reference: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "idempotency_key": key,
        "request_hash": body_hash,
        "debit_account_id": debit.id,
        "credit_account_id": credit.id,
        "asset": debit.asset,
        "amount": amount,
        "kind": kind.value,
        "flags": int(flags),
        "pending_id": pending_id,
        "timeout_at": timeout_at,
        "link_id": link_id,
        "programme": programme,
        "period": period,
        "beneficiary_id": beneficiary_id,
        "merchant_id": merchant_id,
        "reference": json.dumps(reference or {}, sort_keys=True),
        "created_at": now,
        "created_by": actor,
    }


def insert_transfers(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert transfer rows; a key another request committed meanwhile is TransferInFlight
    (see `claim_key`): the client's retry then replays that request's result."""
    try:
        if len(rows) == 1:
            row = dict(rows[0])
            for column in ("created_at", "timeout_at"):
                row[column] = bind_datetime(connection, row[column])
            _INSERT_TRANSFER.run(connection, row)
        else:
            bulk_insert(connection, T, rows)
    except Exception as error:
        if is_key_clash(error):
            raise TransferInFlight(rows[0]["idempotency_key"]) from error
        raise


def is_key_clash(error: BaseException) -> bool:
    """Whether an insert failed on the unique index of idempotency keys (driver errors come
    bare from `Sql`, wrapped in SQLAlchemy's IntegrityError from `bulk_insert`)."""
    original = getattr(error, "orig", None) or error
    diagnostics = getattr(original, "diag", None)
    if diagnostics is not None:
        return bool(diagnostics.constraint_name == "uq_ledger_transfers_idempotency_key")
    return str(original) == "UNIQUE constraint failed: ledger_transfers.idempotency_key"


def open_holds(connection: Connection, before: datetime | None = None) -> list[Transfer]:
    """Pending transfers not yet posted or voided (timed out before `before`, if given)."""
    resolution = T.alias("resolution")
    statement = (
        select(T)
        .outerjoin(resolution, resolution.c.pending_id == T.c.id)
        .where(T.c.flags.op("&")(int(TransferFlag.PENDING)) != 0)
        .where(resolution.c.id.is_(None))
        .order_by(T.c.created_at)
    )
    if before is not None:
        statement = statement.where(T.c.timeout_at.is_not(None)).where(T.c.timeout_at < before)
    return [transfer_from_row(row) for row in connection.execute(statement)]
