"""Offline redemption use cases: register a merchant device, hand it a signed allowance list,
and sync the receipts it recorded while offline (issue 6, part 7).

Sync checks each receipt (device signature, allowance, seen before) in one transaction and
records the verdict; then posts each checked receipt through `Ledger.redeem` with the
receipt as authorisation (idempotency key `offline:<receipt id>`), so a retried sync posts
nothing twice. When the ledger refuses for lack of balance, the same entitlement was spent
elsewhere first (another device, or online): the receipt is reported as a double spend and
its amount as the loss, which the allowances bound.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, func, insert, select, update

from fairshare.audit import services as audit
from fairshare.audit.model import Tag, as_utc, utc_now
from fairshare.credentials.issuer_keys import IssuerKeys
from fairshare.credentials.lists import b64, unb64
from fairshare.credentials.model import Authorisation, AuthorisationMethod, AuthorisationRefused
from fairshare.credentials.offline import (
    MAX_RECEIPTS_PER_SYNC,
    Allowance,
    AllowanceList,
    Receipt,
    ReceiptOutcome,
    SignedReceipt,
    allowance_list_document,
    check_receipts,
    offline_maximum,
    parse_receipt,
)
from fairshare.credentials.orm import cards, merchant_devices, offline_allowances, offline_receipts
from fairshare.credentials.services import epoch, from_epoch
from fairshare.db import UnitOfWork
from fairshare.errors import InvalidInput, NotFound
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed
from fairshare.ids import new_id
from fairshare.ledger.model import InsufficientBalance
from fairshare.ledger.orm import ledger_accounts, ledger_merchant_users, ledger_merchants
from fairshare.ledger.services import Ledger
from fairshare.registry.orm import people

OFFLINE = frozenset({Purpose.REDEMPTION})
ALLOWANCE_VALID_FOR = timedelta(days=7)
CHECKED = "checked"  # verdict recorded, ledger posting still to do
D, AL, RC = merchant_devices, offline_allowances, offline_receipts


class UnknownDevice(NotFound):
    def __init__(self, device_id: str) -> None:
        super().__init__(
            f"no merchant device {device_id[:40]!r}; register it with its public key first"
        )


@dataclass(frozen=True)
class SyncedReceipt:
    receipt_id: str
    outcome: str
    reason: str
    loss: int
    replayed: bool


@dataclass(frozen=True)
class SyncResult:
    receipts: tuple[SyncedReceipt, ...]
    loss: int  # amounts handed out offline that no entitlement covered
    loss_bound: int  # what the device's current allowances allowed at most

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.receipts if r.outcome == outcome)


class OfflineRedemption:
    """Merchant devices that redeem without a network, and their sync."""

    def __init__(self, uow: UnitOfWork, key_dir: Path, ledger: Callable[[], Ledger]) -> None:
        self.uow = uow
        self.key_dir = key_dir
        self._ledger = ledger

    def _merchant_id(self, connection: Connection, actor: Actor) -> str:
        merchant = connection.execute(
            select(ledger_merchant_users.c.merchant_id).where(
                ledger_merchant_users.c.username == actor.username
            )
        ).scalar()
        if merchant is None:
            raise PurposeNotAllowed(
                f"user {actor.username!r} does not act for any registered merchant; an "
                "administrator links till users to their merchant"
            )
        return str(merchant)

    def _device(self, connection: Connection, actor: Actor, device_id: str) -> Any:
        device = connection.execute(select(D).where(D.c.id == device_id[:36])).first()
        if device is None:
            raise UnknownDevice(device_id)
        if device.merchant_id != self._merchant_id(connection, actor):
            raise PurposeNotAllowed("the device belongs to another merchant")
        return device

    def register_device(self, actor: Actor, public_key: str) -> str:
        """Register a device's Ed25519 public key (URL-safe Base64, 32 bytes) for the actor's
        merchant; returns the device id. Raises PurposeNotAllowed (logged), InvalidInput."""
        authorize(self.uow, actor, OFFLINE, "merchant", "devices", Tag.CREDENTIALS_DEVICE_REGISTER)
        try:
            raw = unb64(public_key.strip())
            Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise InvalidInput(
                "the public key must be a raw Ed25519 public key (32 bytes) in URL-safe Base64",
                errors=[{"field": "public_key", "reason": "Ed25519, 32 bytes, Base64"}],
            ) from None
        device_id = new_id()
        with self.uow:
            connection = self.uow.connection
            merchant = self._merchant_id(connection, actor)
            connection.execute(
                insert(D).values(
                    id=device_id,
                    merchant_id=merchant,
                    public_key=b64(raw),
                    registered_by=actor.username,
                    registered_at=utc_now(),
                )
            )
            audit.record(
                self.uow,
                [access_request(actor, Tag.CREDENTIALS_DEVICE_REGISTER, "merchant", merchant)],
            )
            self.uow.commit()
        return device_id

    def allowance_list(self, actor: Actor, device_id: str, today: date | None = None) -> str:
        """The signed allowance list for the device: for every valid card whose holder (or
        their household) has an open entitlement in an asset the merchant accepts, a fifth
        of what it holds. Raises PurposeNotAllowed (logged), UnknownDevice."""
        authorize(
            self.uow, actor, OFFLINE, "device", device_id[:36], Tag.CREDENTIALS_ALLOWANCE_EXPORT
        )
        day = today or date.today()
        now = utc_now()
        with self.uow:
            connection = self.uow.connection
            device = self._device(connection, actor, device_id)
            accepts = json.loads(
                connection.execute(
                    select(ledger_merchants.c.accepts).where(
                        ledger_merchants.c.id == device.merchant_id
                    )
                ).scalar_one()
            )
            holders = connection.execute(
                select(cards.c.id, cards.c.person_id, people.c.household_id)
                .join(people, people.c.id == cards.c.person_id)
                .where(cards.c.revoked_at.is_(None), cards.c.expires_at > now)
            ).all()
            owners = {row.person_id for row in holders} | {row.household_id for row in holders}
            available: dict[tuple[str, str, str], int] = defaultdict(int)
            owner_type: dict[str, str] = {}
            A = ledger_accounts
            for start in range(0, len(owners), 500):
                chunk = sorted(owners)[start : start + 500]
                for account in connection.execute(
                    select(
                        A.c.owner_id,
                        A.c.owner_type,
                        A.c.programme,
                        A.c.asset,
                        A.c.expires_on,
                        (A.c.credits_posted - A.c.debits_posted - A.c.debits_pending).label(
                            "available"
                        ),
                    ).where(
                        A.c.kind == "entitlement",
                        A.c.owner_id.in_(chunk),
                        A.c.asset.in_(accepts),
                    )
                ):
                    if account.expires_on is not None and account.expires_on < day:
                        continue
                    key = (account.owner_id, account.programme, account.asset)
                    available[key] += max(int(account.available), 0)
                    owner_type[account.owner_id] = account.owner_type or "person"
            by_owner: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
            for (owner, programme, asset), amount in available.items():
                maximum = offline_maximum(amount)
                if maximum > 0:
                    by_owner[owner].append((programme, asset, maximum))
            list_id = new_id()
            valid_until = now + ALLOWANCE_VALID_FOR
            rows, allowances, holders_logged = [], [], set()
            for holder in holders:
                for owner in (holder.person_id, holder.household_id):
                    for programme, asset, maximum in by_owner.get(owner, ()):
                        allowances.append(Allowance(holder.id, programme, asset, maximum))
                        holders_logged.add(holder.person_id)
                        rows.append(
                            {
                                "list_id": list_id,
                                "device_id": device.id,
                                "card_id": holder.id,
                                "programme": programme,
                                "asset": asset,
                                "beneficiary_type": owner_type[owner],
                                "beneficiary_id": owner,
                                "maximum": maximum,
                                "issued_at": now,
                                "valid_until": valid_until,
                            }
                        )
            if rows:
                connection.execute(insert(AL), rows)
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.CREDENTIALS_ALLOWANCE_EXPORT,
                        "person",
                        person,
                        ("entitlement_balance",),
                    )
                    for person in sorted(holders_logged)
                ],
            )
            self.uow.commit()
        document = AllowanceList(
            list_id,
            device.merchant_id,
            device.id,
            epoch(now),
            epoch(valid_until),
            tuple(allowances),
        )
        return allowance_list_document(document, IssuerKeys.from_directory(self.key_dir).root)

    def sync(
        self, actor: Actor, device_id: str, receipts: Sequence[Mapping[str, Any]]
    ) -> SyncResult:
        """Post the device's offline receipts; idempotent (a receipt synced before answers
        its first verdict). Raises PurposeNotAllowed (logged), UnknownDevice, InvalidInput."""
        authorize(self.uow, actor, OFFLINE, "device", device_id[:36], Tag.CREDENTIALS_RECEIPT_SYNC)
        if len(receipts) > MAX_RECEIPTS_PER_SYNC:
            raise InvalidInput(f"sync at most {MAX_RECEIPTS_PER_SYNC} receipts at a time")
        parsed: list[SignedReceipt] = []
        for index, raw in enumerate(receipts):
            try:
                parsed.append(parse_receipt(raw))
            except ValueError as error:
                raise InvalidInput(
                    f"receipt {index}: {error}",
                    errors=[{"field": f"receipts[{index}]", "reason": str(error)}],
                ) from None
        now = utc_now()
        with self.uow:
            connection = self.uow.connection
            device = self._device(connection, actor, device_id)
            ids = [signed.receipt.receipt_id for signed in parsed]
            seen = {
                row.id: row
                for start in range(0, len(ids), 500)
                for row in connection.execute(
                    select(RC).where(RC.c.id.in_(ids[start : start + 500]))
                )
            }
            fresh = [s for s in parsed if s.receipt.receipt_id not in seen]
            list_id, limits, bound = self._latest_allowances(connection, device.id)
            spent = self._spent(connection, device.id, list_id)
            verdicts = check_receipts(fresh, device.id, unb64(device.public_key), limits, spent)
            revoked = self._revoked_cards(connection, [s.receipt.card_id for s in fresh])
            rows = []
            for signed, verdict in zip(fresh, verdicts, strict=True):
                receipt = signed.receipt
                outcome, reason = CHECKED, ""
                if verdict is not None:
                    outcome, reason = verdict.outcome.value, verdict.reason
                elif receipt.card_id in revoked and revoked[receipt.card_id] <= receipt.recorded_at:
                    outcome, reason = ReceiptOutcome.CARD_REVOKED.value, "the card was revoked"
                rows.append(
                    {
                        "id": receipt.receipt_id,
                        "device_id": device.id,
                        "list_id": list_id,
                        "card_id": receipt.card_id,
                        "programme": receipt.programme,
                        "asset": receipt.asset,
                        "amount": receipt.amount,
                        "recorded_at": from_epoch(receipt.recorded_at),
                        "synced_at": now,
                        "outcome": outcome,
                        "reason": reason[:300],
                        "loss": receipt.amount if outcome == "card_revoked" else 0,
                    }
                )
            if rows:
                connection.execute(insert(RC), rows)
            audit.record(
                self.uow,
                [access_request(actor, Tag.CREDENTIALS_RECEIPT_SYNC, "device", device.id)],
            )
            self.uow.commit()
        # Post outside the check's transaction: each posting is the ledger's own transaction.
        pending = [s.receipt for s in parsed if s.receipt.receipt_id not in seen] + [
            _receipt_of(row) for row in seen.values() if row.outcome == CHECKED
        ]
        for receipt in pending:
            self._post(actor, receipt)
        with self.uow:
            final = {
                row.id: row
                for start in range(0, len(ids), 500)
                for row in self.uow.connection.execute(
                    select(RC).where(RC.c.id.in_(ids[start : start + 500]))
                )
            }
        results = tuple(
            SyncedReceipt(
                receipt_id,
                final[receipt_id].outcome,
                final[receipt_id].reason,
                int(final[receipt_id].loss),
                receipt_id in seen,
            )
            for receipt_id in ids
        )
        return SyncResult(results, sum(r.loss for r in results), bound)

    def _post(self, actor: Actor, receipt: Receipt) -> None:
        with self.uow:
            row = self.uow.connection.execute(
                select(RC.c.outcome, AL.c.beneficiary_id)
                .join(
                    AL,
                    (AL.c.list_id == RC.c.list_id)
                    & (AL.c.card_id == RC.c.card_id)
                    & (AL.c.programme == RC.c.programme)
                    & (AL.c.asset == RC.c.asset),
                )
                .where(RC.c.id == receipt.receipt_id)
            ).first()
        if row is None or row.outcome != CHECKED:
            return
        outcome, reason, loss = "posted", "", 0
        try:
            self._ledger().redeem(
                actor,
                key=f"offline:{receipt.receipt_id}",
                beneficiary_id=row.beneficiary_id,
                programme=receipt.programme,
                asset=receipt.asset,
                amount=receipt.amount,
                authorisation=Authorisation(
                    AuthorisationMethod.OFFLINE_RECEIPT, receipt.receipt_id
                ),
                today=from_epoch(receipt.recorded_at).date(),
            )
        except InsufficientBalance as error:
            outcome = ReceiptOutcome.DOUBLE_SPEND.value
            reason = (
                "the entitlement was already spent elsewhere (another device or online); "
                f"{error.details.get('available', 0)} was left"
            )
            loss = receipt.amount
        except (AuthorisationRefused, NotFound, InvalidInput) as error:
            outcome, reason, loss = "refused", str(error)[:300], receipt.amount
        with self.uow:
            self.uow.connection.execute(
                update(RC)
                .where(RC.c.id == receipt.receipt_id, RC.c.outcome == CHECKED)
                .values(outcome=outcome, reason=reason, loss=loss)
            )
            self.uow.commit()

    def _latest_allowances(
        self, connection: Connection, device_id: str
    ) -> tuple[str | None, dict[tuple[str, str, str], int], int]:
        list_id = connection.execute(
            select(AL.c.list_id)
            .where(AL.c.device_id == device_id)
            .order_by(AL.c.issued_at.desc(), AL.c.id.desc())
            .limit(1)
        ).scalar()
        if list_id is None:
            return None, {}, 0
        limits = {
            (row.card_id, row.programme, row.asset): int(row.maximum)
            for row in connection.execute(select(AL).where(AL.c.list_id == list_id))
        }
        return list_id, limits, sum(limits.values())

    def _spent(
        self, connection: Connection, device_id: str, list_id: str | None
    ) -> dict[tuple[str, str, str], int]:
        if list_id is None:
            return {}
        return {
            (row.card_id, row.programme, row.asset): int(row.total)
            for row in connection.execute(
                select(
                    RC.c.card_id, RC.c.programme, RC.c.asset, func.sum(RC.c.amount).label("total")
                )
                .where(
                    RC.c.device_id == device_id,
                    RC.c.list_id == list_id,
                    RC.c.outcome.in_([CHECKED, "posted", ReceiptOutcome.DOUBLE_SPEND.value]),
                )
                .group_by(RC.c.card_id, RC.c.programme, RC.c.asset)
            )
        }

    def _revoked_cards(self, connection: Connection, card_ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(card_ids), 500):
            for row in connection.execute(
                select(cards.c.id, cards.c.revoked_at).where(
                    cards.c.id.in_(card_ids[start : start + 500]), cards.c.revoked_at.is_not(None)
                )
            ):
                found[row.id] = epoch(as_utc(row.revoked_at))
        return found


def _receipt_of(row: Any) -> Receipt:
    return Receipt(
        row.id,
        row.device_id,
        row.card_id,
        row.programme,
        row.asset,
        int(row.amount),
        epoch(as_utc(row.recorded_at)),
    )
