"""Cards over HTTP: issue, list, print, verify, revoke, and the signed lists."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from fairshare.credentials.card import Verifier
from fairshare.credentials.lists import b64, raw_public, read_revocation_list, read_trust_list
from fairshare.credentials.offline import Receipt, read_allowance_list, sign_receipt
from fairshare.identity.model import Role
from tests.integration.api.conftest import (  # noqa: F401 - fixtures used by name
    Headers,
    UserFactory,
    _cheap_password_hashing,
    client,
    user,
)
from tests.integration.ledger.conftest import PERIOD, World

pytestmark = pytest.mark.postgres


def test_issue_verify_redeem_revoke_over_http(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    world: World,
) -> None:
    """A caseworker issues a card; a merchant verifies it and redeems with it; after the
    holder reports it lost it is refused online and listed for offline verifiers."""
    desk = user(Role.CASEWORKER, "cora.cards", purpose="case_management")
    till = user(Role.MERCHANT, "shop-till")
    officer = user(Role.PROGRAMME_OFFICER, "olga.treasurer", purpose="disbursement")
    p1 = world.population.people["p1"]
    issued = client.post(f"/api/v1/people/{p1}/cards", headers=desk)
    assert issued.status_code == 201, issued.text
    card = issued.json()
    assert set(card) >= {"card_id", "qr_text", "key_id", "expires_at"}
    assert "programme" not in issued.text
    listed = client.get(f"/api/v1/people/{p1}/cards", headers=desk)
    assert [c["card_id"] for c in listed.json()] == [card["card_id"]]
    svg = client.get(f"/api/v1/people/{p1}/cards/current.svg", headers=desk)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert card["printed_id"] in svg.text

    checked = client.post("/api/v1/cards/verify", json={"qr_text": card["qr_text"]}, headers=till)
    assert checked.json()["status"] == "valid", checked.text
    garbage = client.post("/api/v1/cards/verify", json={"qr_text": "HC1:XYZ"}, headers=till)
    assert (garbage.json()["status"], garbage.json()["reason"]) == ("malformed", "prefix")

    ran = client.post(
        "/api/v1/programmes/old_age_pension/cycles", json={"period": PERIOD}, headers=officer
    )
    assert ran.status_code == 200, ran.text
    redeemed = client.post(
        "/api/v1/ledger/redemptions",
        json={
            "beneficiary_id": p1,
            "programme": "old_age_pension",
            "asset": "local_currency",
            "amount": 500,
            "authorisation": {"method": "card", "reference": card["qr_text"]},
        },
        headers={**till, "Idempotency-Key": "card-api-0001"},
    )
    assert redeemed.status_code == 201, redeemed.text

    holder = user(Role.CITIZEN, "pia.holder", person_id=p1)
    revoked = client.post(
        f"/api/v1/cards/{card['printed_id']}/revocation", json={"reason": "lost"}, headers=holder
    )
    assert revoked.status_code == 204, revoked.text
    again = client.post("/api/v1/cards/verify", json={"qr_text": card["qr_text"]}, headers=till)
    assert again.json()["status"] == "revoked"
    refused = client.post(
        "/api/v1/ledger/redemptions",
        json={
            "beneficiary_id": p1,
            "programme": "old_age_pension",
            "asset": "local_currency",
            "amount": 500,
            "authorisation": {"method": "card", "reference": card["qr_text"]},
        },
        headers={**till, "Idempotency-Key": "card-api-0002"},
    )
    assert refused.status_code == 403, refused.text

    trust = client.get("/api/v1/cards/trust-list")
    assert trust.status_code == 200
    anchor = read_trust_list(trust.text).anchor
    listed_revoked = client.get("/api/v1/cards/revocation-list", headers=till)
    revocations = read_revocation_list(listed_revoked.text, anchor)
    assert card["card_id"] in revocations.revoked
    offline = Verifier(read_trust_list(trust.text, anchor).keys, revocations.revoked)
    assert offline.verify(card["qr_text"], 1_800_000_000).status.value == "revoked"
    assert client.post(f"/api/v1/people/{p1}/cards", headers=till).status_code == 403


def test_a_device_takes_an_allowance_offline_and_syncs_its_receipts(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    world: World,
) -> None:
    """Register a device, download its signed allowance list, sync a signed receipt (twice:
    the second answer is a replay and nothing moves again)."""
    desk = user(Role.CASEWORKER, "cora.cards", purpose="case_management")
    till = user(Role.MERCHANT, "shop-till")
    officer = user(Role.PROGRAMME_OFFICER, "olga.treasurer", purpose="disbursement")
    p1 = world.population.people["p1"]
    card = client.post(f"/api/v1/people/{p1}/cards", headers=desk).json()
    ran = client.post(
        "/api/v1/programmes/old_age_pension/cycles", json={"period": PERIOD}, headers=officer
    )
    assert ran.status_code == 200, ran.text
    key = Ed25519PrivateKey.generate()
    registered = client.post(
        "/api/v1/offline/devices",
        json={"public_key": b64(raw_public(key.public_key()))},
        headers=till,
    )
    assert registered.status_code == 201, registered.text
    device = registered.json()["device_id"]
    listed = client.get(f"/api/v1/offline/devices/{device}/allowances", headers=till)
    assert listed.status_code == 200, listed.text
    anchor = read_trust_list(client.get("/api/v1/cards/trust-list").text).anchor
    allowances = read_allowance_list(listed.text, anchor)
    [allowance] = [a for a in allowances.allowances if a.card_id == card["card_id"]]
    receipt = Receipt(
        "api-receipt-1",
        device,
        card["card_id"],
        allowance.programme,
        allowance.asset,
        100,
        int(time.time()),
    )
    body = {"receipts": [sign_receipt(receipt, key).as_dict()]}
    synced = client.post(f"/api/v1/offline/devices/{device}/receipts", json=body, headers=till)
    assert synced.status_code == 200, synced.text
    assert [r["outcome"] for r in synced.json()["receipts"]] == ["posted"]
    again = client.post(f"/api/v1/offline/devices/{device}/receipts", json=body, headers=till)
    assert again.json()["receipts"][0]["replayed"] is True
    assert (
        client.post("/api/v1/offline/devices", json={"public_key": "x"}, headers=desk).status_code
        == 403
    )
