"""The offline till: a merchant page that keeps redeeming with no network (issue 7).

The page is a shell of our own script (static/merchant-offline.js) and a service worker
(static/merchant-offline-sw.js, served here under /merchant/offline so its scope covers the
page) that keeps the shell for when the network is gone. The browser holds the device key
(WebCrypto Ed25519, not extractable) and everything it needs offline in IndexedDB; this
module only answers the calls the script makes while online, with the session cookie
and the form's CSRF token instead of an API token:

- register the device's public key,
- hand it a signed allowance list (and the signed list of revoked cards),
- sync the receipts it signed while offline.

Each call runs the same service as the API (`OfflineRedemption`, decision 0021), and its
errors are RFC 9457 problem details, which the script shows.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from fairshare.api.problems import problem
from fairshare.assets import ASSETS
from fairshare.credentials.lists import REVOCATION_LIST_KIND, TRUST_LIST_KIND, b64
from fairshare.credentials.offline import ALLOWANCE_LIST_KIND, MAX_RECEIPTS_PER_SYNC
from fairshare.errors import FairshareError, InvalidInput
from fairshare.identity.model import Purpose
from fairshare.web.i18n import N_
from fairshare.web.merchant import ASSET_LABELS
from fairshare.web.rendering import STATIC, render
from fairshare.web.routing import Visit, page

router = APIRouter()

OFFLINE = frozenset({Purpose.REDEMPTION})
SCOPE = "/merchant/offline"
WORKER = STATIC / "merchant-offline-sw.js"
# The camera scanner of the point of sale, used when it is installed (merchant-scan.js).
SCANNER_FILES = ("merchant-scan.js", "vendor/barcode-detector.js")
# A sync of the most receipts the service takes, as JSON, is well under this.
MAX_RECEIPTS_TEXT = 1_900_000

# What the script shows, translated on the server (the script cannot read the catalogues).
SCRIPT_MESSAGES: dict[str, str] = {
    "online": N_("Online"),
    "offline": N_("Offline: redemptions are kept on this device until the next sync"),
    "unsupported": N_(
        "This browser cannot keep the till offline (it lacks service workers, IndexedDB or "
        "Ed25519 in WebCrypto). Use a current Chromium, Chrome, Edge, Firefox or Safari."
    ),
    "not_set_up": N_("This till is not set up yet. Set it up while online."),
    "device": N_("Device %(device)s"),
    "list_fetched": N_("Allowance list fetched %(fetched)s; valid until %(until)s"),
    "list_count": N_("Allowances in the list: %(count)s; cards: %(cards)s"),
    "list_expired": N_("The allowance list has expired: download a new one while online."),
    "setting_up": N_("Setting up the till…"),
    "set_up_done": N_("The till is set up and its allowance list is stored on this device."),
    "downloaded": N_("A new allowance list is stored on this device."),
    "needs_network": N_("This needs the network: try again when the till is online."),
    "login_again": N_(
        "The server did not accept the request: reload this page while online (log in again "
        "if asked), then try again. Nothing stored on this device was lost."
    ),
    "card_empty": N_("Type or paste the card code first."),
    "card_unreadable": N_("The card code could not be read: %(reason)s"),
    "card_unknown_issuer": N_(
        "The card was signed by a key this till does not know; download the allowance list "
        "again while online, or send the person to a caseworker."
    ),
    "card_bad_signature": N_("The card's signature does not match: it was altered or forged."),
    "card_expired": N_("The card has expired."),
    "card_revoked": N_(
        "The card was reported lost or stolen and is refused. Send the person to a caseworker."
    ),
    "card_valid": N_("Card %(card)s, %(name)s, born %(year)s: the signature is valid."),
    "no_allowance": N_(
        "This till has no offline allowance for this card. Redeem online, or send the person "
        "to a caseworker: nobody needs a card to receive their entitlement."
    ),
    "remaining": N_("%(programme)s: %(remaining)s left offline of %(maximum)s"),
    "choose_allowance": N_("Choose what is handed out."),
    "amount_invalid": N_("Amount: write a number like 12.50 in the asset's unit"),
    "amount_positive": N_("Amount: must be more than zero"),
    "over_allowance": N_(
        "Amount: more than this till may hand out offline (%(remaining)s left); nothing was "
        "recorded"
    ),
    "recorded": N_("Recorded: %(amount)s of %(programme)s. The receipt is below."),
    "pending": N_("Waiting to sync"),
    "posted": N_("Posted"),
    "double_spend": N_("Double spend: already spent elsewhere; loss %(loss)s"),
    "refused": N_("Refused: %(reason)s"),
    "syncing": N_("Syncing %(count)s receipts…"),
    "synced": N_("Sync finished: %(posted)s posted, %(refused)s refused."),
    "nothing_to_sync": N_("Nothing to sync."),
    "receipt_title": N_("Offline receipt"),
}
OUTCOME_LABELS = {
    "over_allowance": N_("over the offline allowance"),
    "no_allowance": N_("no offline allowance for this card"),
    "bad_signature": N_("the device signature is wrong"),
    "card_revoked": N_("the card was revoked"),
    "malformed": N_("the receipt is malformed"),
}


@page(router, "GET", "/merchant/offline")
def offline_till(visit: Visit) -> Response:
    """The offline till's shell; the script does the rest in the browser."""
    visit.require_purpose(OFFLINE)
    translate = visit.translator.gettext
    messages = {name: translate(text) for name, text in SCRIPT_MESSAGES.items()}
    messages.update({f"outcome_{name}": translate(text) for name, text in OUTCOME_LABELS.items()})
    assets = {
        definition.asset.value: {
            "scale": definition.scale,
            "unit": definition.unit(Decimal(2), visit.language),
            "label": translate(ASSET_LABELS[definition.asset.value]),
        }
        for definition in ASSETS.values()
    }
    return render(
        visit,
        "merchant/offline.html",
        messages=messages,
        assets=assets,
        anchor=b64(visit.services.cards.anchor),
        till_user=visit.user.username if visit.user else "",
        list_kinds={
            "trust": TRUST_LIST_KIND,
            "revocation": REVOCATION_LIST_KIND,
            "allowance": ALLOWANCE_LIST_KIND,
        },
        scanner=all((STATIC / name).exists() for name in SCANNER_FILES),
    )


