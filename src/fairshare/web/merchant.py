"""The merchant's point of sale: scan the card with the camera, or type (or paste) the card
code or the caseworker's verification id; check it to see what may be redeemed here; say who
redeems, which programme and how much, and redeem; then a receipt that can be printed.

Checking and redeeming are one form with two buttons, so the page works without JavaScript:
"Check" posts to /merchant/check, which answers with the same form, the redeemable
entitlements listed and the chosen one filled in. The camera scanner (static/merchant-scan.js)
only fills the card code field.

Each render of the form carries a fresh idempotency key in a hidden field: sending the same
form twice (a double click, a reload of the receipt) replays the first redemption instead of
paying twice. A merchant acts for `redemption` only; the ledger checks the till user belongs
to a registered merchant and the authorisation proves the right to redeem.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.assets import Asset, format_amount, to_minor_units
from fairshare.credentials.model import (
    AuthorisationMethod,
    AuthorisationRefused,
    UnknownVerification,
    parse_authorisation,
)
from fairshare.errors import InvalidInput, NotFound
from fairshare.ledger.model import IdempotencyKeyReused, InsufficientBalance
from fairshare.ledger.point_of_sale import Redeemable, redeemable
from fairshare.web.forms import FormErrors, FormField
from fairshare.web.i18n import N_
from fairshare.web.rendering import render
from fairshare.web.routing import Visit, page

router = APIRouter()

ASSET_LABELS: dict[str, str] = {
    Asset.LOCAL_CURRENCY.value: N_("Local currency"),
    Asset.FUEL.value: N_("Fuel (litres)"),
    Asset.FOOD_BASKET.value: N_("Food baskets"),
    Asset.MEDICINE_PACK.value: N_("Medicine packs"),
}
METHOD_LABELS: dict[str, str] = {
    AuthorisationMethod.CARD.value: N_("Card code (the text of the QR code)"),
    AuthorisationMethod.CASEWORKER.value: N_("Caseworker's verification id"),
}
# Where each field error a service names belongs on the form.
SERVICE_FIELDS = {
    "asset": "asset",
    "amount": "amount",
    "authorisation.method": "method",
    "authorisation.reference": "reference",
    "beneficiary_id": "beneficiary",
    "programme": "programme",
}


def new_key() -> str:
    """The idempotency key of one rendering of the form."""
    return "web-pos-" + secrets.token_urlsafe(18)


def _fields(
    visit: Visit, errors: FormErrors, available: str = "", chosen: dict[str, str] | None = None
) -> list[FormField]:
    translator = visit.translator
    picked = chosen or {}
    amount_hint = visit._("In the unit of the asset: 12.50 in local currency, 20 litres, 1 basket.")
    if available:
        amount_hint = visit._("Available: %(available)s", available=available)
    return [
        FormField(
            "method",
            visit._("How the person proves who they are"),
            kind="select",
            choices=[(code, translator.gettext(label)) for code, label in METHOD_LABELS.items()],
            value=visit.field("method", 20),
            error=errors.by_name.get("method", ""),
            required=True,
        ),
        FormField(
            "reference",
            visit._("Card code or verification id"),
            kind="textarea",
            value=visit.field("reference", 4000),
            hint=visit._("Type or paste the text of the card's QR code, or the verification id."),
            error=errors.by_name.get("reference", ""),
            required=True,
            max_length=4000,
        ),
        FormField(
            "beneficiary",
            visit._("Beneficiary id"),
            value=picked.get("beneficiary", visit.field("beneficiary", 64).strip()),
            hint=visit._("The person's id, or their household's for a household benefit."),
            error=errors.by_name.get("beneficiary", ""),
            required=True,
            max_length=64,
        ),
        FormField(
            "programme",
            visit._("Programme"),
            value=picked.get("programme", visit.field("programme", 63).strip()),
            hint=visit._("The programme's code, for example food_basket."),
            error=errors.by_name.get("programme", ""),
            required=True,
            max_length=63,
        ),
        FormField(
            "asset",
            visit._("What is handed out"),
            kind="select",
            choices=[(code, translator.gettext(label)) for code, label in ASSET_LABELS.items()],
            value=picked.get("asset", visit.field("asset", 30)),
            error=errors.by_name.get("asset", ""),
            required=True,
        ),
        FormField(
            "amount",
            visit._("Amount"),
            value=visit.field("amount", 30).strip(),
            hint=amount_hint,
            error=errors.by_name.get("amount", ""),
            required=True,
            input_mode="decimal",
            max_length=30,
        ),
    ]


def _form(
    visit: Visit,
    errors: FormErrors,
    status: int,
    available: str = "",
    *,
    checked: Redeemable | None = None,
    picked: int = 0,
) -> Response:
    chosen: dict[str, str] = {}
    lines: list[dict[str, str]] = []
    if checked is not None:
        for index, line in enumerate(checked.lines):
            text = format_amount(line.asset, line.available, visit.language)
            if index == picked:
                chosen = {
                    "beneficiary": line.beneficiary_id,
                    "programme": line.programme,
                    "asset": line.asset,
                }
                available = text
            lines.append(
                {
                    "beneficiary": line.beneficiary_id,
                    "household": "yes" if line.household else "",
                    "programme": line.programme,
                    "available": text,
                    "until": line.expires_on.isoformat() if line.expires_on else "",
                    "chosen": "yes" if index == picked else "",
                }
            )
    fields = _fields(visit, errors, available, chosen)
    return render(
        visit,
        "merchant/redeem.html",
        status,
        proof_fields=fields[:2],
        sale_fields=fields[2:],
        fields=fields,
        errors=errors,
        key=new_key(),
        checked=checked,
        lines=lines,
    )


@page(router, "GET", "/merchant")
def redeem_form(visit: Visit) -> Response:
    """The point of sale: the redemption form, with a fresh idempotency key."""
    return _form(visit, FormErrors(), 200)


@page(router, "POST", "/merchant/check")
def check(visit: Visit) -> Response:
    """Check the card or verification id; the form again, listing what may be redeemed here
    and filled in with the chosen line (the first, or the one whose button was pressed)."""
    errors = FormErrors()
    method = visit.field("method", 20)
    reference = visit.field("reference", 4000)
    if method not in METHOD_LABELS:
        errors.add("method", visit._("Choose how the person proves who they are"))
    if not reference.strip():
        errors.add("reference", visit._("Type or paste the card code or the verification id"))
    if errors:
        return _form(visit, errors, 422)
    try:
        found = redeemable(
            visit.services.uow(), visit.actor, parse_authorisation(method, reference)
        )
    except UnknownVerification:
        errors.add("reference", visit._("No in-person verification has this id"))
        return _form(visit, errors, 422)
    except AuthorisationRefused as refused:
        errors.add("reference", refused.message)
        return _form(visit, errors, 403)
    pick = visit.field("pick", 4)
    picked = int(pick) if pick.isdigit() and int(pick) < len(found.lines) else 0
    return _form(visit, errors, 200, checked=found, picked=picked)


@page(router, "POST", "/merchant")
def redeem(visit: Visit) -> Response:
    """Redeem against the beneficiary's entitlement; the receipt, or the form with errors."""
    errors = FormErrors()
    method = visit.field("method", 20)
    reference = visit.field("reference", 4000)
    beneficiary = visit.field("beneficiary", 64).strip()
    programme = visit.field("programme", 63).strip()
    asset = visit.field("asset", 30)
    if method not in METHOD_LABELS:
        errors.add("method", visit._("Choose how the person proves who they are"))
    if not reference.strip():
        errors.add("reference", visit._("Type or paste the card code or the verification id"))
    if not beneficiary:
        errors.add("beneficiary", visit._("Enter the beneficiary id"))
    if not programme:
        errors.add("programme", visit._("Enter the programme's code"))
    amount = 0
    if asset not in ASSET_LABELS:
        errors.add("asset", visit._("Choose what is handed out"))
    else:
        try:
            amount = to_minor_units(asset, visit.field("amount", 30))
        except InvalidInput:
            errors.add("amount", visit._("Amount: write a number like 12.50 in the asset's unit"))
        else:
            if amount <= 0:
                errors.add("amount", visit._("Amount: must be more than zero"))
    if errors:
        return _form(visit, errors, 422)
    try:
        authorisation = parse_authorisation(method, reference)
        redemption = visit.services.ledger.redeem(
            visit.actor,
            key=visit.field("idempotency_key", 200),
            beneficiary_id=beneficiary,
            programme=programme,
            asset=asset,
            amount=amount,
            authorisation=authorisation,
        )
    except InsufficientBalance as refused:
        available = format_amount(asset, max(int(refused.details["available"]), 0), visit.language)
        errors.add(
            "amount",
            visit._(
                "Amount: more than is available (%(available)s); nothing was handed out",
                available=available,
            ),
        )
        return _form(visit, errors, 409, available)
    except UnknownVerification:
        errors.add("reference", visit._("No in-person verification has this id"))
        return _form(visit, errors, 422)
    except AuthorisationRefused as refused:
        errors.add("reference", refused.message)
        return _form(visit, errors, 403)
    except IdempotencyKeyReused:
        errors.general.append(
            visit._("This form was already used for another redemption; check and send it again.")
        )
        return _form(visit, errors, 422)
    except NotFound:
        errors.add(
            "programme", visit._("This beneficiary has no open entitlement from this programme")
        )
        return _form(visit, errors, 404)
    except InvalidInput as error:
        for item in error.errors:
            target = SERVICE_FIELDS.get(str(item.get("field", "")))
            if target:
                errors.add(target, visit.translator.reason(str(item.get("reason", ""))))
        if not errors.by_name:
            errors.general.append(error.message)
        return _form(visit, errors, 422)
    first = redemption.transfers[0]
    return render(
        visit,
        "merchant/receipt.html",
        amount=format_amount(asset, redemption.amount, visit.language),
        available=format_amount(asset, redemption.available_after, visit.language),
        transfer_id=first.id,
        at=first.created_at,
        programme=programme,
        replayed=redemption.replayed,
    )
