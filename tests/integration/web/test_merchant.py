"""The merchant's point of sale and the citizen's entitlements page: a typed verification id
redeems and shows a receipt, a double submit replays, too much keeps the input and shows what
is available, a citizen sees their entitlements, and other roles are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fairshare.bootstrap import Services
from fairshare.credentials.services import verify_in_person
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.cycles import Cycles
from tests.conftest import actor
from tests.integration.eligibility.conftest import population  # noqa: F401 (fixture)
from tests.integration.ledger.conftest import (  # noqa: F401 (fixtures)
    IN_PERIOD,
    PERIOD,
    World,
    cycles,
    disburser,
    ledger,
    world,
)
from tests.integration.web.conftest import (
    Registered,
    UserFactory,
    csrf_token,
    log_in,
    new_client,
)

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def paid(world: World, cycles: Cycles, disburser: Actor) -> World:  # noqa: F811
    """June's pension paid: p1 and p4 hold 130.00 each, with no end date."""
    cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    return world


@pytest.fixture
def till(web: TestClient, make_user: UserFactory) -> str:
    """The web client logged in as the shop's till user; returns the CSRF token."""
    make_user(Role.MERCHANT, "shop-till")
    return log_in(web, "shop-till")


def verification_id(services: Services, person_id: str) -> str:
    checker = actor(Role.CASEWORKER, Purpose.IDENTITY_VERIFICATION, username="checker")
    return verify_in_person(
        services.uow(), checker, person_id, "national_id_document", "seen the ID card"
    ).id


def sale(web: TestClient, token: str, **values: str) -> dict[str, Any]:
    form = web.get("/merchant")
    assert form.status_code == 200, form.text
    match = KEY.search(form.text)
    assert match, "the form has no idempotency key"
    return {
        "csrf_token": token,
        "idempotency_key": match.group(1),
        "method": "caseworker",
        "programme": "old_age_pension",
        "asset": "local_currency",
        **values,
    }


def redemptions(services: Services) -> list[int]:
    auditor = actor(Role.AUDITOR, Purpose.AUDIT)
    return [t.amount for t in services.ledger.transfers(auditor, kind="redemption")]


def test_a_merchant_redeems_by_typed_verification_id_and_gets_a_receipt(
    services: Services, web: TestClient, paid: World, till: str
) -> None:
    p1 = paid.population.people["p1"]
    form = sale(web, till, reference=verification_id(services, p1), beneficiary=p1, amount="50.00")
    receipt = web.post("/merchant", data=form)
    assert receipt.status_code == 200, receipt.text
    assert "Receipt" in receipt.text
    assert "50.00 local currency" in receipt.text
    assert "80.00 local currency" in receipt.text  # still available
    [transfer_id] = re.findall(r"<code>([^<]+)</code>", receipt.text)
    assert "@media print" in web.get("/static/fairshare.css").text

    again = web.post("/merchant", data=form)  # a double submit, or a reload of the receipt
    assert again.status_code == 200, again.text
    assert "already made" in again.text
    assert transfer_id in again.text
    assert redemptions(services) == [5000]


def test_too_much_keeps_the_input_and_shows_what_is_available(
    services: Services, web: TestClient, paid: World, till: str
) -> None:
    p4 = paid.population.people["p4"]
    reference = verification_id(services, p4)
    form = sale(web, till, reference=reference, beneficiary=p4, amount="130.01")
    answer = web.post("/merchant", data=form)
    assert answer.status_code == 409, answer.text
    assert "Available: 130.00 local currency" in answer.text
    assert 'id="f-amount-error"' in answer.text
    assert 'value="130.01"' in answer.text
    assert f'value="{p4}"' in answer.text
    assert reference in answer.text
    assert redemptions(services) == []


def test_bad_input_is_shown_next_to_each_field(
    services: Services, web: TestClient, paid: World, till: str
) -> None:
    form = sale(web, till, reference="", beneficiary="", amount="lots", method="")
    answer = web.post("/merchant", data=form)
    assert answer.status_code == 422, answer.text
    for name in ("method", "reference", "beneficiary", "amount"):
        assert f'id="f-{name}-error"' in answer.text
    p1 = paid.population.people["p1"]
    unknown = sale(web, till, reference="no-such-check", beneficiary=p1, amount="1.00")
    answer = web.post("/merchant", data=unknown)
    assert answer.status_code == 422, answer.text
    assert 'id="f-reference-error"' in answer.text
    assert redemptions(services) == []


def test_a_citizen_sees_their_entitlements(
    services: Services, web: TestClient, paid: World, make_user: UserFactory
) -> None:
    make_user(Role.CITIZEN, "pablo.uno", person_id=paid.population.people["p1"])
    log_in(web, "pablo.uno")
    answer = web.get("/me/entitlements")
    assert answer.status_code == 200, answer.text
    assert "old_age_pension" in answer.text
    assert "130.00 local currency" in answer.text
    assert 'href="/me/entitlements"' in answer.text  # in the menu


@pytest.mark.parametrize(
    ("role", "purpose"),
    [
        (Role.CASEWORKER, Purpose.CASE_MANAGEMENT),
        (Role.AUDITOR, None),
        (Role.CITIZEN, None),
        (Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN),
    ],
)
def test_other_roles_are_refused_the_point_of_sale(
    services: Services,
    make_user: UserFactory,
    registered: Registered,
    role: Role,
    purpose: Purpose | None,
) -> None:
    make_user(role, "other.user", person_id=registered.person_id if role is Role.CITIZEN else None)
    with new_client(services) as client:
        token = log_in(client, "other.user", purpose)
        assert client.get("/merchant").status_code == 403
        refused = client.post("/merchant", data={"csrf_token": token, "amount": "1"})
        assert refused.status_code == 403
        assert 'href="/merchant"' not in client.get("/").text


def test_a_merchant_cannot_open_the_entitlements_page(
    web: TestClient, make_user: UserFactory
) -> None:
    make_user(Role.MERCHANT, "shop-till")
    log_in(web, "shop-till")
    assert web.get("/me/entitlements").status_code == 403
    assert csrf_token(web.get("/merchant").text)
