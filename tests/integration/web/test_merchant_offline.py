"""The offline till's server side: the page carries its translated texts, the service worker
may control the page, and the till's three calls (register a device, fetch an allowance list,
sync receipts) work with the session and CSRF token, answering problem details when not."""

from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from fairshare.audit.model import utc_now
from fairshare.bootstrap import Services
from fairshare.credentials.lists import b64, raw_public, read_revocation_list
from fairshare.credentials.offline import Receipt, offline_maximum, sign_receipt
from fairshare.credentials.services import epoch
from fairshare.identity.model import Purpose, Role
from tests.conftest import actor
from tests.integration.eligibility.conftest import population  # noqa: F401 (fixture)
from tests.integration.ledger.conftest import (  # noqa: F401 (fixtures)
    World,
    cycles,
    disburser,
    ledger,
    world,
)
from tests.integration.web.conftest import Registered, UserFactory, log_in
from tests.integration.web.test_merchant import paid, redemptions, till  # noqa: F401 (fixtures)

ISSUER = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="card-desk")
PENSION = 13_000
DATA = re.compile(r"data-messages='([^']+)'")


def _register(web: TestClient, token: str) -> tuple[str, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    answer = web.post(
        "/merchant/offline/devices",
        data={"csrf_token": token, "public_key": b64(raw_public(key.public_key()))},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["device_id"], key


def _receipt(device: str, card: str, amount: int, key: Ed25519PrivateKey, n: int) -> object:
    receipt = Receipt(
        f"web-{n}", device, card, "old_age_pension", "local_currency", amount, epoch(utc_now())
    )
    return sign_receipt(receipt, key).as_dict()


def test_the_page_carries_its_translated_texts_and_the_worker_may_control_it(
    web: TestClient,
    till: str,  # noqa: F811
) -> None:
    """The shell renders the script's texts into a data attribute, in the visitor's language;
    the service worker is JavaScript allowed to control /merchant/offline."""
    page = web.get("/merchant/offline")
    assert page.status_code == 200, page.text
    match = DATA.search(page.text)
    assert match, "the page has no data-messages attribute"
    messages = json.loads(match.group(1).replace("&#39;", "'"))
    assert messages["online"] == "Online"
    assert 'src="/static/merchant-offline.js?v=' in page.text
    assert "<script>" not in page.text and "style=" not in page.text
    web.post("/language", data={"language": "es", "csrf_token": till})
    spanish = json.loads(DATA.search(web.get("/merchant/offline").text).group(1))  # type: ignore[union-attr]
    assert spanish["online"] == "En línea"
    assert spanish["outcome_over_allowance"] == "por encima del límite sin conexión"

    worker = web.get("/merchant/offline/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/merchant/offline"
    assert 'addEventListener("fetch"' in worker.text


def test_other_roles_and_forged_requests_are_refused(
    services: Services, web: TestClient, make_user: UserFactory
) -> None:
    """A caseworker may not open the till; a call without the session's CSRF token changes
    nothing."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    assert web.get("/merchant/offline").status_code == 403
    refused = web.post("/merchant/offline/devices", data={"csrf_token": token, "public_key": "x"})
    assert refused.status_code == 403
    web.post("/logout", data={"csrf_token": token})
    make_user(Role.MERCHANT, "shop-till")
    log_in(web, "shop-till")
    key = b64(raw_public(Ed25519PrivateKey.generate().public_key()))
    forged = web.post("/merchant/offline/devices", data={"csrf_token": "forged", "public_key": key})
    assert forged.status_code == 403
    assert "could not be accepted" in forged.text


def test_a_till_registers_fetches_its_allowances_and_syncs_through_the_ledger(
    services: Services,
    web: TestClient,
    paid: World,  # noqa: F811
    till: str,  # noqa: F811
) -> None:
    """Register with the session, get the signed list (a fifth of the pension for the card),
    sync: within the allowance is posted once, over it refused; a repeated sync replays."""
    p1 = paid.population.people["p1"]
    card = services.cards.issue(ISSUER, p1)
    device, key = _register(web, till)
    listed = web.post(f"/merchant/offline/devices/{device}/allowances", data={"csrf_token": till})
    assert listed.status_code == 200, listed.text
    document = listed.json()
    assert document["device_id"] == device and document["signature"]
    assert document["anchor"] == b64(services.cards.anchor)
    mine = [a for a in document["allowances"] if a["card_id"] == card.card_id]
    limit = offline_maximum(PENSION)
    assert [(a["programme"], a["maximum"]) for a in mine] == [("old_age_pension", limit)]

    receipts = [
        _receipt(device, card.card_id, 1000, key, 1),
        _receipt(device, card.card_id, limit, key, 2),
    ]
    form = {"csrf_token": till, "receipts": json.dumps(receipts)}
    synced = web.post(f"/merchant/offline/devices/{device}/receipts", data=form)
    assert synced.status_code == 200, synced.text
    answer = synced.json()
    assert [r["outcome"] for r in answer["receipts"]] == ["posted", "over_allowance"]
    assert answer["loss"] == 0 and answer["loss_bound"] >= limit
    again = web.post(f"/merchant/offline/devices/{device}/receipts", data=form).json()
    assert [r["replayed"] for r in again["receipts"]] == [True, True]
    assert redemptions(services) == [1000]


def test_the_till_gets_the_signed_list_of_revoked_cards(
    services: Services,
    web: TestClient,
    till: str,  # noqa: F811
    registered: Registered,
) -> None:
    """A revoked card is in the list the till loads with the session, signed by the root."""
    card = services.cards.issue(ISSUER, registered.person_id)
    services.cards.revoke(ISSUER, card.card_id, "reported stolen")
    answer = web.get("/merchant/offline/revocations")
    assert answer.status_code == 200, answer.text
    listed = read_revocation_list(answer.text, services.cards.anchor)
    assert card.card_id in listed.revoked


@pytest.mark.usefixtures("paid")
def test_bad_input_gets_problem_details_and_changes_nothing(
    services: Services,
    web: TestClient,
    till: str,  # noqa: F811
) -> None:
    """A key that is not Ed25519, receipts that are not a JSON array, and an unknown device
    each get a problem document saying what was wrong; nothing is posted."""
    bad_key = web.post("/merchant/offline/devices", data={"csrf_token": till, "public_key": "no"})
    assert bad_key.status_code == 422
    assert bad_key.headers["content-type"] == "application/problem+json"
    assert "Ed25519" in bad_key.json()["detail"]
    assert bad_key.json()["type"] == "/problems/invalid-input"

    device, _ = _register(web, till)
    for text in ("not json", '{"receipt": 1}', "[1, 2]"):
        answer = web.post(
            f"/merchant/offline/devices/{device}/receipts",
            data={"csrf_token": till, "receipts": text},
        )
        assert answer.status_code == 422, text
        assert "JSON array of signed receipts" in answer.json()["detail"]
    half = web.post(
        f"/merchant/offline/devices/{device}/receipts",
        data={"csrf_token": till, "receipts": json.dumps([{"receipt": {}, "signature": "x"}])},
    )
    assert half.status_code == 422 and "receipt 0" in half.json()["detail"]
    unknown = web.post("/merchant/offline/devices/nope/allowances", data={"csrf_token": till})
    assert unknown.status_code == 404
    assert "register it" in unknown.json()["detail"]
    assert redemptions(services) == []
