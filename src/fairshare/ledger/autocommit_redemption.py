"""A redemption in two statements on PostgreSQL, each committing by itself (decision 0028).

On a busy PostgreSQL server a redemption's cost is mostly per statement, so the common case
(one draw, a merchant whose settlement account exists, a new key) reads everything it needs in
one statement and writes everything in one more, with no BEGIN and no COMMIT around them:

- `read`: the key's earlier use, the till's merchant and settlement account, what the
  authorisation is checked against (the caseworker verification, or the issuer key and the
  card row a card's QR text names), and the beneficiary's current owner (following merges)
  with that owner's entitlement accounts.
  One snapshot, as the reads of a READ COMMITTED transaction would see.
- `post`: both balances, the journal row and the access-log outbox entries in one statement,
  which PostgreSQL applies whole or not at all. The accounts are locked in id order and
  checked on their latest values (as `store.post_one` does); when either check fails, the
  statement divides by zero on purpose so that nothing of it is kept, and `post` reports why.

The rules (which quotas, what is refused, in which order) stay in `services.Ledger.redeem`,
shared with the transactional path that every other case takes; that path reads with `read`
too, inside its transaction, on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from fairshare.audit.orm import OUTBOX_COLUMNS
from fairshare.credentials.card import peek
from fairshare.credentials.model import Authorisation, AuthorisationMethod
from fairshare.credentials.services import (
    CARD_HOLDER_COLUMNS,
    CARD_HOLDER_FROM,
    CARD_KEY_COLUMNS,
    CARD_KEY_FROM,
    VERIFICATION_COLUMNS,
    VERIFICATION_FROM,
    CardRows,
)
from fairshare.driver import Sql, bind_datetime
from fairshare.ledger import store
from fairshare.ledger.model import MAX_AMOUNT, Account, TransferInFlight

MERCHANT_COLUMNS = ("id", "code", "name", "category", "accepts", "region", "iban", "bic")
_ACCOUNT_NAMES = [name.strip() for name in store.ACCOUNT_COLUMNS.split(",")]
_SETTLEMENT_AT = 1 + len(MERCHANT_COLUMNS)
_PROOF_AT = _SETTLEMENT_AT + len(_ACCOUNT_NAMES)
_VERIFICATION_WIDTH = len(VERIFICATION_COLUMNS.split(","))
_CARD_KEY_WIDTH = len(CARD_KEY_COLUMNS.split(","))
_CARD_WIDTH = _CARD_KEY_WIDTH + len(CARD_HOLDER_COLUMNS.split(","))

# The f-strings join constant column names only; values are bound parameters.
_MERCHANT_SELECT = ", ".join(
    [f"m.{name}" for name in MERCHANT_COLUMNS]
    + [f"s.{name} AS settlement_{name}" for name in _ACCOUNT_NAMES]
)
_TILL = (
    f"SELECT {_MERCHANT_SELECT} FROM ledger_merchants m "  # noqa: S608
    "JOIN ledger_merchant_users u ON u.merchant_id = m.id "
    "LEFT JOIN ledger_accounts s ON s.code = 'settlement:' || m.id || ':' || :asset "
    "WHERE u.username = :username ORDER BY m.id LIMIT 1"
)
# What proves the right to redeem, by how it is authorised: the caseworker verification, or
# the issuer key and card row a card's QR text names (checked afterwards, as
# `credentials.services.check_authorisation` checks them); an offline receipt is checked on its own.
_PROOFS: dict[str, tuple[str, str, int]] = {  # columns selected, joins, their width
    "caseworker": (
        "checked.*, ",
        f"LEFT JOIN (SELECT {VERIFICATION_COLUMNS} FROM {VERIFICATION_FROM} "  # noqa: S608
        "WHERE v.id = :verification) AS checked ON true ",
        _VERIFICATION_WIDTH,
    ),
    "card": (
        "issuer.*, holder.*, ",
        f"LEFT JOIN (SELECT {CARD_KEY_COLUMNS} FROM {CARD_KEY_FROM} "  # noqa: S608
        "WHERE k.key_id = :card_key) AS issuer ON true "
        f"LEFT JOIN (SELECT {CARD_HOLDER_COLUMNS} FROM {CARD_HOLDER_FROM} "
        "WHERE c.id = :card) AS holder ON true ",
        _CARD_WIDTH,
    ),
    "none": ("", "", 0),
}
_READS = {
    proof: Sql(
        f"{store.OWNER_CHAIN}"  # noqa: S608
        "SELECT (SELECT 1 FROM ledger_transfers WHERE idempotency_key = :key), till.*, "
        f"{columns}owner.id, {store.A_ACCOUNT_COLUMNS} FROM owner "
        f"LEFT JOIN ({_TILL}) AS till ON true "
        f"{joins}"
        f"{store.ENTITLEMENTS_OF_OWNER}"
    )
    for proof, (columns, joins, _width) in _PROOFS.items()
}


@dataclass(frozen=True)
class Facts:
    """What a redemption decides on, read in one statement."""

    key_used: bool
    merchant: tuple[Any, ...] | None  # MERCHANT_COLUMNS, None when the user has no merchant
    settlement: Account | None
    verification: tuple[Any, ...] | None  # VERIFICATION_COLUMNS of the one asked for
    card: CardRows | None  # the key and card row a card names, when a card authorises
    owner: str
    entitlements: list[Account]  # the programme's, soonest to expire first


def read(
    connection: Connection,
    *,
    key: str,
    username: str,
    asset: str,
    beneficiary_id: str,
    programme: str,
    authorisation: Authorisation,
) -> Facts:
    """What the redemption needs, with what the authorisation is to be checked against."""
    params: dict[str, Any] = {
        "key": key,
        "username": username,
        "asset": asset,
        "owner": beneficiary_id,
    }
    if authorisation.method is AuthorisationMethod.CASEWORKER:
        proof = "caseworker"
        params["verification"] = authorisation.reference[:36]
    elif authorisation.method is AuthorisationMethod.CARD:
        proof = "card"
        params["card_key"], params["card"] = peek(authorisation.reference)
    else:
        proof = "none"
    width = _PROOFS[proof][2]
    rows = _READS[proof].run(connection, params).fetchall()
    first = rows[0]  # the owner chain always yields a row
    owner_at = _PROOF_AT + width
    merchant = tuple(first[1:_SETTLEMENT_AT]) if first[1] is not None else None
    settlement = (
        store.account_from_tuple(first[_SETTLEMENT_AT:_PROOF_AT])
        if first[_SETTLEMENT_AT] is not None
        else None
    )
    proven = first[_PROOF_AT:owner_at]
    verification = card = None
    if proof == "caseworker" and proven[0] is not None:
        verification = tuple(proven)
    elif proof == "card":
        card = CardRows(
            key=tuple(proven[:_CARD_KEY_WIDTH]) if proven[0] is not None else None,
            holder=tuple(proven[_CARD_KEY_WIDTH:]) if proven[_CARD_KEY_WIDTH] is not None else None,
        )
    return Facts(
        key_used=first[0] is not None,
        merchant=merchant,
        settlement=settlement,
        verification=verification,
        card=card,
        owner=first[owner_at],
        entitlements=store.entitlements_in(rows, owner_at + 1, programme),
    )


_POSTS: dict[int, Sql] = {}


def _post_statement(entries: int) -> Sql:
    """The write of one transfer with `entries` outbox entries (log0_at, log1_at, ...)."""
    statement = _POSTS.get(entries)
    if statement is None:
        values = ", ".join(
            "(" + ", ".join(f":log{index}_{name}" for name in OUTBOX_COLUMNS) + ")"
            for index in range(entries)
        )
        transfer_columns = ", ".join(store.TRANSFER_COLUMNS)
        transfer_values = ", ".join(":" + name for name in store.TRANSFER_COLUMNS)
        statement = Sql(
            "WITH locked AS MATERIALIZED (SELECT id FROM ledger_accounts "  # noqa: S608
            "WHERE id IN (:debit, :credit) ORDER BY id FOR UPDATE), moved AS ("
            + store.MOVE_POSTED_SET
            + "WHERE id IN (SELECT id FROM locked) "
            + store.MOVE_POSTED_CHECK
            + "), inserted AS (INSERT INTO ledger_transfers "
            + f"({transfer_columns}) VALUES ({transfer_values})), "
            + f"logged AS (INSERT INTO access_log_outbox ({', '.join(OUTBOX_COLUMNS)}) "
            + f"VALUES {values}) "
            # Both accounts moved, or the statement fails and keeps nothing.
            + "SELECT 1 / CASE WHEN count(*) = 2 THEN 1 ELSE 0 END FROM moved"
        )
        _POSTS[entries] = statement
    return statement


_DIVISION_BY_ZERO = "22012"


def post(
    connection: Connection,
    debit: Account,
    credit: Account,
    amount: int,
    row: dict[str, Any],
    log: Sequence[dict[str, Any]],
) -> None:
    """Post one transfer row with its outbox entries (`audit.orm.outbox_row`), all or
    nothing; raises InsufficientBalance or LimitExceeded (having kept nothing) as
    `store.move` does, and TransferInFlight when another request committed the key."""
    params = dict(row)
    for column in ("created_at", "timeout_at"):
        params[column] = bind_datetime(connection, params[column])
    params.update(debit=debit.id, credit=credit.id, amount=amount, max=MAX_AMOUNT)
    for index, entry in enumerate(log):
        params.update({f"log{index}_{name}": value for name, value in entry.items()})
    try:
        _post_statement(len(log)).run(connection, params).fetchall()
    except Exception as error:
        if getattr(error, "sqlstate", None) == _DIVISION_BY_ZERO:
            store.refuse(connection, debit, credit, amount, debited=False)
        if store.is_key_clash(error):
            raise TransferInFlight(row["idempotency_key"]) from error
        raise


__all__ = ["MERCHANT_COLUMNS", "Facts", "post", "read"]
