"""What follows the survivor of a merge besides decisions and enrolments: appeals and the
merged record's entitlement accounts; and how an unmerge gives them back.

Runs inside the merge's (or unmerge's) transaction, so a refusal leaves nothing half-done.
Transfers are never edited (decision 0016), so accounts follow in one of two ways:

- the survivor has no account for the same programme, asset and period: the account itself
  is re-owned (its owner column points at the survivor), keeping its journal with it;
- the survivor has one: what the merged record's account has available moves to it by a
  correction transfer, and an unmerge posts the reverse transfer.

An unmerge must give the merged record back what it had. When the survivor has spent part
of it since the merge, the unmerge is refused with what to do (a correction crediting the
survivor's account first); it never overdraws an account.

Entitlements paid to both records for the same programme and period stay paid (the money
was paid out): the merge lists them as double payments for a caseworker or auditor.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from fairshare.assets import format_amount
from fairshare.audit.model import AccessRequest, Tag
from fairshare.eligibility.orm import appeals
from fairshare.errors import Conflict
from fairshare.identity.guard import access_request
from fairshare.identity.model import Actor
from fairshare.ledger import store
from fairshare.ledger.model import Account, AccountKind, TransferKind
from fairshare.ledger.orm import ledger_accounts, ledger_transfers
from fairshare.ledger.services import Ledger

# ---- appeals -----------------------------------------------------------------------------


def move_appeals(connection: Connection, merged: str, survivor: str) -> list[str]:
    """Re-point the merged person's appeals at the survivor (their decisions moved too)."""
    ids = [
        row.id
        for row in connection.execute(
            select(appeals.c.id)
            .where(and_(appeals.c.subject_type == "person", appeals.c.subject_id == merged))
            .order_by(appeals.c.id)
        )
    ]
    if ids:
        connection.execute(update(appeals).where(appeals.c.id.in_(ids)).values(subject_id=survivor))
    return ids


def restore_appeals(
    connection: Connection, ids: list[str], decision_ids: list[str], merged: str, survivor: str
) -> None:
    """Give back the appeals the merge moved, and those filed since against the decisions it
    moved (they go back to the merged person with their decision)."""
    if ids or decision_ids:
        connection.execute(
            update(appeals)
            .where(appeals.c.subject_id == survivor)
            .where(or_(appeals.c.id.in_(ids), appeals.c.decision_id.in_(decision_ids)))
            .values(subject_id=merged)
        )


# ---- accounts ----------------------------------------------------------------------------


def _entitlement_accounts(connection: Connection, owner: str) -> list[Account]:
    return [
        account
        for account in store.accounts_of(connection, [owner], kind=AccountKind.ENTITLEMENT)
        if account.owner_type == "person"
    ]


def _slot(account: Account) -> tuple[str, str, str]:
    return (account.programme or "", account.asset, account.period or "")


def follow_accounts(
    ledger: Ledger,
    connection: Connection,
    actor: Actor,
    *,
    merge_id: str,
    merged: str,
    survivor: str,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Bring the merged person's entitlement accounts to the survivor; returns (re-owned,
    balances moved). A quota whose period has ended moves nowhere by transfer: what is left
    of it goes back to the programme's funding when the period is expired."""
    survivor_accounts: dict[tuple[str, str, str], Account] = {}
    for account in _entitlement_accounts(connection, survivor):
        survivor_accounts.setdefault(_slot(account), account)
    reowned: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    today = now.date()
    for account in sorted(_entitlement_accounts(connection, merged), key=lambda a: a.id):
        target = survivor_accounts.get(_slot(account))
        if target is None:
            connection.execute(
                update(ledger_accounts)
                .where(ledger_accounts.c.id == account.id)
                .values(owner_id=survivor)
            )
            reowned.append({"account": account.id, "available": account.available})
            continue
        if account.available <= 0 or _ended(account, today):
            continue
        transfer = ledger.post_in(
            connection,
            key=f"merge:{merge_id}:{account.id}",
            body={"op": "merge", "merge": merge_id, "account": account.id},
            debit=account,
            credit=target,
            amount=account.available,
            kind=TransferKind.CORRECTION,
            actor=actor,
            now=now,
            beneficiary_id=survivor,
            reference={"merge": merge_id, "reason": "duplicate record merged into its survivor"},
        )
        moved.append(
            {
                "from": account.id,
                "to": target.id,
                "amount": account.available,
                "asset": account.asset,
                "programme": account.programme,
                "transfer": transfer.id,
            }
        )
    return reowned, moved


