"""Offline redemption, in plain Python: allowance lists, signed receipts, and reconciling them.

A merchant device that will be offline downloads a signed allowance list: for each card it may
serve, the most it may hand out per programme and asset without asking the server (a small
share of what the entitlement holds). It verifies cards offline, keeps to the allowance, and
records each redemption as a receipt signed with its own device key. On sync the server
checks every receipt (signature, allowance, already seen) and posts the good ones through the
ledger, which refuses to overdraw an entitlement: a second device that spent the same
entitlement is then found out, and the loss is at most what the allowances allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fairshare.credentials.lists import InvalidList, b64, raw_public, unb64

ALLOWANCE_LIST_KIND = "fairshare-offline-allowance-list"
# The share of an entitlement's available balance a device may hand out offline per list.
OFFLINE_SHARE_PERCENT = 20
MAX_RECEIPTS_PER_SYNC = 5_000

AllowanceKey = tuple[str, str, str]  # (card id, programme, asset)


class ReceiptOutcome(StrEnum):
    POSTED = "posted"
    BAD_SIGNATURE = "bad_signature"
    NO_ALLOWANCE = "no_allowance"
    OVER_ALLOWANCE = "over_allowance"
    DOUBLE_SPEND = "double_spend"
    CARD_REVOKED = "card_revoked"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Allowance:
    card_id: str
    programme: str
    asset: str
    maximum: int

    @property
    def key(self) -> AllowanceKey:
        return (self.card_id, self.programme, self.asset)


@dataclass(frozen=True)
class AllowanceList:
    list_id: str
    merchant: str
    device_id: str
    issued_at: int
    valid_until: int
    allowances: tuple[Allowance, ...]

    def limits(self) -> dict[AllowanceKey, int]:
        return {a.key: a.maximum for a in self.allowances}


@dataclass(frozen=True)
class Receipt:
    """One offline redemption as the device recorded it."""

    receipt_id: str
    device_id: str
    card_id: str
    programme: str
    asset: str
    amount: int
    recorded_at: int

    @property
    def key(self) -> AllowanceKey:
        return (self.card_id, self.programme, self.asset)

    def signed_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SignedReceipt:
    receipt: Receipt
    signature: str  # URL-safe Base64 Ed25519 signature over receipt.signed_bytes()

    def as_dict(self) -> dict[str, Any]:
        return {"receipt": asdict(self.receipt), "signature": self.signature}


@dataclass(frozen=True)
class ReceiptCheck:
    receipt: Receipt
    outcome: ReceiptOutcome
    reason: str


def offline_maximum(available: int) -> int:
    """What a device may hand out offline against an entitlement holding `available`."""
    return max(available, 0) * OFFLINE_SHARE_PERCENT // 100


def sign_receipt(receipt: Receipt, device_key: Ed25519PrivateKey) -> SignedReceipt:
    return SignedReceipt(receipt, b64(device_key.sign(receipt.signed_bytes())))


def parse_receipt(raw: Mapping[str, Any]) -> SignedReceipt:
    """Raises ValueError for anything that is not a well-formed signed receipt."""
    body = raw.get("receipt")
    signature = raw.get("signature")
    if not isinstance(body, Mapping) or not isinstance(signature, str) or len(signature) > 100:
        raise ValueError("a receipt is {receipt: {...}, signature: ...}")
    fields: dict[str, type] = {
        "receipt_id": str,
        "device_id": str,
        "card_id": str,
        "programme": str,
        "asset": str,
        "amount": int,
        "recorded_at": int,
    }
    values: dict[str, Any] = {}
    for name, kind in fields.items():
        value: Any = body.get(name)
        too_long = isinstance(value, str) and not 0 < len(value) <= 64
        if type(value) is not kind or too_long:
            raise ValueError(f"receipt field {name!r} is missing or not a {kind.__name__}")
        values[name] = value
    if set(body) - set(fields):
        raise ValueError("the receipt has fields it should not")
    if values["amount"] <= 0:
        raise ValueError("a receipt amount is a positive number of minor units")
    return SignedReceipt(Receipt(**values), signature)


def check_receipts(
    receipts: Sequence[SignedReceipt],
    device_id: str,
    device_public_key: bytes,
    limits: Mapping[AllowanceKey, int],
    spent_before: Mapping[AllowanceKey, int],
) -> list[ReceiptCheck | None]:
    """Each receipt's verdict before posting: None when it may be posted, otherwise why not.

    `spent_before` is what this device already synced against each allowance; receipts are
    counted in the order given, so the first ones within the allowance pass.
    """
    verifier = Ed25519PublicKey.from_public_bytes(device_public_key)
    spent = dict(spent_before)
    verdicts: list[ReceiptCheck | None] = []
    for signed in receipts:
        receipt = signed.receipt
        try:
            verifier.verify(unb64(signed.signature), receipt.signed_bytes())
        except (InvalidSignature, ValueError):
            verdicts.append(
                ReceiptCheck(receipt, ReceiptOutcome.BAD_SIGNATURE, "the device signature is wrong")
            )
            continue
        if receipt.device_id != device_id:
            verdicts.append(
                ReceiptCheck(receipt, ReceiptOutcome.BAD_SIGNATURE, "signed for another device")
            )
            continue
        limit = limits.get(receipt.key)
        if limit is None:
            verdicts.append(
                ReceiptCheck(
                    receipt, ReceiptOutcome.NO_ALLOWANCE, "the device had no allowance for it"
                )
            )
            continue
        total = spent.get(receipt.key, 0) + receipt.amount
        if total > limit:
            verdicts.append(
                ReceiptCheck(
                    receipt,
                    ReceiptOutcome.OVER_ALLOWANCE,
                    f"{total} exceeds the offline allowance of {limit}",
                )
            )
            continue
        spent[receipt.key] = total
        verdicts.append(None)
    return verdicts


def allowance_list_document(allowances: AllowanceList, root: Ed25519PrivateKey) -> str:
    """The allowance list, signed with the card root key (verifiers already pin it)."""
    body = {
        "kind": ALLOWANCE_LIST_KIND,
        "version": 1,
        "list_id": allowances.list_id,
        "merchant": allowances.merchant,
        "device_id": allowances.device_id,
        "issued_at": allowances.issued_at,
        "valid_until": allowances.valid_until,
        "allowances": [asdict(a) for a in allowances.allowances],
        "anchor": b64(raw_public(root.public_key())),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    body["signature"] = b64(root.sign(canonical.encode()))
    return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_allowance_list(text: str, anchor: bytes) -> AllowanceList:
    """Raises InvalidList unless the text is an allowance list signed by `anchor`."""
    try:
        document = json.loads(text)
        signature = unb64(document.pop("signature"))
        signer = unb64(document["anchor"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidList("the file is not a signed allowance list") from None
    if document.get("kind") != ALLOWANCE_LIST_KIND or signer != anchor:
        raise InvalidList("the file is not an allowance list signed by the pinned root")
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        Ed25519PublicKey.from_public_bytes(anchor).verify(signature, canonical.encode())
    except InvalidSignature:
        raise InvalidList("the allowance list's signature does not match") from None
    return AllowanceList(
        document["list_id"],
        document["merchant"],
        document["device_id"],
        int(document["issued_at"]),
        int(document["valid_until"]),
        tuple(Allowance(**entry) for entry in document["allowances"]),
    )


def loss_bound(allowances: Iterable[Allowance]) -> int:
    """The most that offline redemption can lose: every allowance spent, nothing covered."""
    return sum(a.maximum for a in allowances)
