"""Ledger domain: accounts, transfers, periods and the rules that keep value from being
created or lost.

Plain Python. Every movement is a transfer from one account to another of the same asset, so
the sum of all balances of an asset is always zero. Accounts carry flags in the manner of
TigerBeetle: an account flagged `DEBITS_MUST_NOT_EXCEED_CREDITS` can never be overdrawn. The
database enforces the same flags with CHECK constraints; the code refuses first so the person
gets a reason, not a constraint name.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntFlag, StrEnum
from typing import Any

from fairshare.assets import Asset, asset_definition, format_amount
from fairshare.errors import Conflict, FairshareError, InvalidInput, NotFound

# Amounts and balances are signed 64-bit integers in both databases. SQLite silently turns an
# overflowing integer sum into a float, so every update also checks this ceiling.
MAX_AMOUNT = 2**63 - 1
KEY_PATTERN = re.compile(r"^[A-Za-z0-9:._/\-]{8,200}$")
DEFAULT_HOLD_DAYS = 30


class AccountKind(StrEnum):
    # Where appropriated value enters the ledger (one per asset); its balance is the negative
    # of everything appropriated, so it may only ever be debited more than credited.
    TREASURY = "treasury"
    FUNDING = "funding"  # one per programme and asset: its budget
    ENTITLEMENT = "entitlement"  # one per beneficiary, programme and asset (and period, in kind)
    SETTLEMENT = "settlement"  # one per merchant and asset: redeemed, not yet paid out
    PAYOUT_CLEARING = "payout_clearing"  # one per asset: paid out to merchants' banks


class AccountFlag(IntFlag):
    NONE = 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2


ACCOUNT_FLAGS: dict[AccountKind, AccountFlag] = {
    AccountKind.TREASURY: AccountFlag.CREDITS_MUST_NOT_EXCEED_DEBITS,
    AccountKind.FUNDING: AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS,
    AccountKind.ENTITLEMENT: AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS,
    AccountKind.SETTLEMENT: AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS,
    AccountKind.PAYOUT_CLEARING: AccountFlag.DEBITS_MUST_NOT_EXCEED_CREDITS,
}


class TransferKind(StrEnum):
    FUNDING = "funding"  # treasury → programme funding
    ENTITLEMENT = "entitlement"  # programme funding → beneficiary, once per cycle period
    REDEMPTION = "redemption"  # beneficiary → merchant settlement
    EXPIRY = "expiry"  # unredeemed in-kind quota back to programme funding
    PAYOUT = "payout"  # merchant settlement → payout clearing (a hold until the bank answers)
    PAYOUT_RETURN = "payout_return"  # a payout the bank returned after paying it
    CORRECTION = "correction"  # any correction: a new transfer, never an edit


class TransferFlag(IntFlag):
    NONE = 0
    PENDING = 1  # a hold: reserves the amount until posted or voided
    POST_PENDING = 2
    VOID_PENDING = 4
    LINKED = 8  # one of a group that succeeded together


class PendingState(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


def in_kind(asset: str) -> bool:
    """In-kind quotas (baskets, packs, fuel) expire with their period; money carries over."""
    return Asset(asset) is not Asset.LOCAL_CURRENCY


# ---- errors --------------------------------------------------------------------------------


class UnknownAccount(NotFound):
    def __init__(self, reference: str) -> None:
        super().__init__(
            f"no ledger account {reference[:80]!r}; `fairshare ledger accounts` lists them"
        )


class UnknownTransfer(NotFound):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no transfer {reference[:80]!r}")


class UnknownMerchant(NotFound):
    def __init__(self, reference: str) -> None:
        super().__init__(
            f"no merchant {reference[:80]!r}; `fairshare merchant list` shows the registered ones"
        )


class InsufficientBalance(Conflict):
    """The debit account does not hold enough; nothing moved. `available` may be shown to the
    person redeeming (merchant, caseworker, the beneficiary)."""

    title = "Insufficient balance"

    def __init__(self, message: str, *, asset: str, available: int, requested: int) -> None:
        super().__init__(message)
        self.details = {
            "asset": asset,
            "available": available,
            "requested": requested,
            "available_text": format_amount(asset, max(available, 0)),
        }


class LimitExceeded(Conflict):
    """A credit would break an account's flag or overflow its 64-bit balance."""

    title = "Account limit exceeded"


class IdempotencyKeyReused(InvalidInput):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key[:80]!r} was already used for a different request; "
            "use a new key for a new request, or resend exactly the same request to get its "
            "first result",
            errors=[{"field": "idempotency_key", "reason": "already used with another body"}],
        )


