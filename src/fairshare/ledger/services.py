"""Ledger use cases: funding, transfers and holds, redemption, balances, trial balance.

Every method checks the actor's purpose, does its work in one transaction and writes its
access-log entries in that same transaction. Every transfer carries a client idempotency key:
a retry with the same key and body returns the first result, the same key with another body
is refused (422), and a duplicate arriving while the first is still running gets 409.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Engine, case, func, insert, select

from fairshare import group_commit
from fairshare.assets import asset_definition
from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, utc_now
from fairshare.audit.orm import outbox_row
from fairshare.credentials.model import Authorisation
from fairshare.credentials.services import check_authorisation
from fairshare.db import UnitOfWork
from fairshare.eligibility import storage as eligibility_storage
from fairshare.eligibility.orm import programmes
from fairshare.errors import Conflict, InvalidInput, NotFound
from fairshare.group_commit import GroupCommit
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ids import new_id
from fairshare.ledger import autocommit_redemption, store
from fairshare.ledger.iso20022 import Party
from fairshare.ledger.model import (
    DEFAULT_ACCEPTS,
    Account,
    AccountKind,
    AssetBalance,
    IdempotencyKeyReused,
    InsufficientBalance,
    Merchant,
    MerchantCategory,
    PendingNotOpen,
    PendingState,
    Redemption,
    Transfer,
    TransferFlag,
    TransferKind,
    TransferRequest,
    TrialBalance,
    UnknownAccount,
    UnknownMerchant,
    UnknownTransfer,
    check_amount,
    check_key,
    clearing_code,
    funding_code,
    request_hash,
    settlement_code,
    treasury_code,
)
from fairshare.ledger.orm import (
    ledger_accounts,
    ledger_merchant_users,
    ledger_merchants,
    ledger_transfers,
)
from fairshare.registry.model import UnknownPerson, require_reason
from fairshare.registry.orm import people

P = Purpose
DISBURSE = frozenset({P.DISBURSEMENT})
REDEEM = frozenset({P.REDEMPTION})
# Who may see a beneficiary's balances: the person, their caseworker, and the person checking
# identity for a card-less redemption.
READ_ENTITLEMENTS = frozenset(
    {
        P.SELF_SERVICE,
        P.CASE_MANAGEMENT,
        P.HEALTH_ASSESSMENT,
        P.IDENTITY_VERIFICATION,
        P.DATA_SUBJECT_REQUEST,
    }
)
READ_LEDGER = frozenset({P.AUDIT, P.DISBURSEMENT})
MANAGE_MERCHANTS = frozenset({P.ADMINISTRATION})
MAX_LIST = 1000


def _till_merchant(row: Sequence[Any] | None, username: str) -> Merchant:
    """The merchant a till user acts for, from a row starting with the merchant's columns."""
    if row is None:
        raise PurposeNotAllowed(
            f"user {username!r} does not act for any registered merchant; an administrator "
            "links till users to their merchant"
        )
    return _merchant_from(row)


@dataclass(frozen=True)
class _RedemptionRequest:
    actor: Actor
    key: str
    beneficiary_id: str
    programme: str
    asset: str
    amount: int
    authorisation: Authorisation
    day: date

    @cached_property
    def body_hash(self) -> str:
        """What makes a retry the same request (see `request_hash`)."""
        return request_hash(
            {
                "op": "redeem",
                "beneficiary": self.beneficiary_id,
                "programme": self.programme,
                "asset": self.asset,
                "amount": self.amount,
                "authorisation": self.authorisation.as_reference(),
            }
        )


@dataclass(frozen=True)
class _RedemptionTerms:
    quotas: list[Account]  # open, in the asset, soonest to expire first
    subject_type: str  # "person" or "household"
    how: str  # the authorisation, as the transfer records it
    available: int


def _redemption_log(
    request: _RedemptionRequest, subject_type: str, owner: str
) -> list[AccessRequest]:
    """A redemption, or its replay, reads the entitlement balance of the beneficiary and,
    after a merge, of the survivor whose accounts it draws on."""
    return [
        access_request(
            request.actor,
            Tag.LEDGER_ENTITLEMENT_REDEEM,
            subject_type,
            subject,
            ("entitlement_balance",),
        )
        for subject in dict.fromkeys((owner, request.beneficiary_id))
    ]


def _merchant_from(row: Sequence[Any], usernames: tuple[str, ...] = ()) -> Merchant:
    """A merchant from a row whose first columns are the table's: id, code, name, category,
    accepts, region, iban, bic."""
    return Merchant(
        id=row[0],
        code=row[1],
        name=row[2],
        category=MerchantCategory(row[3]),
        accepts=tuple(json.loads(row[4])),
        region=row[5],
        iban=row[6],
        bic=row[7],
        usernames=usernames,
    )


def _clean_name(value: str, field: str, limit: int) -> str:
    text = " ".join((value or "").split())
    if not text or len(text) > limit:
        raise InvalidInput(
            f"{field} is required and at most {limit} characters",
            errors=[{"field": field, "reason": f"1 to {limit} characters"}],
        )
    return text


