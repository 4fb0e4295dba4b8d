"""Card pages: a caseworker issues, lists, revokes and prints a person's cards; a citizen
shows their own card's QR code large (full screen on the phone, for a merchant to scan
instead of the plastic card) and reports a lost card.

Holding a card is never a condition of receiving an entitlement (DESIGN red line 5), so the
pages say so wherever a card is missing. Every read and change goes through the card service,
which checks the purpose and writes the access log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.audit.model import utc_now
from fairshare.credentials import qr
from fairshare.credentials import services as card_services
from fairshare.credentials.card import format_card_id
from fairshare.credentials.render import PrintedCard, card_pdf
from fairshare.credentials.services import IssuedCard, UnknownCard, from_epoch
from fairshare.errors import InvalidInput
from fairshare.identity.model import ROLE_PURPOSES, Role
from fairshare.web.forms import FormErrors, FormField
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()
OWN = ROLE_PURPOSES[Role.CASEWORKER]
ISSUE = card_services.ISSUE & OWN
REVOKE = card_services.REVOKE & OWN
ID_LENGTH = 36
REASON_LENGTH = 500


@dataclass(frozen=True)
class CardRow:
    """A card as the pages list it."""

    card_id: str
    printed_id: str
    name: str
    issued_on: str
    valid_until: str
    state: str  # current | revoked | expired
    revoke_reason: str


def _rows(cards: list[IssuedCard], now: datetime) -> list[CardRow]:
    rows = []
    for card in cards:
        expires = from_epoch(card.claims.expires_at)
        if card.revoked_at is not None:
            state = "revoked"
        elif expires <= now:
            state = "expired"
        else:
            state = "current"
        rows.append(
            CardRow(
                card_id=card.card_id,
                printed_id=format_card_id(card.card_id),
                name=card.claims.name,
                issued_on=from_epoch(card.claims.issued_at).date().isoformat(),
                valid_until=expires.date().isoformat(),
                state=state,
                revoke_reason=card.revoke_reason or "",
            )
        )
    return rows


def _current(cards: list[IssuedCard], now: datetime) -> IssuedCard | None:
    """The newest card that is neither revoked nor expired (as `Cards.current_card`)."""
    for card in cards:
        if card.revoked_at is None and from_epoch(card.claims.expires_at) > now:
            return card
    return None


def _reason_field(visit: Visit, errors: FormErrors, hint: str) -> FormField:
    return FormField(
        "reason",
        visit._("Reason"),
        value=visit.field("reason", REASON_LENGTH) if errors else "",
        hint=hint,
        error=errors.by_name.get("reason", ""),
        required=True,
        max_length=REASON_LENGTH,
    )


def _pdf(visit: Visit, card: IssuedCard) -> Response:
    printed = PrintedCard(card.claims, card.qr_text, visit.services.settings.card_office)
    name = f"fairshare-card-{format_card_id(card.card_id)}.pdf"
    return Response(
        card_pdf(printed),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- caseworker ----------------------------------------------------------------------------


def _caseworker_page(
    visit: Visit, person_id: str, errors: FormErrors, status: int = 200
) -> Response:
    cards = visit.services.cards.cards_of(visit.actor, person_id)
    confirm = FormField(
        "confirm",
        visit._("The person asked for a new card, and knows their earlier card stops working"),
        kind="checkbox",
        value=visit.field("confirm", 10) if errors else "",
        error=errors.by_name.get("confirm", ""),
    )
    reason = _reason_field(
        visit, errors, visit._("For example: reported lost, stolen, or the holder died.")
    )
    rows = _rows(cards, utc_now())
    return render(
        visit,
        "cards/person.html",
        status,
        person_id=person_id,
        cards=rows,
        current=next((row for row in rows if row.state == "current"), None),
        errors=errors,
        fields=[confirm, reason],
        confirm=confirm,
        reason=reason,
        revoking=visit.field("card_id", 40) if errors.by_name.get("reason") else "",
        can_revoke=visit.purpose in REVOKE,
        issued="issued" in visit.request.query_params,
        revoked="revoked" in visit.request.query_params,
    )


@page(router, "GET", "/caseworker/people/{person_id}/cards")
def person_cards(visit: Visit, person_id: str) -> Response:
    """The person's cards, newest first, with the forms to issue, revoke and print."""
    visit.require_purpose(ISSUE)
    return _caseworker_page(visit, person_id[:ID_LENGTH], FormErrors())


