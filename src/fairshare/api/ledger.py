"""The ledger over HTTP: funding, transfers and holds, cycles, merchants, in-person
verification, redemption and balances.

Amounts are integers of the asset's minor unit (cents, millilitres, units); a JSON float is
refused (422) because it may already have lost the exact amount. Every request that moves
value carries an `Idempotency-Key` header, which becomes the ledger's key: a retry with the
same key and body answers the first result with the same status and `Idempotent-Replayed:
true`; the same key with another body is refused (422); a duplicate still running gets 409.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from pydantic import BaseModel, Field, StrictInt, model_validator
from starlette.concurrency import run_in_threadpool

from fairshare.api.deps import CurrentActor, IdempotencyKey, ServicesDep
from fairshare.api.schemas import LEDGER_MONTH_PATTERN, REASON_PATTERN, Strict
from fairshare.assets import Asset, format_amount, to_minor_units
from fairshare.audit.model import Tag
from fairshare.bootstrap import Services
from fairshare.credentials.model import VerificationMethod, parse_authorisation
from fairshare.credentials.services import verify_in_person
from fairshare.errors import InvalidInput
from fairshare.identity.guard import authorize
from fairshare.identity.model import Actor, Purpose
from fairshare.ledger.model import (
    MAX_AMOUNT,
    Account,
    AssetBalance,
    CycleResult,
    ExpiryResult,
    Merchant,
    MerchantCategory,
    Redemption,
    Transfer,
    TransferFlag,
    TransferKind,
    TransferRequest,
)
from fairshare.ledger.reports import Reconciliation

router = APIRouter(prefix="/api/v1", tags=["ledger"])

REPLAYED_HEADER = "Idempotent-Replayed"
# Who may list merchants and cycles: those who pay, audit or register them. The services
# take no actor for these reads, so the routes check the purpose (and log a refusal).
READ_MERCHANTS = frozenset({Purpose.ADMINISTRATION, Purpose.DISBURSEMENT, Purpose.AUDIT})
READ_CYCLES = frozenset({Purpose.DISBURSEMENT, Purpose.AUDIT})
MAX_HOLD_SECONDS = 90 * 86400
MAX_JSON_AMOUNT = min(MAX_AMOUNT, 2**53 - 1)

MinorUnits = Annotated[
    StrictInt,
    # Within I-JSON's exact integers (RFC 7493): larger ones reach many clients rounded.
    Field(gt=0, le=MAX_JSON_AMOUNT, description="Minor units of the asset (cents, millilitres, …)"),
]
Id = Annotated[str, Field(min_length=1, max_length=36)]
Code = Annotated[str, Field(min_length=2, max_length=40)]
KindName = Literal["treasury", "funding", "entitlement", "settlement", "payout_clearing"]


# ---- schemas --------------------------------------------------------------------------------


class TransferCreate(Strict):
    debit_account_id: Id
    credit_account_id: Id
    amount: MinorUnits
    kind: TransferKind = TransferKind.CORRECTION
    pending: bool = Field(False, description="A hold: reserve now, post or void later")
    timeout_seconds: StrictInt | None = Field(
        None, gt=0, le=MAX_HOLD_SECONDS, description="When an unclosed hold lapses"
    )
    reason: str = Field("", max_length=500)


class TransfersCreate(Strict):
    """One transfer, or a linked group that succeeds or fails together. The first transfer
    takes the Idempotency-Key; the n-th of a group takes `KEY/n`."""

    transfers: list[TransferCreate] = Field(min_length=1, max_length=100)


class HoldPost(Strict):
    amount: MinorUnits | None = Field(None, description="Post part of the hold; default all")


class FundingCreate(Strict):
    amount: MinorUnits
    reason: str = Field("programme funding", max_length=500)


class CycleCreate(Strict):
    period: str = Field(max_length=10, description="2026-11 (monthly), 2026-Q4, or 2026")


class MerchantCreate(Strict):
    code: str = Field(max_length=40)
    name: str = Field(max_length=70)
    category: str = Field(
        max_length=20,
        description="shop, pharmacy or fuel_station",
        json_schema_extra={"enum": [c.value for c in MerchantCategory]},
    )
    region: str = Field(max_length=60)
    iban: str = Field(max_length=42)
    bic: str = Field(max_length=11)
    accepts: list[str] = Field(default_factory=list, max_length=10)
    usernames: list[str] = Field(
        default_factory=list, max_length=50, description="Till users who act for it"
    )


class VerificationCreate(Strict):
    method: str = Field(
        max_length=40,
        json_schema_extra={"enum": [m.value for m in VerificationMethod]},
        description="national_id_document, other_document, known_to_caseworker or "
        "community_witness",
    )
    reason: str = Field(max_length=500, pattern=REASON_PATTERN)


class AuthorisationBody(Strict):
    method: str = Field(max_length=20, description="card, or caseworker (in-person check)")
    reference: str = Field(
        max_length=4000, description="The card code, or the in-person verification's id"
    )


class RedemptionCreate(Strict):
    """Give the amount in minor units (`amount`) or as text in the asset's entry unit
    (`amount_text`, e.g. "130.00"), not both."""

    beneficiary_id: Id = Field(description="The person or household whose entitlement it is")
    programme: Code
    asset: str = Field(max_length=30)
    amount: MinorUnits | None = None
    amount_text: str | None = Field(None, max_length=30, description='e.g. "130.00"')
    authorisation: AuthorisationBody

    @model_validator(mode="after")
    def _one_amount(self) -> RedemptionCreate:
        if (self.amount is None) == (self.amount_text is None):
            raise ValueError("give exactly one of amount (minor units) and amount_text")
        return self


class TransferPublic(BaseModel):
    id: str
    idempotency_key: str
    debit_account_id: str
    credit_account_id: str
    asset: str
    amount: int
    amount_text: str
    kind: str
    flags: list[str] = Field(description="pending, post_pending, void_pending, linked")
    pending_id: str | None
    timeout_at: datetime | None
    link_id: str | None
    programme: str | None
    period: str | None
    beneficiary_id: str | None
    merchant_id: str | None
    reference: dict[str, Any]
    created_at: datetime
    created_by: str


class AccountPublic(BaseModel):
    id: str
    code: str
    kind: str
    asset: str
    programme: str | None
    owner_type: str | None
    owner_id: str | None
    period: str | None
    expires_on: date | None
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    balance: int = Field(description="Credits less debits, posted")
    available: int = Field(description="The balance less the holds on it")
    balance_text: str


class AssetBalancePublic(BaseModel):
    asset: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    by_kind: dict[str, int] = Field(description="Account kind → net balance (credits - debits)")
    accounts: int
    violations: int = Field(description="Accounts breaking their flags (should be 0)")
    balanced: bool


class TrialBalancePublic(BaseModel):
    assets: list[AssetBalancePublic]
    transfers: int
    balanced: bool


class HoldsExpired(BaseModel):
    expired: int


class CyclePublic(BaseModel):
    programme: str
    period: str
    asset: str
    amount: int
    amount_text: str
    enrolled: int
    posted: int = Field(description="Entitlements posted by this run")
    already_paid: int = Field(description="Paid by an earlier run of the same period")
    total: int
    total_text: str


class CycleRecordPublic(BaseModel):
    id: str
    programme: str
    period: str
    rule_version: int
    asset: str
    amount: int
    status: str
    enrolled: int
    posted: int
    total: int
    total_text: str
    started_at: datetime
    finished_at: datetime | None
    run_by: str


class ExpiryPublic(BaseModel):
    programme: str
    period: str
    accounts: int
    total: int
    total_text: str | None
    asset: str | None


class MerchantPublic(BaseModel):
    id: str
    code: str
    name: str
    category: str
    accepts: list[str]
    region: str
    iban: str
    bic: str
    usernames: list[str]


class VerificationPublic(BaseModel):
    id: str = Field(description="The authorisation reference for a card-less redemption")
    person_id: str
    household_id: str
    method: str
    verified_by: str
    verified_at: datetime
    expires_at: datetime


class RedemptionPublic(BaseModel):
    transfers: list[TransferPublic]
    asset: str
    amount: int
    amount_text: str
    available_after: int
    available_text: str


class EntitlementPublic(BaseModel):
    account_id: str
    subject_type: str | None = Field(description="person or household")
    subject_id: str | None
    programme: str | None
    asset: str
    period: str | None
    expires_on: date | None
    open: bool = Field(description="False once its period has ended")
    balance: int
    available: int
    balance_text: str
    available_text: str


class PayoutCreate(Strict):
    execution_date: date | None = Field(None, description="When the bank pays; default today")


class StatusImportPublic(BaseModel):
    message_id: str
    original_message_id: str
    paid: int
    returned: int
    rejected: int
    pending: int
    unknown: int
    already: int = Field(description="Lines imported before: nothing changed for them")


class KindLinePublic(BaseModel):
    kind: str
    opening: int
    inflow: int
    outflow: int
    closing: int
    journal_now: int = Field(description="All-time balance from the journal of transfers")
    totals_now: int = Field(description="All-time balance from the account totals")
    matches: bool


class AssetReconciliationPublic(BaseModel):
    asset: str
    kinds: list[KindLinePublic]
    flows: dict[str, int] = Field(description="Transfer kind → amount posted in the period")
    on_hold: int
    balanced: bool


class ReconciliationPublic(BaseModel):
    period: str | None
    start: datetime | None
    end: datetime | None
    assets: list[AssetReconciliationPublic]
    balanced: bool


# ---- rendering ------------------------------------------------------------------------------


def _flags(flags: TransferFlag) -> list[str]:
    return [flag.name.lower() for flag in TransferFlag if flag and flag in flags and flag.name]


def _transfer(transfer: Transfer) -> TransferPublic:
    return TransferPublic(
        id=transfer.id,
        idempotency_key=transfer.idempotency_key,
        debit_account_id=transfer.debit_account_id,
        credit_account_id=transfer.credit_account_id,
        asset=transfer.asset,
        amount=transfer.amount,
        amount_text=transfer.amount_text,
        kind=transfer.kind.value,
        flags=_flags(transfer.flags),
        pending_id=transfer.pending_id,
        timeout_at=transfer.timeout_at,
        link_id=transfer.link_id,
        programme=transfer.programme,
        period=transfer.period,
        beneficiary_id=transfer.beneficiary_id,
        merchant_id=transfer.merchant_id,
        reference=transfer.reference,
        created_at=transfer.created_at,
        created_by=transfer.created_by,
    )


def _account(account: Account) -> AccountPublic:
    return AccountPublic(
        id=account.id,
        code=account.code,
        kind=account.kind.value,
        asset=account.asset,
        programme=account.programme,
        owner_type=account.owner_type,
        owner_id=account.owner_id,
        period=account.period,
        expires_on=account.expires_on,
        debits_pending=account.debits_pending,
        debits_posted=account.debits_posted,
        credits_pending=account.credits_pending,
        credits_posted=account.credits_posted,
        balance=account.balance,
        available=account.available,
        balance_text=account.text(),
    )


def _asset_balance(line: AssetBalance) -> AssetBalancePublic:
    return AssetBalancePublic(
        asset=line.asset,
        debits_posted=line.debits_posted,
        credits_posted=line.credits_posted,
        debits_pending=line.debits_pending,
        credits_pending=line.credits_pending,
        by_kind=dict(line.by_kind),
        accounts=line.accounts,
        violations=line.violations,
        balanced=line.balanced,
    )


def _cycle(result: CycleResult) -> CyclePublic:
    return CyclePublic(
        programme=result.programme,
        period=result.period,
        asset=result.asset,
        amount=result.amount,
        amount_text=format_amount(result.asset, result.amount),
        enrolled=result.enrolled,
        posted=result.posted,
        already_paid=result.already_paid,
        total=result.total,
        total_text=result.total_text,
    )


def _expiry(result: ExpiryResult) -> ExpiryPublic:
    return ExpiryPublic(
        programme=result.programme,
        period=result.period,
        accounts=result.accounts,
        total=result.total,
        total_text=format_amount(result.asset, result.total) if result.asset else None,
        asset=result.asset or None,
    )


def _merchant(merchant: Merchant) -> MerchantPublic:
    return MerchantPublic(
        id=merchant.id,
        code=merchant.code,
        name=merchant.name,
        category=merchant.category.value,
        accepts=list(merchant.accepts),
        region=merchant.region,
        iban=merchant.iban,
        bic=merchant.bic,
        usernames=list(merchant.usernames),
    )


def _redemption(redemption: Redemption) -> RedemptionPublic:
    return RedemptionPublic(
        transfers=[_transfer(t) for t in redemption.transfers],
        asset=redemption.asset,
        amount=redemption.amount,
        amount_text=redemption.amount_text,
        available_after=redemption.available_after,
        available_text=redemption.available_text,
    )


def _entitlement(account: Account, today: date) -> EntitlementPublic:
    return EntitlementPublic(
        account_id=account.id,
        subject_type=account.owner_type,
        subject_id=account.owner_id,
        programme=account.programme,
        asset=account.asset,
        period=account.period,
        expires_on=account.expires_on,
        open=account.expires_on is None or account.expires_on >= today,
        balance=account.balance,
        available=account.available,
        balance_text=account.text(),
        available_text=format_amount(account.asset, max(account.available, 0)),
    )


def _replayed(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"


def _group_key(key: str, index: int) -> str:
    return key if index == 0 else f"{key}/{index + 1}"


# ---- transfers and holds --------------------------------------------------------------------


@router.post(
    "/ledger/transfers",
    response_model=list[TransferPublic],
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Insufficient balance, account limit, or in flight"}},
)
def create_transfers(
    services: ServicesDep,
    actor: CurrentActor,
    key: IdempotencyKey,
    body: TransfersCreate,
    response: Response,
) -> list[TransferPublic]:
    """Post one transfer, or a linked group (all or nothing), between existing accounts:
    corrections and holds (`pending`). Disbursement officers."""
    requests = [
        TransferRequest(
            idempotency_key=_group_key(key, index),
            debit_account_id=line.debit_account_id,
            credit_account_id=line.credit_account_id,
            amount=line.amount,
            kind=line.kind,
            pending=line.pending,
            timeout_seconds=line.timeout_seconds,
            reason=line.reason,
        )
        for index, line in enumerate(body.transfers)
    ]
    transfers = services.ledger.transfer_linked(actor, requests)
    _replayed(response, all(t.replayed for t in transfers))
    return [_transfer(t) for t in transfers]


@router.post(
    "/ledger/transfers/{transfer_id}/post",
    response_model=TransferPublic,
    status_code=status.HTTP_201_CREATED,
)
def post_hold(
    services: ServicesDep,
    actor: CurrentActor,
    key: IdempotencyKey,
    transfer_id: str,
    response: Response,
    body: HoldPost | None = None,
) -> TransferPublic:
    """Post a hold in full, or in part (the rest is released); 409 if already closed."""
    amount = body.amount if body is not None else None
    transfer = services.ledger.post_pending(actor, transfer_id[:36], key, amount=amount)
    _replayed(response, transfer.replayed)
    return _transfer(transfer)


@router.post(
    "/ledger/transfers/{transfer_id}/void",
    response_model=TransferPublic,
    status_code=status.HTTP_201_CREATED,
)
def void_hold(
    services: ServicesDep,
    actor: CurrentActor,
    key: IdempotencyKey,
    transfer_id: str,
    response: Response,
) -> TransferPublic:
    """Release a hold without moving anything; 409 if already closed."""
    transfer = services.ledger.void_pending(actor, transfer_id[:36], key)
    _replayed(response, transfer.replayed)
    return _transfer(transfer)


@router.get("/ledger/transfers", response_model=list[TransferPublic])
def list_transfers(
    services: ServicesDep,
    actor: CurrentActor,
    account_id: Annotated[str | None, Query(max_length=36)] = None,
    kind: TransferKind | None = None,
    programme: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TransferPublic]:
    """Transfers, newest first (auditors and disbursement officers)."""
    transfers = services.ledger.transfers(
        actor,
        account_id=account_id,
        kind=kind.value if kind else None,
        programme=programme,
        limit=limit,
    )
    return [_transfer(t) for t in transfers]


@router.post("/ledger/holds/expire", response_model=HoldsExpired)
def expire_holds(services: ServicesDep, actor: CurrentActor) -> HoldsExpired:
    """Void every hold whose timeout has passed; safe to run again."""
    return HoldsExpired(expired=services.ledger.expire_holds(actor))


# ---- accounts and balances ------------------------------------------------------------------


@router.get("/ledger/accounts", response_model=list[AccountPublic])
def list_accounts(
    services: ServicesDep,
    actor: CurrentActor,
    kind: KindName | None = None,
    programme: Annotated[str | None, Query(max_length=40)] = None,
) -> list[AccountPublic]:
    """System and merchant accounts (beneficiaries' are listed per person)."""
    accounts = services.ledger.accounts(actor, kind=kind, programme=programme)
    return [_account(a) for a in accounts]


@router.get("/ledger/accounts/{account_id}", response_model=AccountPublic)
def get_account(services: ServicesDep, actor: CurrentActor, account_id: str) -> AccountPublic:
    return _account(services.ledger.account(actor, account_id[:36]))


@router.get("/ledger/trial-balance", response_model=TrialBalancePublic)
def trial_balance(services: ServicesDep, actor: CurrentActor) -> TrialBalancePublic:
    """Per asset: debits equal credits and no account breaks its flags."""
    result = services.ledger.trial_balance(actor)
    return TrialBalancePublic(
        assets=[_asset_balance(line) for line in result.assets],
        transfers=result.transfers,
        balanced=result.balanced,
    )


# ---- funding and cycles ---------------------------------------------------------------------


@router.post(
    "/programmes/{code}/funding", response_model=TransferPublic, status_code=status.HTTP_201_CREATED
)
def fund(
    services: ServicesDep,
    actor: CurrentActor,
    key: IdempotencyKey,
    code: str,
    body: FundingCreate,
    response: Response,
) -> TransferPublic:
    """Appropriate budget to a programme, in its asset (treasury → programme funding)."""
    transfer = services.ledger.fund(actor, code[:40], body.amount, key, body.reason)
    _replayed(response, transfer.replayed)
    return _transfer(transfer)


@router.post("/programmes/{code}/cycles", response_model=CyclePublic)
def run_cycle(
    services: ServicesDep, actor: CurrentActor, code: str, body: CycleCreate
) -> CyclePublic:
    """Post the period's entitlement to every enrolled beneficiary not yet paid for it.

    Runs to the end before answering; running it again pays only those left (nobody twice).
    """
    return _cycle(services.cycles.run(actor, code[:40], body.period))


@router.post("/programmes/{code}/cycles/{period}/expire", response_model=ExpiryPublic)
def expire_cycle(
    services: ServicesDep, actor: CurrentActor, code: str, period: str
) -> ExpiryPublic:
    """Return what is left of an ended period's in-kind quotas to the programme."""
    return _expiry(services.cycles.expire(actor, code[:40], period[:10]))


@router.get("/ledger/cycles", response_model=list[CycleRecordPublic])
def list_cycles(
    services: ServicesDep,
    actor: CurrentActor,
    programme: Annotated[str | None, Query(max_length=40)] = None,
) -> list[CycleRecordPublic]:
    """Every cycle started, newest first, with its status and how far it got."""
    authorize(services.uow(), actor, READ_CYCLES, "ledger", "cycles", Tag.LEDGER_TRANSFER_READ)
    return [
        CycleRecordPublic(
            **{name: row[name] for name in CycleRecordPublic.model_fields if name in row},
            total_text=format_amount(row["asset"], row["total"]),
        )
        for row in services.cycles.cycles(programme)
    ]


# ---- merchants ------------------------------------------------------------------------------


@router.post(
    "/ledger/merchants", response_model=MerchantPublic, status_code=status.HTTP_201_CREATED
)
def register_merchant(
    services: ServicesDep, actor: CurrentActor, body: MerchantCreate
) -> MerchantPublic:
    """Register a shop, pharmacy or fuel station and its till users (administrators)."""
    merchant = services.ledger.register_merchant(
        actor,
        code=body.code,
        name=body.name,
        category=body.category,
        region=body.region,
        iban=body.iban,
        bic=body.bic,
        accepts=body.accepts or None,
        usernames=body.usernames,
    )
    return _merchant(merchant)


@router.get("/ledger/merchants", response_model=list[MerchantPublic])
def list_merchants(services: ServicesDep, actor: CurrentActor) -> list[MerchantPublic]:
    authorize(
        services.uow(), actor, READ_MERCHANTS, "ledger", "merchants", Tag.LEDGER_TRANSFER_READ
    )
    return [_merchant(m) for m in services.ledger.list_merchants()]


# ---- in-person verification and redemption --------------------------------------------------


@router.post(
    "/people/{person_id}/verifications",
    response_model=VerificationPublic,
    status_code=status.HTTP_201_CREATED,
)
def verify_person(
    services: ServicesDep, actor: CurrentActor, person_id: str, body: VerificationCreate
) -> VerificationPublic:
    """A caseworker records that they checked the person's identity face to face (purpose
    identity_verification). The id authorises redemptions for the person and their household
    until it expires: nobody needs a card to receive their entitlement."""
    verification = verify_in_person(services.uow(), actor, person_id[:36], body.method, body.reason)
    return VerificationPublic(
        id=verification.id,
        person_id=verification.person_id,
        household_id=verification.household_id,
        method=verification.method.value,
        verified_by=verification.verified_by,
        verified_at=verification.verified_at,
        expires_at=verification.expires_at,
    )


@router.post(
    "/ledger/redemptions",
    response_model=RedemptionPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Insufficient balance: `available` and `available_text`"}},
)
def redeem(
    services: ServicesDep,
    actor: CurrentActor,
    key: IdempotencyKey,
    body: RedemptionCreate,
    response: Response,
) -> RedemptionPublic:
    """A merchant hands out an entitlement (merchants' till users, purpose redemption)."""
    amount = body.amount if body.amount is not None else _minor(body.asset, body.amount_text)
    redemption = services.ledger.redeem(
        actor,
        key=key,
        beneficiary_id=body.beneficiary_id,
        programme=body.programme,
        asset=body.asset,
        amount=amount,
        authorisation=parse_authorisation(body.authorisation.method, body.authorisation.reference),
    )
    _replayed(response, redemption.replayed)
    return _redemption(redemption)


def _minor(asset: str, text: str | None) -> int:
    try:
        return to_minor_units(asset, text or "")
    except InvalidInput as error:
        raise InvalidInput(
            error.message,
            errors=[
                {**item, "field": "amount_text"} if item.get("field") == "amount" else item
                for item in error.errors
            ],
        ) from None


def _entitlements(services: Services, actor: Actor, person_id: str) -> list[EntitlementPublic]:
    # The service finds the household itself; only the entitlement read is logged.
    accounts = services.ledger.person_entitlements(actor, person_id)
    today = date.today()
    return [_entitlement(a, today) for a in accounts]


@router.get("/people/{person_id}/entitlements", response_model=list[EntitlementPublic])
def person_entitlements(
    services: ServicesDep, actor: CurrentActor, person_id: str
) -> list[EntitlementPublic]:
    """A person's entitlements and their household's, open ones first, with balances."""
    return _entitlements(services, actor, person_id[:36])


@router.get("/me/entitlements", response_model=list[EntitlementPublic], tags=["citizen"])
def my_entitlements(services: ServicesDep, actor: CurrentActor) -> list[EntitlementPublic]:
    """Your entitlements and your household's: what is left and until when."""
    if not actor.person_id:
        raise InvalidInput("this account is not linked to a person; /me is for citizens")
    return _entitlements(services, actor, actor.person_id)


# ---- payouts and reconciliation -------------------------------------------------------------

MAX_STATUS_REPORT_BYTES = 2 * 1024 * 1024  # the app's body limit holds uploads to it too


@router.post(
    "/ledger/payouts",
    response_class=Response,
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"content": {"application/xml": {}}, "description": "The pain.001 file"},
        409: {"description": "No merchant has anything to be paid"},
    },
)
def export_payouts(
    services: ServicesDep, actor: CurrentActor, body: PayoutCreate | None = None
) -> Response:
    """Hold every merchant's settlement balance and answer the ISO 20022 pain.001 file to
    send to the bank."""
    execution_date = (body.execution_date if body else None) or date.today()
    batch = services.payouts.export(actor, execution_date)
    return Response(
        batch.document,
        status_code=status.HTTP_201_CREATED,
        media_type="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="{batch.filename}"',
            "X-Payout-Batch": batch.id,
        },
    )