class Ledger:
    """Accounts, transfers, holds, redemptions and the trial balance."""

    def __init__(self, uow: UnitOfWork, *, hold_days: int = 30) -> None:
        self.uow = uow
        self.hold_days = hold_days

    # ---- system accounts ------------------------------------------------------------------

    def _system_account(
        self, kind: AccountKind, asset: str, now: datetime, programme: str | None = None
    ) -> Account:
        code = {
            AccountKind.TREASURY: lambda: treasury_code(asset),
            AccountKind.FUNDING: lambda: funding_code(programme or "", asset),
            AccountKind.PAYOUT_CLEARING: lambda: clearing_code(asset),
        }[kind]()
        return store.ensure_account(
            self.uow.connection, store.account_row(code, kind, asset, now, programme=programme)
        )

    # ---- merchants ------------------------------------------------------------------------

    def register_merchant(
        self,
        actor: Actor,
        *,
        code: str,
        name: str,
        category: str,
        region: str,
        iban: str,
        bic: str,
        accepts: Sequence[str] | None = None,
        usernames: Sequence[str] = (),
    ) -> Merchant:
        """Register a shop, pharmacy or fuel station and the user accounts that act for it.

        Raises InvalidInput (bank details, category, assets), Conflict (code taken).
        """
        authorize(self.uow, actor, MANAGE_MERCHANTS, "merchant", code, Tag.LEDGER_MERCHANT_CREATE)
        try:
            kind = MerchantCategory(category)
        except ValueError:
            known = ", ".join(c.value for c in MerchantCategory)
            raise InvalidInput(
                f"merchant category {category[:30]!r} is not known; use one of: {known}",
                errors=[{"field": "category", "reason": f"one of {known}"}],
            ) from None
        assets = tuple(accepts) if accepts else tuple(a.value for a in DEFAULT_ACCEPTS[kind])
        for asset in assets:
            asset_definition(asset)
        if not code or len(code) > 40 or not code.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(
                "the merchant code is 1 to 40 letters, digits, - or _",
                errors=[{"field": "code", "reason": "1-40 of A-Z a-z 0-9 - _"}],
            )
        display_name = _clean_name(name, "name", 70)
        party = Party(name=display_name, iban=iban, bic=bic)  # raises InvalidInput
        merchant = Merchant(
            id=new_id(),
            code=code,
            name=display_name,
            category=kind,
            accepts=assets,
            region=_clean_name(region, "region", 60),
            iban=party.iban,
            bic=party.bic,
            usernames=tuple(usernames),
        )
        with self.uow:
            connection = self.uow.connection
            taken = connection.execute(
                select(ledger_merchants.c.id).where(ledger_merchants.c.code == code)
            ).first()
            if taken is not None:
                raise Conflict(f"a merchant with code {code!r} already exists")
            connection.execute(
                insert(ledger_merchants).values(
                    id=merchant.id,
                    code=code,
                    name=merchant.name,
                    category=kind.value,
                    accepts=json.dumps(list(assets)),
                    region=merchant.region,
                    iban=merchant.iban,
                    bic=merchant.bic,
                    created_at=utc_now(),
                    created_by=actor.username,
                )
            )
            for username in usernames:
                connection.execute(
                    insert(ledger_merchant_users).values(username=username, merchant_id=merchant.id)
                )
            audit.record(
                self.uow,
                [access_request(actor, Tag.LEDGER_MERCHANT_CREATE, "merchant", merchant.id)],
            )
            self.uow.commit()
        return merchant

    def list_merchants(self) -> list[Merchant]:
        with self.uow:
            return self._merchants(self.uow.connection)

    def _merchants(self, connection: Connection, **where: str) -> list[Merchant]:
        statement = select(ledger_merchants).order_by(ledger_merchants.c.code)
        for column, value in where.items():
            statement = statement.where(ledger_merchants.c[column] == value)
        rows = connection.execute(statement).all()
        users: dict[str, list[str]] = {}
        for username, merchant_id in connection.execute(
            select(ledger_merchant_users.c.username, ledger_merchant_users.c.merchant_id)
        ):
            users.setdefault(merchant_id, []).append(username)
        return [_merchant_from(row, tuple(sorted(users.get(row.id, [])))) for row in rows]

    def merchant(self, code: str) -> Merchant:
        with self.uow:
            found = self._merchants(self.uow.connection, code=code)
        if not found:
            raise UnknownMerchant(code)
        return found[0]

    # ---- funding and general transfers ----------------------------------------------------

    def fund(
        self, actor: Actor, programme: str, amount: int, key: str, reason: str = ""
    ) -> Transfer:
        """Appropriate budget to a programme: treasury → programme funding, in its asset.

        Raises UnknownProgramme, InvalidInput, IdempotencyKeyReused, TransferInFlight.
        """
        authorize(self.uow, actor, DISBURSE, "programme", programme, Tag.LEDGER_TRANSFER_CREATE)
        check_amount(amount)
        check_key(key)
        why = require_reason(reason or "programme funding")
        with self.uow:
            connection = self.uow.connection
            terms = eligibility_storage.load_programme(self.uow, programme)
            version = eligibility_storage.latest_version(self.uow, programme)
            asset = version.asset if version is not None else terms.asset
            now = utc_now()
            treasury = self._system_account(AccountKind.TREASURY, asset, now)
            funding = self._system_account(AccountKind.FUNDING, asset, now, programme)
            body = {"op": "fund", "programme": programme, "amount": amount, "reason": why}
            with store.claim(connection, [key]):
                transfer = self.post_in(
                    connection,
                    key=key,
                    body=body,
                    debit=treasury,
                    credit=funding,
                    amount=amount,
                    kind=TransferKind.FUNDING,
                    actor=actor,
                    now=now,
                    programme=programme,
                    reference={"reason": why},
                )
            self._log(actor, Tag.LEDGER_TRANSFER_CREATE, "programme", programme, ("funding",))
            self.uow.commit()
        return transfer

    def transfer(self, actor: Actor, request: TransferRequest) -> Transfer:
        """Post one transfer between two existing accounts (corrections, holds).

        Raises UnknownAccount, InvalidInput (amount, key, assets differ), InsufficientBalance,
        LimitExceeded, IdempotencyKeyReused, TransferInFlight. Nothing moves when it raises.
        """
        return self.transfer_linked(actor, [request])[0]

    def transfer_linked(self, actor: Actor, requests: Sequence[TransferRequest]) -> list[Transfer]:
        """Post transfers that succeed or fail together (one transaction, one link id).

        A retry of the whole group with the same keys returns the first results.
        """
        authorize(self.uow, actor, DISBURSE, "ledger", "transfers", Tag.LEDGER_TRANSFER_CREATE)
        if not requests or len(requests) > 100:
            raise InvalidInput(
                "send 1 to 100 transfers in a linked group",
                errors=[{"field": "transfers", "reason": "1 to 100 transfers"}],
            )
        keys = [check_key(request.idempotency_key) for request in requests]
        if len(set(keys)) != len(keys):
            raise InvalidInput(
                "each transfer of a group needs its own idempotency key",
                errors=[{"field": "idempotency_key", "reason": "repeated within the group"}],
            )
        for request in requests:
            check_amount(request.amount)
            if request.timeout_seconds is not None and (
                not request.pending or not 0 < request.timeout_seconds <= 90 * 86400
            ):
                raise InvalidInput(
                    "a timeout applies to a pending transfer (a hold) and is 1 second to 90 days",
                    errors=[{"field": "timeout_seconds", "reason": "pending only, 1s-90d"}],
                )
        link_id = new_id() if len(requests) > 1 else None
        results: list[Transfer] = []
        with self.uow:
            connection = self.uow.connection
            now = utc_now()
            with store.claim(connection, keys):
                for index, request in enumerate(requests):
                    debit = self._account(connection, request.debit_account_id)
                    credit = self._account(connection, request.credit_account_id)
                    flags = TransferFlag.PENDING if request.pending else TransferFlag.NONE
                    if link_id is not None and index < len(requests) - 1:
                        flags |= TransferFlag.LINKED
                    timeout = request.timeout_seconds or (
                        self.hold_days * 86400 if request.pending else None
                    )
                    results.append(
                        self.post_in(
                            connection,
                            key=request.idempotency_key,
                            body=request.body(),
                            debit=debit,
                            credit=credit,
                            amount=request.amount,
                            kind=request.kind,
                            actor=actor,
                            now=now,
                            flags=flags,
                            timeout_at=now + timedelta(seconds=timeout) if timeout else None,
                            link_id=link_id,
                            reference={"reason": request.reason} if request.reason else None,
                        )
                    )
            if any(not result.replayed for result in results):
                self._log(actor, Tag.LEDGER_TRANSFER_CREATE, "ledger", results[0].id, ("amount",))
            self.uow.commit()
        return results

    def _account(self, connection: Connection, account_id: str) -> Account:
        account = store.get_account(connection, account_id) if account_id else None
        if account is None:
            raise UnknownAccount(account_id)
        return account

    def _replay(self, connection: Connection, key: str, body_hash: str) -> Transfer | None:
        row = store.transfer_by_key(connection, key)
        if row is None:
            return None
        if row.request_hash != body_hash:
            raise IdempotencyKeyReused(key)
        return store.transfer_from_row(row, replayed=True)

    def post_in(
        self,
        connection: Connection,
        *,
        key: str,
        body: dict[str, Any],
        debit: Account,
        credit: Account,
        amount: int,
        kind: TransferKind,
        actor: Actor,
        now: datetime,
        flags: TransferFlag = TransferFlag.NONE,
        timeout_at: datetime | None = None,
        link_id: str | None = None,
        programme: str | None = None,
        beneficiary_id: str | None = None,
        merchant_id: str | None = None,
        reference: dict[str, Any] | None = None,
    ) -> Transfer:
        """Post one transfer inside the caller's transaction (payouts use it too); a request
        whose key was seen returns the first result, or IdempotencyKeyReused."""
        body_hash = request_hash(body)
        replay = self._replay(connection, key, body_hash)
        if replay is not None:
            return replay
        if debit.asset != credit.asset:
            raise InvalidInput(
                f"the accounts hold different assets ({debit.asset} and {credit.asset}); a "
                "transfer moves one asset between two accounts of that asset",
                errors=[{"field": "credit_account_id", "reason": "asset differs from debit's"}],
            )
        if debit.id == credit.id:
            raise InvalidInput(
                "a transfer needs two different accounts",
                errors=[{"field": "credit_account_id", "reason": "same as the debit account"}],
            )
        store.move(connection, debit, credit, amount, pending=bool(flags & TransferFlag.PENDING))
        row = store.transfer_row(
            key=key,
            body_hash=body_hash,
            debit=debit,
            credit=credit,
            amount=amount,
            kind=kind,
            actor=actor.username,
            now=now,
            flags=flags,
            timeout_at=timeout_at,
            link_id=link_id,
            programme=programme if programme is not None else debit.programme,
            beneficiary_id=beneficiary_id,
            merchant_id=merchant_id,
            reference=reference,
        )
        store.insert_transfers(connection, [row])
        return store.transfer_from_row(_Row(row))

    # ---- holds ----------------------------------------------------------------------------

    def post_pending(
        self, actor: Actor, pending_id: str, key: str, amount: int | None = None
    ) -> Transfer:
        """Post a hold, in full or in part (the rest is released). Raises PendingNotOpen."""
        return self._resolve(actor, pending_id, key, amount, void=False)

    def void_pending(self, actor: Actor, pending_id: str, key: str) -> Transfer:
        """Release a hold without moving anything."""
        return self._resolve(actor, pending_id, key, None, void=True)

    def _resolve(
        self, actor: Actor, pending_id: str, key: str, amount: int | None, *, void: bool
    ) -> Transfer:
        authorize(self.uow, actor, DISBURSE, "ledger", pending_id, Tag.LEDGER_TRANSFER_CREATE)
        check_key(key)
        if amount is not None:
            check_amount(amount)
        with self.uow:
            connection = self.uow.connection
            with store.claim(connection, [key]):
                transfer = self.resolve_in(
                    connection, actor, pending_id, key, amount, void=void, now=utc_now()
                )
            if not transfer.replayed:
                self._log(actor, Tag.LEDGER_TRANSFER_CREATE, "ledger", transfer.id, ("amount",))
            self.uow.commit()
        return transfer

    def resolve_in(
        self,
        connection: Connection,
        actor: Actor,
        pending_id: str,
        key: str,
        amount: int | None,
        *,
        void: bool,
        now: datetime,
        reference: dict[str, Any] | None = None,
    ) -> Transfer:
        """Close a hold inside the caller's transaction (payouts use this too)."""
        body = {"op": "void" if void else "post", "pending": pending_id, "amount": amount}
        replay = self._replay(connection, key, request_hash(body))
        if replay is not None:
            return replay
        pending = store.get_transfer(connection, pending_id)
        if pending is None or not pending.flags & TransferFlag.PENDING:
            raise UnknownTransfer(pending_id)
        state = self.hold_state_in(connection, pending, now)
        if state is not PendingState.PENDING and not (void and state is PendingState.EXPIRED):
            raise PendingNotOpen(f"the hold {pending_id} is {state.value}; it can close only once")
        posted = 0 if void else (amount if amount is not None else pending.amount)
        if posted > pending.amount:
            raise InvalidInput(
                f"cannot post {posted}: the hold is for {pending.amount}",
                errors=[{"field": "amount", "reason": f"at most {pending.amount}"}],
            )
        store.resolve(
            connection, pending.debit_account_id, pending.credit_account_id, pending.amount, posted
        )
        debit = self._account(connection, pending.debit_account_id)
        credit = self._account(connection, pending.credit_account_id)
        row = store.transfer_row(
            key=key,
            body_hash=request_hash(body),
            debit=debit,
            credit=credit,
            amount=posted or pending.amount,
            kind=pending.kind,
            actor=actor.username,
            now=now,
            flags=TransferFlag.VOID_PENDING if void else TransferFlag.POST_PENDING,
            pending_id=pending.id,
            programme=pending.programme,
            beneficiary_id=pending.beneficiary_id,
            merchant_id=pending.merchant_id,
            reference=reference,
        )
        store.insert_transfers(connection, [row])
        return store.transfer_from_row(_Row(row))

    def hold_state_in(
        self, connection: Connection, pending: Transfer, now: datetime
    ) -> PendingState:
        resolution = store.resolution_of(connection, pending.id)
        if resolution is not None:
            if resolution.flags & TransferFlag.VOID_PENDING:
                return PendingState.VOIDED
            return PendingState.POSTED
        if pending.timeout_at is not None and pending.timeout_at <= now:
            return PendingState.EXPIRED
        return PendingState.PENDING

    def hold_state(self, pending_id: str) -> PendingState:
        with self.uow:
            pending = store.get_transfer(self.uow.connection, pending_id)
            if pending is None or not pending.flags & TransferFlag.PENDING:
                raise UnknownTransfer(pending_id)
            return self.hold_state_in(self.uow.connection, pending, utc_now())

    def expire_holds(self, actor: Actor, now: datetime | None = None) -> int:
        """Void every hold whose timeout has passed; returns how many. Safe to run again."""
        authorize(self.uow, actor, DISBURSE, "ledger", "holds", Tag.LEDGER_TRANSFER_CREATE)
        moment = now or utc_now()
        with self.uow:
            connection = self.uow.connection
            expired = store.open_holds(connection, before=moment)
            for hold in expired:
                self.resolve_in(
                    connection,
                    actor,
                    hold.id,
                    f"expire:{hold.id}",
                    None,
                    void=True,
                    now=moment,
                    reference={"reason": "hold timed out"},
                )
            if expired:
                self._log(actor, Tag.LEDGER_TRANSFER_CREATE, "ledger", "holds", ("expired",))
            self.uow.commit()
        return len(expired)

    # ---- redemption -----------------------------------------------------------------------

    def redeem(
        self,
        actor: Actor,
        *,
        key: str,
        beneficiary_id: str,
        programme: str,
        asset: str,
        amount: int,
        authorisation: Authorisation,
        today: date | None = None,
    ) -> Redemption:
        """A merchant hands out `amount` of `asset` against the beneficiary's entitlement.

        The draw comes from the beneficiary's open quotas of the programme, soonest to
        expire first; drawing from several is one linked group. A person merged into another
        by deduplication is authorised as themselves and draws on their survivor's quotas
        (where the merge moved their entitlements). Raises InsufficientBalance
        (with the available amount, which the merchant may see), InvalidInput (amount, key,
        asset not the programme's), NotFound (no entitlement), AuthorisationRefused,
        IdempotencyKeyReused, TransferInFlight.
        """
        authorize(
            self.uow, actor, REDEEM, "beneficiary", beneficiary_id, Tag.LEDGER_ENTITLEMENT_REDEEM
        )
        check_key(key)
        check_amount(amount)
        asset_definition(asset)
        request = _RedemptionRequest(
            actor=actor,
            key=key,
            beneficiary_id=beneficiary_id,
            programme=programme,
            asset=asset,
            amount=amount,
            authorisation=authorisation,
            day=today or date.today(),
        )
        if self._commits_in_groups():
            group: GroupCommit[_RedemptionRequest, Redemption | Exception]
            group = group_commit.group_for(self.uow.bind)
            outcome = group.submit(request, self._redeem_group)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        with self.uow:
            # Round trips are what a redemption costs on PostgreSQL: the common case is two
            # statements that commit by themselves (decision 0028); the rest take a
            # transaction.
            with self.uow.each_statement_commits() as alone:
                done = self._redeem_alone(request) if alone else None
            if done is not None:
                return done
            return self._redeem_in_transaction(request)

    def _commits_in_groups(self) -> bool:
        """SQLite commits one transaction at a time, each synced to disk, so concurrent
        redemptions of this process share one (decision 0029); PostgreSQL commits them side
        by side and groups its flushes itself."""
        bind = self.uow.bind
        return isinstance(bind, Engine) and bind.dialect.name == "sqlite"

    def _redeem_group(self, requests: Sequence[_RedemptionRequest]) -> list[Redemption | Exception]:
        """Redemptions of several threads in one transaction and one commit, each in a
        savepoint of its own: one that is refused keeps nothing, is that request's outcome,
        and the rest go on. Nothing is answered before the commit, so every redemption
        answered is durable; when the commit fails, every member gets its error."""
        outcomes: list[Redemption | Exception] = []
        with self.uow:
            if len(requests) == 1:  # alone: no savepoint to pay for
                try:
                    outcomes.append(self._redeem_in_transaction(requests[0]))
                except Exception as refusal:
                    outcomes.append(refusal)
                return outcomes
            connection = self.uow.connection
            for request in requests:
                member = Ledger(
                    UnitOfWork(connection, driver_savepoint=True), hold_days=self.hold_days
                )
                try:
                    with member.uow:
                        outcomes.append(member._redeem_in_transaction(request))
                except Exception as refusal:
                    outcomes.append(refusal)
            self.uow.commit()
        return outcomes

    def _redeem_alone(self, request: _RedemptionRequest) -> Redemption | None:
        """The redemption as one read and one atomic write, or None (nothing done) when it
        needs the transactional path: a key used before, a merchant's first settlement
        account in the asset, or a draw from several quotas."""
        connection = self.uow.connection
        with store.held_in_process([request.key]):
            facts = self._redemption_facts(connection, request)
            if facts.key_used or (facts.merchant is not None and facts.settlement is None):
                return None
            merchant = _till_merchant(facts.merchant, request.actor.username)
            terms = self._redemption_terms(connection, request, merchant, facts)
            draws = _draw(terms.quotas, request.amount)
            if len(draws) != 1 or facts.settlement is None:
                return None
            now = utc_now()
            [row] = self._redemption_rows(
                request, terms, draws, merchant, facts.settlement, now, facts.owner
            )
            log = [
                outbox_row(connection, entry, now)
                for entry in _redemption_log(request, terms.subject_type, facts.owner)
            ]
            autocommit_redemption.post(
                connection, draws[0][0], facts.settlement, request.amount, row, log
            )
        return Redemption(
            (store.transfer_from_row(_Row(row)),),
            request.asset,
            request.amount,
            terms.available - request.amount,
            replayed=False,
        )

    @staticmethod
    def _redemption_facts(
        connection: Connection, request: _RedemptionRequest
    ) -> autocommit_redemption.Facts:
        """Everything a redemption decides on, in one statement (both paths)."""
        return autocommit_redemption.read(
            connection,
            key=request.key,
            username=request.actor.username,
            asset=request.asset,
            beneficiary_id=request.beneficiary_id,
            programme=request.programme,
            authorisation=request.authorisation,
        )

    def _redeem_in_transaction(self, request: _RedemptionRequest) -> Redemption:
        connection = self.uow.connection
        key, asset, amount = request.key, request.asset, request.amount
        with store.claim_key(connection, key) as seen:
            first = store.transfer_by_key(connection, key) if seen else None
            if first is not None:
                if first.request_hash != request.body_hash:
                    raise IdempotencyKeyReused(key)
                redemption, subject_type = self._replayed_redemption(connection, first)
                log = _redemption_log(request, subject_type, first.beneficiary_id)
                audit.record_soon(self.uow, log)
                self.uow.commit()
                return redemption
            facts = self._redemption_facts(connection, request)
            merchant = _till_merchant(facts.merchant, request.actor.username)
            owner = facts.owner
            terms = self._redemption_terms(connection, request, merchant, facts)
            now = utc_now()
            settlement = facts.settlement or store.ensure_account(
                connection,
                store.account_row(
                    settlement_code(merchant.id, asset),
                    AccountKind.SETTLEMENT,
                    asset,
                    now,
                    owner_type="merchant",
                    owner_id=merchant.id,
                ),
            )
            draws = _draw(terms.quotas, amount)
            rows = self._redemption_rows(request, terms, draws, merchant, settlement, now, owner)
            if len(draws) == 1:
                store.post_one(connection, draws[0][0], settlement, amount, rows[0])
            else:
                for quota, part in draws:
                    store.move_posted(connection, quota, settlement, part)
                store.insert_transfers(connection, rows)
            audit.record_soon(self.uow, _redemption_log(request, terms.subject_type, owner))
        self.uow.commit()
        transfers = tuple(store.transfer_from_row(_Row(row)) for row in rows)
        return Redemption(transfers, asset, amount, terms.available - amount, replayed=False)

    def _redemption_terms(
        self,
        connection: Connection,
        request: _RedemptionRequest,
        merchant: Merchant,
        facts: autocommit_redemption.Facts,
    ) -> _RedemptionTerms:
        """The quotas to draw on, checked in the order a merchant is told what is wrong:
        asset accepted here, asset of the programme, an open entitlement, the authorisation,
        enough available. The authorisation is checked against the verification or card rows
        the facts hold (`credentials.services.check_authorisation`)."""
        asset, amount = request.asset, request.amount
        if asset not in merchant.accepts:
            raise InvalidInput(
                f"{merchant.name} does not hand out {asset_definition(asset).label}; "
                f"it accepts {', '.join(merchant.accepts)}",
                errors=[{"field": "asset", "reason": "not accepted by this merchant"}],
            )
        accounts = facts.entitlements
        quotas = [q for q in accounts if q.expires_on is None or q.expires_on >= request.day]
        if quotas and all(quota.asset != asset for quota in quotas):
            raise InvalidInput(
                f"programme {request.programme!r} pays {quotas[0].asset}, not {asset}; redeem "
                "it in its own asset",
                errors=[{"field": "asset", "reason": f"programme pays {quotas[0].asset}"}],
            )
        quotas = [quota for quota in quotas if quota.asset == asset]
        if not quotas:
            raise NotFound(
                f"beneficiary {request.beneficiary_id[:36]} has no open entitlement from "
                f"programme {request.programme!r}"
            )
        subject_type = quotas[0].owner_type or "person"
        how = check_authorisation(
            connection,
            request.authorisation,
            subject_type,
            request.beneficiary_id,
            verification=facts.verification,
            card=facts.card,
        )
        available = sum(max(quota.available, 0) for quota in quotas)
        if available < amount:
            raise InsufficientBalance(
                f"the entitlement holds {available} available; {amount} was asked for. "
                "Nothing moved.",
                asset=asset,
                available=available,
                requested=amount,
            )
        return _RedemptionTerms(quotas, subject_type, how, available)

    def _redemption_rows(
        self,
        request: _RedemptionRequest,
        terms: _RedemptionTerms,
        draws: list[tuple[Account, int]],
        merchant: Merchant,
        settlement: Account,
        now: datetime,
        owner: str,
    ) -> list[dict[str, Any]]:
        """The journal rows of the draws: one transfer each, a linked group when several."""
        reference: dict[str, Any] = {
            "authorisation": request.authorisation.method.value,
            "how": terms.how,
        }
        if owner != request.beneficiary_id:
            reference["merged_record"] = request.beneficiary_id
        link_id = new_id() if len(draws) > 1 else None
        rows = []
        for index, (quota, part) in enumerate(draws):
            linked = link_id is not None and index < len(draws) - 1
            rows.append(
                store.transfer_row(
                    key=request.key if index == 0 else f"{request.key}/{index + 1}",
                    body_hash=request.body_hash,
                    debit=quota,
                    credit=settlement,
                    amount=part,
                    kind=TransferKind.REDEMPTION,
                    actor=request.actor.username,
                    now=now,
                    flags=TransferFlag.LINKED if linked else TransferFlag.NONE,
                    link_id=link_id,
                    programme=request.programme,
                    period=quota.period,
                    beneficiary_id=owner,
                    merchant_id=merchant.id,
                    reference=reference,
                )
            )
        return rows

    def _replayed_redemption(self, connection: Connection, first: Any) -> tuple[Redemption, str]:
        """The first result of a key, with the type of the beneficiary it drew on."""
        group = [store.transfer_from_row(first, replayed=True)]
        if first.link_id is not None:
            rows = connection.execute(
                select(ledger_transfers)
                .where(ledger_transfers.c.link_id == first.link_id)
                .order_by(ledger_transfers.c.idempotency_key)
            )
            group = [store.transfer_from_row(row, replayed=True) for row in rows]
        total = sum(transfer.amount for transfer in group)
        accounts = [store.get_account(connection, t.debit_account_id) for t in group]
        available = sum(max(a.available, 0) for a in accounts if a is not None)
        subject_type = next((a.owner_type for a in accounts if a and a.owner_type), "person")
        redemption = Redemption(tuple(group), first.asset, total, available, replayed=True)
        return redemption, subject_type

    # ---- balances -------------------------------------------------------------------------

    def entitlements(
        self,
        actor: Actor,
        subject_ids: Sequence[str],
        *,
        today: date | None = None,
    ) -> list[Account]:
        """The beneficiary accounts of these people or households, open quotas first; logged
        as a read of each. A citizen sees only their own and their household's; accounts of
        health programmes only under a health purpose (decision 0011)."""
        day = today or date.today()
        for subject in subject_ids:
            concerned = None
            if actor.role is Role.CITIZEN:
                with self.uow:
                    concerned = frozenset(
                        self.uow.connection.execute(
                            select(people.c.id).where(
                                (people.c.id == subject) | (people.c.household_id == subject)
                            )
                        ).scalars()
                    )
            authorize(
                self.uow,
                actor,
                READ_ENTITLEMENTS,
                "beneficiary",
                subject,
                Tag.LEDGER_ENTITLEMENT_READ,
                own_person_ids=concerned,
            )
        with self.uow:
            accounts = store.accounts_of(
                self.uow.connection, subject_ids, kind=AccountKind.ENTITLEMENT
            )
            if not actor.sees_health:
                # An entitlement from a health programme reveals the illness (decision 0011).
                health = set(
                    self.uow.connection.execute(
                        select(programmes.c.code).where(programmes.c.needs_health.is_(True))
                    ).scalars()
                )
                accounts = [a for a in accounts if a.programme not in health]
            self._log_many(
                actor, Tag.LEDGER_ENTITLEMENT_READ, subject_ids, ("entitlement_balance",)
            )
            self.uow.commit()
        open_first = sorted(
            accounts,
            key=lambda a: (a.expires_on is not None and a.expires_on < day, a.programme or ""),
        )
        return open_first

    def person_entitlements(
        self, actor: Actor, person_id: str, *, today: date | None = None
    ) -> list[Account]:
        """A person's entitlements and their household's (see `entitlements`).

        Raises UnknownPerson; the household is looked up without reading the person's record.
        """
        with self.uow:
            household = self.uow.connection.execute(
                select(people.c.household_id).where(people.c.id == person_id)
            ).scalar()
        if household is None:
            raise UnknownPerson(person_id)
        return self.entitlements(actor, [person_id, household], today=today)

    def account(self, actor: Actor, account_id: str) -> Account:
        """One account's totals, for auditors and disbursement officers."""
        authorize(self.uow, actor, READ_LEDGER, "ledger", account_id, Tag.LEDGER_TRANSFER_READ)
        with self.uow:
            account = self._account(self.uow.connection, account_id)
            self._log(actor, Tag.LEDGER_TRANSFER_READ, "ledger", account_id, ("balance",))
            self.uow.commit()
        return account

    def accounts(
        self, actor: Actor, *, kind: str | None = None, programme: str | None = None
    ) -> list[Account]:
        """System and merchant accounts (beneficiary accounts are listed per person)."""
        authorize(self.uow, actor, READ_LEDGER, "ledger", "accounts", Tag.LEDGER_TRANSFER_READ)
        statement = select(ledger_accounts).order_by(ledger_accounts.c.code).limit(MAX_LIST)
        if kind:
            statement = statement.where(ledger_accounts.c.kind == AccountKind(kind).value)
        else:
            statement = statement.where(ledger_accounts.c.kind != AccountKind.ENTITLEMENT.value)
        if programme:
            statement = statement.where(ledger_accounts.c.programme == programme)
        with self.uow:
            rows = self.uow.connection.execute(statement).all()
            self._log(actor, Tag.LEDGER_TRANSFER_READ, "ledger", "accounts", ("balance",))
            self.uow.commit()
        return [store.account_from_row(row) for row in rows]

    def transfers(
        self,
        actor: Actor,
        *,
        account_id: str | None = None,
        kind: str | None = None,
        programme: str | None = None,
        limit: int = 100,
    ) -> list[Transfer]:
        authorize(self.uow, actor, READ_LEDGER, "ledger", "transfers", Tag.LEDGER_TRANSFER_READ)
        statement = select(ledger_transfers).order_by(ledger_transfers.c.created_at.desc())
        if account_id:
            statement = statement.where(
                (ledger_transfers.c.debit_account_id == account_id)
                | (ledger_transfers.c.credit_account_id == account_id)
            )
        if kind:
            statement = statement.where(ledger_transfers.c.kind == TransferKind(kind).value)
        if programme:
            statement = statement.where(ledger_transfers.c.programme == programme)
        with self.uow:
            rows = self.uow.connection.execute(statement.limit(max(1, min(limit, MAX_LIST)))).all()
            self._log(actor, Tag.LEDGER_TRANSFER_READ, "ledger", "transfers", ("transfers",))
            self.uow.commit()
        return [store.transfer_from_row(row) for row in rows]

    def trial_balance(self, actor: Actor) -> TrialBalance:
        """Per asset: total debits equal total credits, and no account breaks its flags."""
        authorize(self.uow, actor, READ_LEDGER, "ledger", "trial_balance", Tag.LEDGER_BALANCE_READ)
        with self.uow:
            result = trial_balance(self.uow.connection)
            self._log(actor, Tag.LEDGER_BALANCE_READ, "ledger", "trial_balance", ("balance",))
            self.uow.commit()
        return result

    # ---- logging --------------------------------------------------------------------------

    def _log(
        self,
        actor: Actor,
        tag: Tag,
        subject_type: str,
        subject_id: str,
        fields: tuple[str, ...] = (),
    ) -> None:
        audit.record(self.uow, [access_request(actor, tag, subject_type, subject_id, fields)])

    def _log_many(
        self, actor: Actor, tag: Tag, subject_ids: Sequence[str], fields: tuple[str, ...]
    ) -> None:
        audit.record(
            self.uow,
            [access_request(actor, tag, "beneficiary", subject, fields) for subject in subject_ids],
        )