@page(router, "POST", "/caseworker/people/{person_id}/cards")
def issue_card(visit: Visit, person_id: str) -> Response:
    """Issue a new card once the caseworker confirms; the earlier card is revoked as replaced."""
    visit.require_purpose(ISSUE)
    person_id = person_id[:ID_LENGTH]
    if not visit.checked("confirm"):
        errors = FormErrors()
        errors.add(
            "confirm",
            visit._("Confirm that the person asked for a new card; nothing was issued"),
        )
        return _caseworker_page(visit, person_id, errors, 422)
    visit.services.cards.issue(visit.actor, person_id)
    return redirect(f"/caseworker/people/{person_id}/cards?issued=1")


@page(router, "POST", "/caseworker/people/{person_id}/cards/revoke")
def revoke_card(visit: Visit, person_id: str) -> Response:
    """Revoke one of the person's cards, with the reason; it is refused at once online."""
    visit.require_purpose(REVOKE)
    person_id = person_id[:ID_LENGTH]
    card_id = visit.field("card_id", 40)
    owned = {card.card_id for card in visit.services.cards.cards_of(visit.actor, person_id)}
    if card_id not in owned:
        raise UnknownCard(card_id)
    reason = visit.field("reason", REASON_LENGTH)
    if not reason.strip():
        errors = FormErrors()
        errors.add("reason", visit._("Say why the card is revoked; it still works"))
        return _caseworker_page(visit, person_id, errors, 422)
    visit.services.cards.revoke(visit.actor, card_id, reason)
    return redirect(f"/caseworker/people/{person_id}/cards?revoked=1")


@page(router, "GET", "/caseworker/people/{person_id}/cards/current.pdf")
def print_person_card(visit: Visit, person_id: str) -> Response:
    """The person's current card as a PDF the size of the card, for the card printer."""
    visit.require_purpose(ISSUE)
    card = visit.services.cards.current_card(visit.actor, person_id[:ID_LENGTH])
    return _pdf(visit, card)


# ---- citizen -------------------------------------------------------------------------------


def _own_id(visit: Visit) -> str:
    if visit.user is None or not visit.user.person_id:
        raise InvalidInput("this account is not linked to a person record")
    return visit.user.person_id


def _my_card_page(visit: Visit, errors: FormErrors, status: int = 200) -> Response:
    now = utc_now()
    cards = visit.services.cards.cards_of(visit.actor, _own_id(visit))
    current = _current(cards, now)
    symbol = qr.encode(current.qr_text) if current is not None else None
    reason = _reason_field(
        visit, errors, visit._("For example: lost at the market, or stolen with my bag.")
    )
    return render(
        visit,
        "cards/mine.html",
        status,
        current=None if current is None else _rows([current], now)[0],
        qr_side=None if symbol is None else symbol.size + 8,
        qr_path="" if symbol is None else qr.svg_path(symbol),
        cards=_rows(cards, now),
        errors=errors,
        fields=[reason],
        reason=reason,
        revoked="revoked" in visit.request.query_params,
    )


@page(router, "GET", "/me/card")
def my_card(visit: Visit) -> Response:
    """My current card's QR code, large, to show a merchant; and my earlier cards."""
    return _my_card_page(visit, FormErrors())


@page(router, "POST", "/me/card/revoke")
def revoke_my_card(visit: Visit) -> Response:
    """Report my current card lost or stolen: it stops working at once."""
    now = utc_now()
    current = _current(visit.services.cards.cards_of(visit.actor, _own_id(visit)), now)
    if current is None:
        raise UnknownCard("for your record")
    reason = visit.field("reason", REASON_LENGTH)
    if not reason.strip():
        errors = FormErrors()
        errors.add("reason", visit._("Say what happened to the card; it still works"))
        return _my_card_page(visit, errors, 422)
    visit.services.cards.revoke(visit.actor, current.card_id, reason)
    return redirect("/me/card?revoked=1")


@page(router, "GET", "/me/card/current.pdf")
def print_my_card(visit: Visit) -> Response:
    """My current card as a PDF, to print at home."""
    return _pdf(visit, visit.services.cards.current_card(visit.actor, _own_id(visit)))
