"""Card credentials over HTTP: issue and list a person's cards, print one, revoke, verify,
and the signed trust and revocation lists that offline verifiers download."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from fairshare.api.deps import CurrentActor, ServicesDep
from fairshare.api.schemas import REASON_PATTERN, Strict
from fairshare.credentials.card import CardCheck, format_card_id
from fairshare.credentials.render import PrintedCard, card_svg
from fairshare.credentials.services import IssuedCard, from_epoch

router = APIRouter(prefix="/api/v1", tags=["cards"])


class CardPublic(BaseModel):
    card_id: str
    printed_id: str = Field(description="The card id as printed, in groups of four")
    person_id: str
    name: str
    birth_year: int
    key_id: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    qr_text: str = Field(description="The QR code's text (MOSIP Claim 169: Base45, zlib, COSE)")


class CardRevoke(Strict):
    reason: str = Field(max_length=500, pattern=REASON_PATTERN)


class CardVerify(Strict):
    qr_text: str = Field(min_length=1, max_length=4000)


class CardCheckPublic(BaseModel):
    status: str = Field(
        description="valid, expired, revoked, unknown_issuer, bad_signature or malformed"
    )
    reason: str
    message: str
    card_id: str | None = None
    name: str | None = None
    birth_year: int | None = None
    key_id: str | None = None
    expires_at: int | None = None


def _card(card: IssuedCard) -> CardPublic:
    claims = card.claims
    return CardPublic(
        card_id=claims.card_id,
        printed_id=format_card_id(claims.card_id),
        person_id=card.person_id,
        name=claims.name,
        birth_year=claims.birth_year,
        key_id=claims.key_id,
        issued_at=from_epoch(claims.issued_at),
        expires_at=from_epoch(claims.expires_at),
        revoked_at=card.revoked_at,
        revoke_reason=card.revoke_reason,
        qr_text=card.qr_text,
    )


def _check(check: CardCheck) -> CardCheckPublic:
    return CardCheckPublic(**check.as_dict())  # type: ignore[arg-type]


@router.post(
    "/people/{person_id}/cards", response_model=CardPublic, status_code=status.HTTP_201_CREATED
)
def issue_card(services: ServicesDep, actor: CurrentActor, person_id: str) -> CardPublic:
    """Issue a new card to the person (caseworker); their earlier cards are revoked as
    replaced. Holding a card is never a condition of receiving an entitlement."""
    return _card(services.cards.issue(actor, person_id[:36]))


@router.get("/people/{person_id}/cards", response_model=list[CardPublic])
def list_cards(services: ServicesDep, actor: CurrentActor, person_id: str) -> list[CardPublic]:
    """The person's cards, newest first (caseworkers, and the person themselves)."""
    return [_card(card) for card in services.cards.cards_of(actor, person_id[:36])]


@router.get(
    "/people/{person_id}/cards/current.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def print_card(services: ServicesDep, actor: CurrentActor, person_id: str) -> Response:
    """The person's current card as a printable SVG."""
    card = services.cards.current_card(actor, person_id[:36])
    printed = PrintedCard(card.claims, card.qr_text, services.settings.card_office)
    return Response(card_svg(printed), media_type="image/svg+xml")


@router.post("/cards/{card_id}/revocation", status_code=status.HTTP_204_NO_CONTENT)
def revoke_card(
    services: ServicesDep, actor: CurrentActor, card_id: str, body: CardRevoke
) -> Response:
    """Revoke a lost or stolen card (a caseworker, or the holder themselves)."""
    services.cards.revoke(actor, card_id, body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/cards/verify", response_model=CardCheckPublic)
def verify_card(services: ServicesDep, actor: CurrentActor, body: CardVerify) -> CardCheckPublic:
    """Check a scanned card online against the current keys and revocations. A card that is
    not valid is an answer (200 with its status and reason), not an error."""
    return _check(services.cards.check(actor, body.qr_text))


@router.get(
    "/cards/trust-list",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def trust_list(services: ServicesDep) -> Response:
    """The signed list of issuer public keys (public: keys only, nobody's data)."""
    return Response(services.cards.trust_list(), media_type="application/json")


@router.get(
    "/cards/revocation-list",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def revocation_list(services: ServicesDep, actor: CurrentActor) -> Response:
    """The signed list of revoked card ids, for merchant devices that verify offline."""
    return Response(services.cards.revocation_list(actor), media_type="application/json")


# ---- offline redemption (merchant devices) --------------------------------------------------


class DeviceCreate(Strict):
    public_key: str = Field(
        min_length=1, max_length=100, description="The device's Ed25519 public key, Base64"
    )


class DevicePublic(BaseModel):
    device_id: str


class ReceiptsSync(Strict):
    receipts: list[dict[str, Any]] = Field(
        max_length=5000,
        description="Signed receipts: {receipt: {receipt_id, device_id, card_id, programme, "
        "asset, amount, recorded_at}, signature}",
    )


class SyncedReceiptPublic(BaseModel):
    receipt_id: str
    outcome: str = Field(
        description="posted, over_allowance, no_allowance, bad_signature, card_revoked, "
        "double_spend or refused"
    )
    reason: str
    loss: int
    replayed: bool


class SyncPublic(BaseModel):
    receipts: list[SyncedReceiptPublic]
    loss: int = Field(description="Minor units handed out offline that no entitlement covered")
    loss_bound: int = Field(description="The most the device's allowances allowed")


@router.post("/offline/devices", response_model=DevicePublic, status_code=status.HTTP_201_CREATED)
def register_device(services: ServicesDep, actor: CurrentActor, body: DeviceCreate) -> DevicePublic:
    """Register a merchant device that will redeem offline (its till user's merchant)."""
    return DevicePublic(device_id=services.offline.register_device(actor, body.public_key))


@router.get(
    "/offline/devices/{device_id}/allowances",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def allowance_list(services: ServicesDep, actor: CurrentActor, device_id: str) -> Response:
    """The signed allowance list for the device to take offline."""
    return Response(
        services.offline.allowance_list(actor, device_id), media_type="application/json"
    )


@router.post("/offline/devices/{device_id}/receipts", response_model=SyncPublic)
def sync_receipts(
    services: ServicesDep, actor: CurrentActor, device_id: str, body: ReceiptsSync
) -> SyncPublic:
    """Sync the device's offline receipts; safe to repeat (each receipt is posted once)."""
    result = services.offline.sync(actor, device_id, body.receipts)
    return SyncPublic(
        receipts=[SyncedReceiptPublic(**vars(r)) for r in result.receipts],
        loss=result.loss,
        loss_bound=result.loss_bound,
    )