class _Row:
    """A transfer row dict read like a result row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _draw(quotas: list[Account], amount: int) -> list[tuple[Account, int]]:
    """Split `amount` over quotas in order (soonest to expire first)."""
    draws: list[tuple[Account, int]] = []
    left = amount
    for quota in quotas:
        if left == 0:
            break
        part = min(left, max(quota.available, 0))
        if part > 0:
            draws.append((quota, part))
            left -= part
    return draws


def trial_balance(connection: Connection) -> TrialBalance:
    """Sums straight from the account rows, with a recount of the accounts breaking their
    flags, per asset: one pass over the accounts, in the database (a registry after a year of
    cycles holds millions of them, and an auditor asks at any time)."""
    a = ledger_accounts.c
    rows = connection.execute(
        select(
            a.asset,
            a.kind,
            func.count(),
            func.coalesce(func.sum(a.debits_posted), 0),
            func.coalesce(func.sum(a.credits_posted), 0),
            func.coalesce(func.sum(a.debits_pending), 0),
            func.coalesce(func.sum(a.credits_pending), 0),
            func.coalesce(func.sum(case((store.BREAKS_FLAGS, 1), else_=0)), 0),
        ).group_by(a.asset, a.kind)
    ).all()
    per_asset: dict[str, dict[str, Any]] = {}
    for asset, kind, count, debits, credits, debits_pending, credits_pending, broken in rows:
        line = per_asset.setdefault(
            asset, {"d": 0, "c": 0, "dp": 0, "cp": 0, "by_kind": {}, "accounts": 0, "broken": 0}
        )
        line["broken"] += int(broken)
        line["d"] += int(debits)
        line["c"] += int(credits)
        line["dp"] += int(debits_pending)
        line["cp"] += int(credits_pending)
        line["accounts"] += int(count)
        line["by_kind"][kind] = int(credits) - int(debits)
    transfers = connection.execute(select(func.count()).select_from(ledger_transfers)).scalar()
    return TrialBalance(
        tuple(
            AssetBalance(
                asset=asset,
                debits_posted=line["d"],
                credits_posted=line["c"],
                debits_pending=line["dp"],
                credits_pending=line["cp"],
                by_kind=line["by_kind"],
                accounts=line["accounts"],
                violations=line["broken"],
            )
            for asset, line in sorted(per_asset.items())
        ),
        int(transfers or 0),
    )
