"""What must hold in the ledger whatever happened to the process writing it, checked with
SQL straight on the tables (not through the code under test)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from fairshare.ledger.orm import ledger_transfers

_ASSETS = text(
    "SELECT asset, SUM(credits_posted) - SUM(debits_posted) AS posted, "
    "SUM(credits_pending) - SUM(debits_pending) AS pending FROM ledger_accounts GROUP BY asset"
)
_FLAGS = text(
    "SELECT code FROM ledger_accounts WHERE "
    "((flags & 1) <> 0 AND debits_posted + debits_pending > credits_posted) OR "
    "((flags & 2) <> 0 AND credits_posted + credits_pending > debits_posted) OR "
    "debits_posted < 0 OR credits_posted < 0 OR debits_pending < 0 OR credits_pending < 0"
)
# Every account's posted totals are the sum of the (plain, posted) transfers that touch it:
# no update was lost or applied twice. The crash workers post no holds.
_TOTALS = text(
    "SELECT a.code, a.debits_posted, a.credits_posted, COALESCE(d.total, 0) AS debited, "
    "COALESCE(c.total, 0) AS credited FROM ledger_accounts a "
    "LEFT JOIN (SELECT debit_account_id AS id, SUM(amount) AS total FROM ledger_transfers "
    " GROUP BY debit_account_id) d ON d.id = a.id "
    "LEFT JOIN (SELECT credit_account_id AS id, SUM(amount) AS total FROM ledger_transfers "
    " GROUP BY credit_account_id) c ON c.id = a.id "
    "WHERE a.debits_posted <> COALESCE(d.total, 0) OR a.credits_posted <> COALESCE(c.total, 0)"
)
_HOLDS = text("SELECT count(*) FROM ledger_transfers WHERE flags & 7 <> 0")
_PAID_TWICE = text(
    "SELECT programme, period, beneficiary_id, count(*) FROM ledger_transfers "
    "WHERE kind = 'entitlement' GROUP BY programme, period, beneficiary_id HAVING count(*) > 1"
)
_EXPIRED_TWICE = text(
    "SELECT debit_account_id FROM ledger_transfers WHERE kind = 'expiry' "
    "GROUP BY debit_account_id HAVING count(*) > 1"
)
_CYCLES = text("SELECT programme, period, status, posted FROM ledger_cycles")
_PAID = text(
    "SELECT programme, period, count(*) FROM ledger_transfers WHERE kind = 'entitlement' "
    "GROUP BY programme, period"
)
_ENROLLED = text("SELECT programme, count(*) FROM enrolments GROUP BY programme")
_LEFT_AFTER_EXPIRY = text(
    "SELECT count(*) FROM ledger_accounts WHERE kind = 'entitlement' AND programme = :programme "
    "AND period = :period AND credits_posted - debits_posted - debits_pending <> 0"
)


def read_acks(path: Path) -> list[dict[str, Any]]:
    """The ack file's lines; a last line cut short by the kill is not a promise."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def _transfers_by_key(connection: Connection, keys: list[str]) -> dict[str, list[str]]:
    """key → ids of the transfers stored under it or its linked parts (`key/2`, ...)."""
    found: dict[str, list[str]] = {}
    table = ledger_transfers
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = connection.execute(
            table.select()
            .with_only_columns(table.c.idempotency_key, table.c.id, table.c.link_id)
            .where(table.c.idempotency_key.in_(chunk))
        ).all()
        for key, transfer_id, link_id in rows:
            ids = [transfer_id]
            if link_id is not None:
                ids = [
                    row.id
                    for row in connection.execute(
                        table.select()
                        .with_only_columns(table.c.id)
                        .where(table.c.link_id == link_id)
                        .order_by(table.c.idempotency_key)
                    )
                ]
            found.setdefault(key, []).extend(ids)
    return found


def check(
    connection: Connection,
    acks: Iterable[dict[str, Any]],
    *,
    complete: bool = False,
    expired_periods: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """Every broken invariant, described; [] when the ledger is sound.

    Always: each asset sums to zero, no account breaks its flags or differs from the sum of
    its transfers, each acknowledged transfer is stored exactly once with the acknowledged
    ids, replays returned the first result, nobody was paid twice for a period. With
    `complete` (after a rerun): every started cycle completed and paid every enrolled
    beneficiary once, and every expired period's quotas are empty."""
    problems: list[str] = []
    for asset, posted, pending in connection.execute(_ASSETS):
        if int(posted) != 0 or int(pending) != 0:
            problems.append(f"{asset} does not sum to zero: posted {posted}, pending {pending}")
    broken = [row.code for row in connection.execute(_FLAGS)]
    if broken:
        problems.append(f"{len(broken)} accounts break their flags, e.g. {broken[:3]}")
    if connection.execute(_HOLDS).scalar_one():
        problems.append("holds found, but the crash workers post none")
    drifted = connection.execute(_TOTALS).all()
    if drifted:
        problems.append(f"{len(drifted)} accounts differ from their transfers, e.g. {drifted[:2]}")
    twice = connection.execute(_PAID_TWICE).all()
    if twice:
        problems.append(f"paid twice for one period: {twice[:3]}")
    if connection.execute(_EXPIRED_TWICE).all():
        problems.append("a quota expired twice")
    entries = list(acks)
    promised = {e["key"]: e["ids"] for e in entries if e.get("op") == "ack"}
    stored = _transfers_by_key(connection, sorted(promised))
    for key, ids in promised.items():
        if stored.get(key) != ids:
            problems.append(f"acknowledged {key} stored as {stored.get(key)}, not {ids}")
    for entry in entries:
        if entry.get("op") == "replay" and (
            not entry["replayed"] or promised.get(entry["key"], entry["ids"]) != entry["ids"]
        ):
            problems.append(f"a resent request {entry['key']} did not return its first result")
        if entry.get("op") == "error":
            problems.append(f"the worker failed: {entry['traceback'][-600:]}")
    if complete:
        enrolled = dict(connection.execute(_ENROLLED).all())
        paid = {(p, q): n for p, q, n in connection.execute(_PAID)}
        for programme, period, status, posted in connection.execute(_CYCLES):
            count = paid.get((programme, period), 0)
            if status != "completed" or count != enrolled.get(programme) or posted != count:
                problems.append(
                    f"cycle {programme} {period}: {status}, {count} paid, {posted} counted, "
                    f"{enrolled.get(programme)} enrolled"
                )
        for programme, period in expired_periods:
            left = connection.execute(
                _LEFT_AFTER_EXPIRY, {"programme": programme, "period": period}
            ).scalar_one()
            if left:
                problems.append(f"{left} quotas of {programme} {period} left after expiry")
    return problems