class TransferInFlight(Conflict):
    title = "Request in progress"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"a request with idempotency key {key[:80]!r} is still being processed; "
            "wait a moment and resend it to get its result"
        )


class PendingNotOpen(Conflict):
    title = "Hold already closed"


class PeriodNotEnded(Conflict):
    title = "Period not ended"


class PeriodInFuture(InvalidInput):
    pass


class LedgerError(FairshareError):
    pass


# ---- amounts and keys ----------------------------------------------------------------------


def check_amount(amount: object, field_name: str = "amount") -> int:
    """A positive integer of minor units; raises InvalidInput saying what was wrong."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(
            f"{field_name} must be a whole number of minor units (cents, millilitres, units), "
            f"got {str(amount)[:40]!r}",
            errors=[{"field": field_name, "reason": "must be an integer of minor units"}],
        )
    if amount <= 0:
        raise InvalidInput(
            f"{field_name} must be more than zero, got {amount}; a correction in the other "
            "direction is a transfer between the same accounts the other way round",
            errors=[{"field": field_name, "reason": "must be more than zero"}],
        )
    if amount > MAX_AMOUNT:
        raise InvalidInput(
            f"{field_name} {amount} is larger than the largest amount a ledger can hold "
            f"({MAX_AMOUNT})",
            errors=[{"field": field_name, "reason": f"at most {MAX_AMOUNT}"}],
        )
    return amount


def check_key(key: object) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise InvalidInput(
            "the idempotency key must be 8 to 200 characters of letters, digits and : . _ / -; "
            "generate one per request (a UUID works) and reuse it only to retry that request",
            errors=[{"field": "idempotency_key", "reason": "8-200 of A-Z a-z 0-9 : . _ / -"}],
        )
    return key


def request_hash(body: dict[str, Any]) -> str:
    """A fingerprint of what a request asks for; a retry must match it exactly."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ---- accounts and transfers ----------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: str
    code: str
    kind: AccountKind
    asset: str
    flags: AccountFlag
    programme: str | None
    owner_type: str | None
    owner_id: str | None
    period: str | None
    expires_on: date | None
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def balance(self) -> int:
        """Credits less debits, posted only: what the account holds."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What may still be debited: the balance less the holds on it."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    def text(self, language: str = "en") -> str:
        return format_amount(self.asset, self.balance, language)


@dataclass(frozen=True)
class TransferRequest:
    """What a caller asks the ledger to do; the key makes a retry safe."""

    idempotency_key: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    kind: TransferKind = TransferKind.CORRECTION
    pending: bool = False
    timeout_seconds: int | None = None
    reason: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "debit": self.debit_account_id,
            "credit": self.credit_account_id,
            "amount": self.amount,
            "kind": self.kind.value,
            "pending": self.pending,
            "timeout": self.timeout_seconds,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Transfer:
    id: str
    idempotency_key: str
    debit_account_id: str
    credit_account_id: str
    asset: str
    amount: int
    kind: TransferKind
    flags: TransferFlag
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
    replayed: bool = False  # True when this is the first result of an earlier, identical request

    @property
    def amount_text(self) -> str:
        return format_amount(self.asset, self.amount)


# ---- cycle periods -------------------------------------------------------------------------

_MONTHLY = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTERLY = re.compile(r"^(\d{4})-Q([1-4])$")
_YEARLY = re.compile(r"^(\d{4})$")
_FORMS = {"monthly": "2026-11", "quarterly": "2026-Q4", "yearly": "2026"}


@dataclass(frozen=True, order=True)
class Period:
    """One cycle of a programme: a month, a quarter or a year, with its first and last day."""

    start: date
    end: date
    label: str = field(compare=False)

    def has_ended(self, today: date) -> bool:
        return today > self.end


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


MAX_PERIOD_YEAR = 9998


def parse_period(kind: str, label: str) -> Period:
    """'2026-11' (monthly), '2026-Q4' (quarterly) or '2026' (yearly); raises InvalidInput."""
    text = (label or "").strip()
    if kind == "monthly" and (match := _MONTHLY.fullmatch(text)):
        year, month = int(match[1]), int(match[2])
        # A month's end and the day after it must be dates too: years 1 to 9998.
        if 1 <= year <= MAX_PERIOD_YEAR:
            return Period(date(year, month, 1), _month_end(year, month), text)
    if kind == "quarterly" and (match := _QUARTERLY.fullmatch(text)):
        year, quarter = int(match[1]), int(match[2])
        first = 3 * quarter - 2
        return Period(date(year, first, 1), _month_end(year, first + 2), text)
    if kind == "yearly" and (match := _YEARLY.fullmatch(text)):
        year = int(match[1])
        return Period(date(year, 1, 1), date(year, 12, 31), text)
    example = _FORMS.get(kind, "2026-11")
    raise InvalidInput(
        f"period {text[:20]!r} is not a {kind} period; write it like {example!r}",
        errors=[{"field": "period", "reason": f"a {kind} period like {example}"}],
    )


def period_of(kind: str, day: date) -> Period:
    """The period of this kind that contains `day`."""
    if kind == "monthly":
        return parse_period(kind, f"{day.year}-{day.month:02d}")
    if kind == "quarterly":
        return parse_period(kind, f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    return parse_period("yearly", f"{day.year}")


def check_cycle_period(kind: str, label: str, today: date) -> Period:
    """A period a cycle may pay: well formed and already begun (no paying ahead)."""
    period = parse_period(kind, label)
    if period.start > today:
        raise PeriodInFuture(
            f"period {label} has not begun (it starts on {period.start.isoformat()}); "
            "entitlements are posted when their period starts",
            errors=[{"field": "period", "reason": "has not begun"}],
        )
    return period


# ---- natural account codes -----------------------------------------------------------------


def treasury_code(asset: str) -> str:
    return f"treasury:{asset}"


def funding_code(programme: str, asset: str) -> str:
    return f"funding:{programme}:{asset}"


def entitlement_code(subject_id: str, programme: str, asset: str, period: str | None) -> str:
    return f"entitlement:{subject_id}:{programme}:{asset}:{period or '-'}"


def settlement_code(merchant_id: str, asset: str) -> str:
    return f"settlement:{merchant_id}:{asset}"


def clearing_code(asset: str) -> str:
    return f"payout_clearing:{asset}"


def cycle_key(programme: str, period: str, subject_id: str) -> str:
    """The idempotency key of one entitlement: a rerun can never pay a period twice."""
    return f"cycle:{programme}:{period}:{subject_id}"


def expiry_key(account_id: str) -> str:
    return f"expiry:{account_id}"


def describe_account(kind: AccountKind, asset: str) -> str:
    return f"{kind.value.replace('_', ' ')} ({asset_definition(asset).label})"


# ---- merchants -----------------------------------------------------------------------------


class MerchantCategory(StrEnum):
    SHOP = "shop"
    PHARMACY = "pharmacy"
    FUEL_STATION = "fuel_station"


# What a category of merchant may hand out when nothing else is configured.
DEFAULT_ACCEPTS: dict[MerchantCategory, tuple[Asset, ...]] = {
    MerchantCategory.SHOP: (Asset.LOCAL_CURRENCY, Asset.FOOD_BASKET),
    MerchantCategory.PHARMACY: (Asset.LOCAL_CURRENCY, Asset.MEDICINE_PACK),
    MerchantCategory.FUEL_STATION: (Asset.LOCAL_CURRENCY, Asset.FUEL),
}


@dataclass(frozen=True)
class Merchant:
    id: str
    code: str
    name: str
    category: MerchantCategory
    accepts: tuple[str, ...]
    region: str
    iban: str
    bic: str
    usernames: tuple[str, ...] = ()


@dataclass(frozen=True)
class Redemption:
    transfers: tuple[Transfer, ...]
    asset: str
    amount: int
    available_after: int
    replayed: bool

    @property
    def amount_text(self) -> str:
        return format_amount(self.asset, self.amount)

    @property
    def available_text(self) -> str:
        return format_amount(self.asset, self.available_after)


@dataclass(frozen=True)
class CycleResult:
    programme: str
    period: str
    asset: str
    amount: int
    enrolled: int
    posted: int
    already_paid: int
    total: int

    @property
    def total_text(self) -> str:
        return format_amount(self.asset, self.total)


@dataclass(frozen=True)
class ExpiryResult:
    programme: str
    period: str
    accounts: int
    total: int
    asset: str


@dataclass(frozen=True)
class AssetBalance:
    """One asset's line of the trial balance."""

    asset: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    by_kind: dict[str, int]  # account kind → net balance (credits - debits)
    accounts: int
    violations: int

    @property
    def balanced(self) -> bool:
        return (
            self.debits_posted == self.credits_posted
            and self.debits_pending == self.credits_pending
            and self.violations == 0
        )


@dataclass(frozen=True)
class TrialBalance:
    assets: tuple[AssetBalance, ...]
    transfers: int

    @property
    def balanced(self) -> bool:
        return all(line.balanced for line in self.assets)