@router.post("/ledger/payouts/status", response_model=StatusImportPublic)
async def import_payout_status(
    services: ServicesDep,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="The bank's pain.002 status report")],
) -> StatusImportPublic:
    """Apply the bank's status report: paid payouts post, rejected and returned ones go back
    to the merchant's settlement account. Importing it again changes nothing."""
    data = await file.read(MAX_STATUS_REPORT_BYTES + 1)
    if len(data) > MAX_STATUS_REPORT_BYTES:
        raise InvalidInput(
            "the status report is over 2 MB; ask the bank for one report per file",
            errors=[{"field": "file", "reason": "at most 2 MB"}],
        )
    result = await run_in_threadpool(services.payouts.import_status, actor, data)
    return StatusImportPublic(
        message_id=result.message_id,
        original_message_id=result.original_message_id,
        paid=result.paid,
        returned=result.returned,
        rejected=result.rejected,
        pending=result.pending,
        unknown=result.unknown,
        already=result.already,
    )


@router.get("/ledger/reconciliation", response_model=ReconciliationPublic)
def reconciliation(
    services: ServicesDep,
    actor: CurrentActor,
    asset: Annotated[
        str | None, Query(max_length=30, json_schema_extra={"enum": [a.value for a in Asset]})
    ] = None,
    period: Annotated[
        str | None, Query(pattern=LEDGER_MONTH_PATTERN, description="A month, e.g. 2026-11")
    ] = None,
) -> ReconciliationPublic:
    """The journal of transfers against the account totals, per asset and kind of account,
    over a month or all time."""
    return _reconciliation(services.ledger_reports.reconciliation(actor, asset, period))


def _reconciliation(result: Reconciliation) -> ReconciliationPublic:
    return ReconciliationPublic(
        period=result.period,
        start=result.start,
        end=result.end,
        assets=[
            AssetReconciliationPublic(
                asset=line.asset,
                kinds=[
                    KindLinePublic(
                        kind=kind.kind,
                        opening=kind.opening,
                        inflow=kind.inflow,
                        outflow=kind.outflow,
                        closing=kind.closing,
                        journal_now=kind.journal_now,
                        totals_now=kind.totals_now,
                        matches=kind.matches,
                    )
                    for kind in line.kinds
                ],
                flows=dict(line.flows),
                on_hold=line.on_hold,
                balanced=line.balanced,
            )
            for line in result.assets
        ],
        balanced=result.balanced,
    )
