"""Offline redemption: allowance lists, signed receipts, sync with double-spend detection."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fairshare.audit.model import utc_now
from fairshare.bootstrap import Services
from fairshare.credentials.lists import b64, raw_public
from fairshare.credentials.offline import (
    Receipt,
    offline_maximum,
    read_allowance_list,
    sign_receipt,
)
from fairshare.credentials.services import epoch
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.services import Ledger
from tests.conftest import actor
from tests.integration.ledger.conftest import IN_PERIOD, PERIOD, World, checked_in

pytestmark = pytest.mark.postgres

ISSUER = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="card-desk")
SHOP = actor(Role.MERCHANT, Purpose.REDEMPTION, username="shop-till")
OTHER_SHOP = actor(Role.MERCHANT, Purpose.REDEMPTION, username="corner-till")
PENSION = 13_000  # what the June pension cycle pays p1 and p4


@pytest.fixture
def paid(world: World, cycles: Cycles, disburser: Actor, ledger: Ledger) -> World:
    cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    ledger.register_merchant(
        actor(Role.ADMINISTRATOR, Purpose.ADMINISTRATION),
        code="tienda-2",
        name="Tienda de la Esquina",
        category="shop",
        region="Costa",
        iban="ES9121000418450200051332",
        bic="CAIXESBBXXX",
        usernames=["corner-till"],
    )
    return world


_ids: Iterator[int] = count(1)


def _receipt(device: str, card: str, amount: int, key: Ed25519PrivateKey) -> dict[str, object]:
    receipt = Receipt(
        f"r-{next(_ids):06d}",
        device,
        card,
        "old_age_pension",
        "local_currency",
        amount,
        epoch(utc_now()),
    )
    return sign_receipt(receipt, key).as_dict()


def _device(services: Services, till: Actor) -> tuple[str, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    return services.offline.register_device(till, b64(raw_public(key.public_key()))), key


def test_an_allowance_list_is_signed_and_grants_a_fifth_of_the_entitlement(
    services: Services, paid: World
) -> None:
    """Each valid card with an open entitlement the merchant accepts gets 20% of it."""
    p1 = paid.population.people["p1"]
    card = services.cards.issue(ISSUER, p1)
    device, _ = _device(services, SHOP)
    text = services.offline.allowance_list(SHOP, device, today=IN_PERIOD)
    allowances = read_allowance_list(text, services.cards.anchor)
    mine = [a for a in allowances.allowances if a.card_id == card.card_id]
    assert [(a.programme, a.asset, a.maximum) for a in mine] == [
        ("old_age_pension", "local_currency", offline_maximum(PENSION))
    ]
    with pytest.raises(PurposeNotAllowed):
        services.offline.allowance_list(OTHER_SHOP, device, today=IN_PERIOD)
    with pytest.raises(InvalidInput):
        services.offline.register_device(SHOP, "not a key")


def test_sync_posts_good_receipts_and_refuses_the_rest_idempotently(
    services: Services, paid: World, ledger: Ledger
) -> None:
    """Receipts within the allowance are posted once; over the allowance, badly signed or
    without an allowance they are refused; a repeated sync changes nothing."""
    p1, p4 = paid.population.people["p1"], paid.population.people["p4"]
    card = services.cards.issue(ISSUER, p1)
    services.cards.issue(ISSUER, p4)
    device, key = _device(services, SHOP)
    services.offline.allowance_list(SHOP, device, today=IN_PERIOD)
    limit = offline_maximum(PENSION)
    forger = Ed25519PrivateKey.generate()
    receipts = [
        _receipt(device, card.card_id, 1000, key),
        _receipt(device, card.card_id, limit, key),  # 1000 + limit: over the allowance
        _receipt(device, card.card_id, 500, forger),
        _receipt(device, "NOSUCHCARD000000", 100, key),
        _receipt(device, card.card_id, limit - 1000, key),  # exactly fills the allowance
    ]
    result = services.offline.sync(SHOP, device, receipts)
    outcomes = [r.outcome for r in result.receipts]
    assert outcomes == ["posted", "over_allowance", "bad_signature", "no_allowance", "posted"]
    assert result.loss == 0
    again = services.offline.sync(SHOP, device, receipts)
    assert [r.outcome for r in again.receipts] == outcomes
    assert all(r.replayed for r in again.receipts)
    balances = ledger.entitlements(actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), [p1])
    [pension] = [b for b in balances if b.programme == "old_age_pension"]
    assert pension.available == PENSION - limit


def test_the_same_entitlement_spent_at_two_merchants_is_found_and_the_loss_bounded(
    services: Services, paid: World, ledger: Ledger
) -> None:
    """Two shops each within their allowance, after the beneficiary spent most of it
    online: the second receipt is reported as a double spend, its amount as the loss, and
    the loss stays within the allowances."""
    p1 = paid.population.people["p1"]
    card = services.cards.issue(ISSUER, p1)
    first, first_key = _device(services, SHOP)
    second, second_key = _device(services, OTHER_SHOP)
    services.offline.allowance_list(SHOP, first, today=IN_PERIOD)
    services.offline.allowance_list(OTHER_SHOP, second, today=IN_PERIOD)
    ledger.redeem(
        SHOP,
        key="online-0001",
        beneficiary_id=p1,
        programme="old_age_pension",
        asset="local_currency",
        amount=PENSION - 1000,
        authorisation=checked_in(services, p1),
        today=IN_PERIOD,
    )
    one = services.offline.sync(SHOP, first, [_receipt(first, card.card_id, 900, first_key)])
    two = services.offline.sync(
        OTHER_SHOP, second, [_receipt(second, card.card_id, 900, second_key)]
    )
    assert [r.outcome for r in one.receipts] == ["posted"]
    assert [r.outcome for r in two.receipts] == ["double_spend"]
    assert two.loss == 900 <= two.loss_bound
    assert ledger.trial_balance(actor(Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT)).balanced


def test_a_receipt_recorded_after_the_card_was_revoked_is_not_paid(
    services: Services, paid: World
) -> None:
    """The device should have had the revocation; what it handed out is reported as loss."""
    p1 = paid.population.people["p1"]
    card = services.cards.issue(ISSUER, p1)
    device, key = _device(services, SHOP)
    services.offline.allowance_list(SHOP, device, today=IN_PERIOD)
    services.cards.revoke(ISSUER, card.card_id, "stolen")
    result = services.offline.sync(SHOP, device, [_receipt(device, card.card_id, 700, key)])
    assert [(r.outcome, r.loss) for r in result.receipts] == [("card_revoked", 700)]