def _ended(account: Account, today: date) -> bool:
    return account.expires_on is not None and account.expires_on < today


def check_restorable(connection: Connection, moved: dict[str, Any], survivor: str) -> None:
    """Raise Conflict, saying what to do, unless every account can get back what the merge
    gave the survivor without overdrawing anything."""
    for item in moved.get("accounts_reowned", []):
        account = store.get_account(connection, item["account"])
        if account is None or account.owner_id != survivor:
            raise Conflict(
                f"ledger account {item['account']} no longer belongs to the survivor "
                f"{survivor}; it cannot be handed back. Report this to the operator"
            )
        _refuse_if_spent(account, item["available"] - account.available, survivor)
    owed: dict[str, int] = {}  # several accounts of a chain of merges may have fed one
    for item in moved.get("balances_moved", []):
        owed[item["to"]] = owed.get(item["to"], 0) + item["amount"]
    for account_id, amount in owed.items():
        target = store.get_account(connection, account_id)
        if target is None:
            raise Conflict(f"ledger account {account_id} is missing; report this to the operator")
        _refuse_if_spent(target, amount - target.available, survivor)


def _refuse_if_spent(account: Account, shortfall: int, survivor: str) -> None:
    if shortfall <= 0:
        return
    programme = account.programme or "?"
    raise Conflict(
        f"since the merge, {format_amount(account.asset, shortfall)} of the {programme} "
        f"entitlement it brought to the survivor {survivor} was redeemed (or expired), so "
        "unmerging would overdraw an account or short-change the merged record; nothing was "
        "changed. A disbursement officer can credit "
        f"ledger account {account.id} with a correction transfer of {shortfall} "
        "(POST /ledger/transfers), then unmerge again",
        account=account.id,
        shortfall=shortfall,
    )


def restore_accounts(
    ledger: Ledger,
    connection: Connection,
    actor: Actor,
    *,
    merge_id: str,
    moved: dict[str, Any],
    merged: str,
    survivor: str,
    now: datetime,
) -> list[str]:
    """Give the merged person back their accounts and balances; returns the ids of the
    reversing transfers. Call `check_restorable` first."""
    for item in moved.get("accounts_reowned", []):
        connection.execute(
            update(ledger_accounts)
            .where(
                and_(
                    ledger_accounts.c.id == item["account"],
                    ledger_accounts.c.owner_id == survivor,
                )
            )
            .values(owner_id=merged)
        )
    reversed_ids: list[str] = []
    for item in moved.get("balances_moved", []):
        source = store.get_account(connection, item["to"])
        back = store.get_account(connection, item["from"])
        assert source is not None and back is not None  # checked by check_restorable
        transfer = ledger.post_in(
            connection,
            key=f"unmerge:{merge_id}:{item['from']}",
            body={"op": "unmerge", "merge": merge_id, "account": item["from"]},
            debit=source,
            credit=back,
            amount=item["amount"],
            kind=TransferKind.CORRECTION,
            actor=actor,
            now=now,
            beneficiary_id=merged,
            reference={"merge": merge_id, "reverses": item["transfer"], "reason": "merge undone"},
        )
        reversed_ids.append(transfer.id)
    return reversed_ids


# ---- double payments ---------------------------------------------------------------------


def double_payments(connection: Connection, merged: str, survivor: str) -> list[dict[str, Any]]:
    """Entitlements paid to both records for the same programme and period."""
    t = ledger_transfers.c
    paid: dict[tuple[str, str], dict[str, Any]] = {}
    for row in connection.execute(
        select(t.id, t.programme, t.period, t.asset, t.amount, t.beneficiary_id)
        .where(
            and_(t.kind == TransferKind.ENTITLEMENT.value, t.beneficiary_id.in_([merged, survivor]))
        )
        .order_by(t.programme, t.period, t.id)
    ):
        line = paid.setdefault(
            (row.programme, row.period),
            {"programme": row.programme, "period": row.period, "asset": row.asset},
        )
        line["merged_transfer" if row.beneficiary_id == merged else "survivor_transfer"] = row.id
        line["merged_amount" if row.beneficiary_id == merged else "survivor_amount"] = row.amount
    return [
        line for line in paid.values() if "merged_transfer" in line and "survivor_transfer" in line
    ]


def transfer_log(actor: Actor, transfer_ids: list[str]) -> list[AccessRequest]:
    """The ledger's own log line for each transfer posted on a merge or unmerge."""
    return [
        access_request(actor, Tag.LEDGER_TRANSFER_CREATE, "ledger", transfer_id, ("amount",))
        for transfer_id in transfer_ids
    ]
