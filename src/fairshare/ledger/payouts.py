"""Merchant payouts through the bank: an ISO 20022 pain.001 file out, pain.002 reports in.

Exporting puts each merchant's settlement balance on hold (a pending transfer to payout
clearing) and writes one credit transfer per merchant; the hold's id is the payment's
end-to-end id. The bank's status report posts the hold (paid), voids it (rejected before
payment) or, for a payment returned after it was reported paid, moves the amount back to the
merchant's settlement account with a new transfer. Importing the same report twice changes
nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select

from fairshare.assets import Asset, asset_definition
from fairshare.audit import services as audit
from fairshare.audit.model import Tag, utc_now
from fairshare.db import UnitOfWork
from fairshare.errors import Conflict, NotFound
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose
from fairshare.ids import new_id
from fairshare.ledger import store
from fairshare.ledger.iso20022 import Outcome, Party, Payment, build_pain001, parse_pain002
from fairshare.ledger.model import AccountKind, PendingState, TransferFlag, TransferKind
from fairshare.ledger.orm import (
    ledger_accounts,
    ledger_merchants,
    ledger_payout_batches,
    ledger_payout_items,
    ledger_payout_statuses,
)
from fairshare.ledger.services import Ledger
from fairshare.settings import Settings

DISBURSE = frozenset({Purpose.DISBURSEMENT})
PAYOUT_ASSET = Asset.LOCAL_CURRENCY.value  # in-kind deliveries are reconciled in units


class NothingToPay(Conflict):
    title = "Nothing to pay"


@dataclass(frozen=True)
class PayoutBatch:
    id: str
    message_id: str
    asset: str
    payments: int
    total: int
    document: bytes

    @property
    def filename(self) -> str:
        return f"pain001-{self.message_id}.xml"


@dataclass(frozen=True)
class StatusImport:
    message_id: str
    original_message_id: str
    paid: int
    returned: int
    rejected: int
    pending: int
    unknown: int
    already: int  # lines imported before: nothing changed for them


class Payouts:
    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings

    def export(self, actor: Actor, execution_date: date) -> PayoutBatch:
        """Hold every merchant's local-currency settlement balance and write the pain.001.

        Raises NothingToPay when no merchant has anything to be paid, InvalidInput for bad
        bank details (the payer's come from settings).
        """
        authorize(self.uow, actor, DISBURSE, "ledger", "payouts", Tag.LEDGER_PAYOUT_EXPORT)
        payer = Party(
            name=self.settings.payer_name,
            iban=self.settings.payer_iban,
            bic=self.settings.payer_bic,
        )
        scale = asset_definition(PAYOUT_ASSET).scale
        ledger = Ledger(self.uow, hold_days=self.settings.payout_hold_days)
        a, m = ledger_accounts.c, ledger_merchants.c
        with self.uow:
            connection = self.uow.connection
            rows = connection.execute(
                select(ledger_accounts, m.name, m.iban, m.bic, m.id.label("merchant"))
                .join(ledger_merchants, m.id == a.owner_id)
                .where(a.kind == AccountKind.SETTLEMENT.value)
                .where(a.asset == PAYOUT_ASSET)
                .where(a.credits_posted - a.debits_posted - a.debits_pending > 0)
                .order_by(m.code)
            ).all()
            if not rows:
                raise NothingToPay(
                    "no merchant has redeemed local currency that is not yet paid out or on "
                    "its way; nothing to export"
                )
            now = utc_now()
            message_id = new_id().replace("-", "")
            clearing = store.ensure_account(
                connection,
                store.account_row(
                    f"payout_clearing:{PAYOUT_ASSET}",
                    AccountKind.PAYOUT_CLEARING,
                    PAYOUT_ASSET,
                    now,
                ),
            )
            payments: list[Payment] = []
            items: list[dict[str, Any]] = []
            timeout = now + timedelta(days=self.settings.payout_hold_days)
            for row in rows:
                settlement = store.account_from_row(row)
                amount = settlement.available
                hold = ledger.post_in(
                    connection,
                    key=f"payout:{message_id}:{row.merchant}",
                    body={"op": "payout", "message": message_id, "merchant": row.merchant},
                    debit=settlement,
                    credit=clearing,
                    amount=amount,
                    kind=TransferKind.PAYOUT,
                    actor=actor,
                    now=now,
                    flags=TransferFlag.PENDING,
                    timeout_at=timeout,
                    merchant_id=row.merchant,
                    reference={"message_id": message_id},
                )
                end_to_end = hold.id.replace("-", "")
                payments.append(
                    Payment(
                        end_to_end_id=end_to_end,
                        creditor=Party(name=row.name, iban=row.iban, bic=row.bic),
                        amount_minor=amount,
                        remittance=f"Fairshare redemptions to {now.date().isoformat()}",
                    )
                )
                items.append(
                    {
                        "end_to_end_id": end_to_end,
                        "merchant_id": row.merchant,
                        "transfer_id": hold.id,
                        "amount": amount,
                    }
                )
            document = build_pain001(
                message_id=message_id,
                created_at=now,
                debtor=payer,
                payments=payments,
                currency=self.settings.currency,
                scale=scale,
                execution_date=execution_date,
            )
            batch_id = new_id()
            total = sum(item["amount"] for item in items)
            connection.execute(
                insert(ledger_payout_batches).values(
                    id=batch_id,
                    message_id=message_id,
                    asset=PAYOUT_ASSET,
                    payments=len(items),
                    total=total,
                    document=document.decode("utf-8"),
                    created_at=now,
                    created_by=actor.username,
                )
            )
            connection.execute(
                insert(ledger_payout_items), [{**item, "batch_id": batch_id} for item in items]
            )
            audit.record(
                self.uow,
                [access_request(actor, Tag.LEDGER_PAYOUT_EXPORT, "ledger", batch_id, ("payouts",))],
            )
            self.uow.commit()
        return PayoutBatch(batch_id, message_id, PAYOUT_ASSET, len(items), total, document)

    def import_status(self, actor: Actor, data: bytes) -> StatusImport:
        """Apply the bank's pain.002 to the holds of the file it answers.

        Raises InvalidInput (malformed or hostile XML, unknown status codes), NotFound (the
        report answers a file we did not send). All lines apply, or none.
        """
        authorize(self.uow, actor, DISBURSE, "ledger", "payouts", Tag.LEDGER_PAYOUT_IMPORT)
        report = parse_pain002(data)
        ledger = Ledger(self.uow, hold_days=self.settings.payout_hold_days)
        counts = {"paid": 0, "returned": 0, "rejected": 0, "pending": 0, "unknown": 0, "already": 0}
        with self.uow:
            connection = self.uow.connection
            batch = connection.execute(
                select(ledger_payout_batches).where(
                    ledger_payout_batches.c.message_id == report.original_message_id
                )
            ).first()
            if batch is None:
                raise NotFound(
                    f"no payout file with message id {report.original_message_id[:35]!r} was "
                    "exported here; check that the report answers one of our files"
                )
            items = {
                row.end_to_end_id: row
                for row in connection.execute(
                    select(ledger_payout_items).where(ledger_payout_items.c.batch_id == batch.id)
                )
            }
            lines: list[tuple[str, Outcome, str, str | None]] = [
                (s.end_to_end_id, s.outcome, s.status_code, s.reason_code) for s in report.statuses
            ]
            if report.group_status == "RJCT" and not lines:
                lines = [(e2e, Outcome.REJECTED, "RJCT", None) for e2e in items]
            now = utc_now()
            for end_to_end, outcome, code, reason in lines:
                item = items.get(end_to_end)
                if item is None:
                    counts["unknown"] += 1
                    continue
                seen = connection.execute(
                    select(ledger_payout_statuses.c.id)
                    .where(ledger_payout_statuses.c.end_to_end_id == end_to_end)
                    .where(ledger_payout_statuses.c.message_id == report.message_id)
                ).first()
                if seen is not None:
                    counts["already"] += 1
                    continue
                moved = self._apply(connection, ledger, actor, item, outcome, now)
                counts[moved] += 1
                connection.execute(
                    insert(ledger_payout_statuses).values(
                        id=new_id(),
                        end_to_end_id=end_to_end,
                        message_id=report.message_id,
                        outcome=outcome.value,
                        status_code=code,
                        reason_code=reason,
                        transfer_id=item.transfer_id,
                        imported_at=now,
                        imported_by=actor.username,
                    )
                )
            audit.record(
                self.uow,
                [access_request(actor, Tag.LEDGER_PAYOUT_IMPORT, "ledger", batch.id, ("payouts",))],
            )
            self.uow.commit()
        return StatusImport(report.message_id, report.original_message_id, **counts)

    def _apply(
        self,
        connection: Any,
        ledger: Ledger,
        actor: Actor,
        item: Any,
        outcome: Outcome,
        now: Any,
    ) -> str:
        """Move what one status line says; returns the count it adds to."""
        if outcome is Outcome.PENDING:
            return "pending"
        hold = store.get_transfer(connection, item.transfer_id)
        assert hold is not None
        state = ledger.hold_state_in(connection, hold, now)
        e2e = item.end_to_end_id
        if outcome is Outcome.PAID:
            if state in (PendingState.PENDING, PendingState.EXPIRED):
                ledger.resolve_in(
                    connection, actor, hold.id, f"paid:{e2e}", None, void=False, now=now
                )
                return "paid"
            if state is PendingState.POSTED:
                return "already"
            raise Conflict(
                f"the bank reports payment {e2e} paid, but its hold was released; the amount "
                "is back in the merchant's settlement account. Correct it with a transfer "
                "after checking with the bank"
            )
        # Rejected: before payment the hold is released; after it, the money comes back.
        if state in (PendingState.PENDING, PendingState.EXPIRED):
            ledger.resolve_in(
                connection, actor, hold.id, f"rejected:{e2e}", None, void=True, now=now
            )
            return "rejected"
        if state is PendingState.VOIDED:
            return "already"
        clearing = store.get_account(connection, hold.credit_account_id)
        settlement = store.get_account(connection, hold.debit_account_id)
        assert clearing is not None and settlement is not None
        ledger.post_in(
            connection,
            key=f"returned:{e2e}",
            body={"op": "payout_return", "payment": e2e},
            debit=clearing,
            credit=settlement,
            amount=item.amount,
            kind=TransferKind.PAYOUT_RETURN,
            actor=actor,
            now=now,
            merchant_id=item.merchant_id,
            reference={"payment": e2e},
        )
        return "returned"

    def batches(self) -> list[dict[str, Any]]:
        with self.uow:
            rows = self.uow.connection.execute(
                select(
                    ledger_payout_batches.c.id,
                    ledger_payout_batches.c.message_id,
                    ledger_payout_batches.c.payments,
                    ledger_payout_batches.c.total,
                    ledger_payout_batches.c.created_at,
                ).order_by(ledger_payout_batches.c.created_at.desc())
            ).all()
        return [row._asdict() for row in rows]