@page(router, "GET", "/merchant/offline/sw.js")
def service_worker(visit: Visit) -> Response:
    """The service worker, served under the page's path so it may control the page."""
    return Response(
        WORKER.read_bytes(),
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": SCOPE},
    )


@page(router, "POST", "/merchant/offline/devices")
def register_device(visit: Visit) -> Response:
    """Register the browser's Ed25519 public key as a device of the till user's merchant."""
    try:
        visit.require_purpose(OFFLINE)
        device_id = visit.services.offline.register_device(
            visit.actor, visit.field("public_key", 100)
        )
    except FairshareError as error:
        return _problem(error)
    return JSONResponse({"device_id": device_id}, status_code=201)


@page(router, "POST", "/merchant/offline/devices/{device_id}/allowances")
def allowance_list(visit: Visit, device_id: str) -> Response:
    """A new signed allowance list for the device (a POST: each list is recorded)."""
    try:
        visit.require_purpose(OFFLINE)
        document = visit.services.offline.allowance_list(visit.actor, device_id)
    except FairshareError as error:
        return _problem(error)
    return Response(document, media_type="application/json")


@page(router, "GET", "/merchant/offline/revocations")
def revocation_list(visit: Visit) -> Response:
    """The signed list of revoked card ids, so the till refuses them offline."""
    try:
        visit.require_purpose(OFFLINE)
        document = visit.services.cards.revocation_list(visit.actor)
    except FairshareError as error:
        return _problem(error)
    return Response(document, media_type="application/json")


@page(router, "POST", "/merchant/offline/devices/{device_id}/receipts")
def sync_receipts(visit: Visit, device_id: str) -> Response:
    """Sync the receipts the device signed offline; each one's verdict, as the API gives it."""
    try:
        visit.require_purpose(OFFLINE)
        receipts = _receipts(visit.field("receipts", MAX_RECEIPTS_TEXT + 1))
        result = visit.services.offline.sync(visit.actor, device_id, receipts)
    except FairshareError as error:
        return _problem(error)
    return JSONResponse(
        {
            "receipts": [vars(r) for r in result.receipts],
            "loss": result.loss,
            "loss_bound": result.loss_bound,
        }
    )


def _receipts(text: str) -> list[dict[str, Any]]:
    """The form's `receipts` field: a JSON array of signed receipts. Raises InvalidInput."""
    if len(text) > MAX_RECEIPTS_TEXT:
        raise InvalidInput(
            f"too many receipts in one sync: send at most {MAX_RECEIPTS_PER_SYNC} at a time"
        )
    try:
        receipts = json.loads(text)
    except ValueError:
        receipts = None
    if not isinstance(receipts, list) or not all(isinstance(r, dict) for r in receipts):
        raise InvalidInput(
            "`receipts` must be a JSON array of signed receipts ({receipt: {...}, signature: ...})",
            errors=[{"field": "receipts", "reason": "a JSON array of signed receipts"}],
        )
    return receipts


def _problem(error: FairshareError) -> Response:
    extra = {"errors": error.details["errors"]} if error.details.get("errors") else {}
    slug = "".join(f"-{c.lower()}" if c.isupper() else c for c in type(error).__name__)
    return problem(error.status, error.title, error.message, f"/problems/{slug[1:]}", **extra)
