"""Card pages and checking a proof at the point of sale: a merchant checks a typed card code,
sees only what may be redeemed at this shop and redeems it; bad, revoked and foreign proofs
are refused saying why; a caseworker issues (after confirming), prints and revokes a card; a
citizen sees their card's QR code and reports it lost."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from fairshare.audit import services as audit_services
from fairshare.bootstrap import Services
from fairshare.credentials.services import IssuedCard
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.cycles import Cycles
from tests.conftest import actor
from tests.integration.eligibility.conftest import (  # noqa: F401 (fixture)
    REFERENCE,
    pension,
    population,
)
from tests.integration.ledger.conftest import (  # noqa: F401 (fixtures)
    IN_PERIOD,
    PERIOD,
    World,
    cycles,
    disburser,
    ledger,
    world,
)
from tests.integration.web.conftest import UserFactory, csrf_token, log_in, new_client
from tests.integration.web.test_merchant import redemptions, sale, verification_id

ISSUER = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="card-desk")


@pytest.fixture
def paid(
    services: Services,
    world: World,  # noqa: F811
    cycles: Cycles,  # noqa: F811
    disburser: Actor,  # noqa: F811
) -> World:
    """June's pension (p1: 130.00, no end date), a household cash grant (h1: 40.00, no end
    date) and June's food basket (h1, ended with June) paid."""
    designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")
    grant = pension(
        code="household_grant",
        name="Household grant",
        target="household",
        amount=4000,
        rule="income_per_person < 120",
    )
    services.eligibility.create_programme(designer, grant)
    services.eligibility.publish(designer, "household_grant")
    services.eligibility.run(designer, "household_grant", REFERENCE)
    services.ledger.fund(disburser, "household_grant", 100_000, "budget-grant", "appropriation")
    for code in ("old_age_pension", "household_grant", "food_basket"):
        cycles.run(disburser, code, PERIOD, today=IN_PERIOD)
    return world


@pytest.fixture
def till(web: TestClient, make_user: UserFactory) -> str:
    make_user(Role.MERCHANT, "shop-till")
    return log_in(web, "shop-till")


def issue(services: Services, person_id: str) -> IssuedCard:
    return services.cards.issue(ISSUER, person_id)


def check(
    web: TestClient, token: str, reference: str, method: str = "card", **more: str
) -> Response:
    return web.post(
        "/merchant/check",
        data={"csrf_token": token, "method": method, "reference": reference, **more},
    )


def field_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="text" value="([^"]*)"', html)
    assert match, f"no text field {name}"
    return match.group(1)


def test_a_typed_card_code_shows_what_may_be_redeemed_and_fills_the_form(
    services: Services, web: TestClient, paid: World, till: str
) -> None:
    """Checking a card lists the holder's and household's open entitlements this shop hands
    out, fills the first into the form, and the filled form redeems."""
    p1, h1 = paid.population.people["p1"], paid.population.households["h1"]
    card = issue(services, p1)
    answer = check(web, till, card.qr_text)
    assert answer.status_code == 200, answer.text
    assert "What may be redeemed here" in answer.text
    assert "Ana Prueba" in answer.text and "1950" in answer.text  # printed on the card
    assert "<td>old_age_pension" in answer.text and "130.00 local currency" in answer.text
    assert "<td>household_grant" in answer.text and "40.00 local currency" in answer.text
    assert "<td>food_basket" not in answer.text  # ended with June
    assert "Calle 1" not in answer.text  # nothing of the record beyond the card
    # Lines in programme order: the household's grant first, filled in.
    assert field_value(answer.text, "beneficiary") == h1
    assert field_value(answer.text, "programme") == "household_grant"
    assert re.findall(r'name="pick" value="(\d+)"', answer.text) == ["1"]

    answer = check(web, till, card.qr_text, pick="1")
    assert field_value(answer.text, "beneficiary") == p1
    assert field_value(answer.text, "programme") == "old_age_pension"
    assert "Available: 130.00 local currency" in answer.text

    form = sale(web, till, method="card", reference=card.qr_text, beneficiary=p1, amount="30.00")
    receipt = web.post("/merchant", data=form)
    assert receipt.status_code == 200, receipt.text
    assert "100.00 local currency" in receipt.text
    assert redemptions(services) == [3000]

    uow = services.uow()
    with uow:
        lines = audit_services.access_report(uow, [p1])
    reads = [line for line in lines if line.action == "ledger:entitlement:read"]
    assert reads and reads[0].purpose == "redemption" and reads[0].actor == "shop-till"


def test_an_in_person_verification_is_checked_too(
    services: Services, web: TestClient, paid: World, till: str
) -> None:
    """The card-less path lists the same entitlements; an unknown id is refused next to the
    field."""
    p1 = paid.population.people["p1"]
    answer = check(web, till, verification_id(services, p1), method="caseworker")
    assert answer.status_code == 200, answer.text
    assert "130.00 local currency" in answer.text
    unknown = check(web, till, "00000000-0000-0000-0000-000000000000", method="caseworker")
    assert unknown.status_code == 422
    assert "No in-person verification has this id" in unknown.text


@pytest.mark.parametrize(
    ("reference", "status", "message"),
    [
        ("", 422, "Type or paste the card code"),
        ("NOT A CARD", 403, "card"),
    ],
)
def test_a_bad_code_is_refused_saying_why(
    web: TestClient, paid: World, till: str, reference: str, status: int, message: str
) -> None:
    """An empty or unreadable code gets the form back with the error at the field."""
    answer = check(web, till, reference)
    assert answer.status_code == status, answer.text
    assert 'id="f-reference-error"' in answer.text
    assert message in answer.text
    assert "What may be redeemed here" not in answer.text


def test_a_revoked_card_is_refused(
    services: Services, web: TestClient, paid: World, till: str
) -> None:
    """A card reported lost shows nothing and says it was revoked."""
    p1 = paid.population.people["p1"]
    card = issue(services, p1)
    services.cards.revoke(ISSUER, card.card_id, "lost at the market")
    answer = check(web, till, card.qr_text)
    assert answer.status_code == 403, answer.text
    assert "lost or stolen" in answer.text
    assert "130.00" not in answer.text


def test_a_till_of_no_merchant_is_refused(
    services: Services, web: TestClient, paid: World, make_user: UserFactory
) -> None:
    """A merchant account not linked to a shop sees no one's entitlements."""
    make_user(Role.MERCHANT, "stray-till")
    token = log_in(web, "stray-till")
    card = issue(services, paid.population.people["p1"])
    answer = check(web, token, card.qr_text)
    assert answer.status_code == 403
    assert "130.00" not in answer.text


def test_the_point_of_sale_may_use_the_camera_and_webassembly(web: TestClient, till: str) -> None:
    """Only the merchant's pages allow the camera and compiling WebAssembly; the scanner's
    files are served from /static."""
    page = web.get("/merchant")
    assert "camera=(self)" in page.headers["permissions-policy"]
    assert "'wasm-unsafe-eval'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert 'id="scanner"' in page.text and "merchant-scan.js" in page.text
    home = web.get("/")
    assert "camera=()" in home.headers["permissions-policy"]
    assert "wasm-unsafe-eval" not in home.headers["content-security-policy"]
    wasm = re.search(r'data-zxing-wasm="([^"]+)"', page.text)
    assert wasm
    served = web.get(wasm.group(1).replace("&amp;", "&"))
    assert served.status_code == 200 and served.content[:4] == b"\0asm"
    assert served.headers["content-type"] == "application/wasm"


# ---- caseworker ----------------------------------------------------------------------------


def test_a_caseworker_issues_prints_and_revokes_a_card(
    services: Services, web: TestClient, make_user: UserFactory, paid: World
) -> None:
    """Issuing needs the confirmation; the card is listed, prints as a PDF, and revoking
    needs a reason."""
    p1 = paid.population.people["p1"]
    make_user(Role.CASEWORKER, "desk")
    token = log_in(web, "desk", Purpose.CASE_MANAGEMENT)
    path = f"/caseworker/people/{p1}/cards"
    empty = web.get(path)
    assert empty.status_code == 200
    assert "No card has been issued" in empty.text

    refused = web.post(path, data={"csrf_token": token})
    assert refused.status_code == 422
    assert 'id="f-confirm-error"' in refused.text
    assert services.cards.cards_of(ISSUER, p1) == []

    issued = web.post(path, data={"csrf_token": token, "confirm": "yes"}, follow_redirects=False)
    assert issued.status_code == 303
    listing = web.get(issued.headers["location"])
    [card] = services.cards.cards_of(ISSUER, p1)
    assert "The card was issued" in listing.text
    assert card.claims.card_id[:4] in listing.text and "In use" in listing.text

    printed = web.get(f"{path}/current.pdf")
    assert printed.status_code == 200
    assert printed.content.startswith(b"%PDF")
    assert printed.headers["content-type"] == "application/pdf"

    no_reason = web.post(
        f"{path}/revoke", data={"csrf_token": token, "card_id": card.card_id, "reason": " "}
    )
    assert no_reason.status_code == 422
    assert 'id="f-reason-error"' in no_reason.text
    assert services.cards.cards_of(ISSUER, p1)[0].revoked_at is None

    revoked = web.post(
        f"{path}/revoke",
        data={"csrf_token": token, "card_id": card.card_id, "reason": "stolen"},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    [after] = services.cards.cards_of(ISSUER, p1)
    assert after.revoked_at is not None and after.revoke_reason == "stolen"
    assert "Revoked" in web.get(path).text


def test_a_caseworker_cannot_revoke_another_persons_card_through_this_page(
    services: Services, web: TestClient, make_user: UserFactory, paid: World
) -> None:
    """The card must be one of the person's on the page; otherwise nothing is revoked."""
    p1, p4 = paid.population.people["p1"], paid.population.people["p4"]
    other = issue(services, p4)
    make_user(Role.CASEWORKER, "desk")
    token = log_in(web, "desk", Purpose.CASE_MANAGEMENT)
    answer = web.post(
        f"/caseworker/people/{p1}/cards/revoke",
        data={"csrf_token": token, "card_id": other.card_id, "reason": "typo"},
    )
    assert answer.status_code == 404
    assert services.cards.cards_of(ISSUER, p4)[0].revoked_at is None


# ---- citizen -------------------------------------------------------------------------------


def test_a_citizen_sees_their_card_and_reports_it_lost(
    services: Services, paid: World, make_user: UserFactory
) -> None:
    """Without a card the page says none is needed; with one, its QR code is on the page
    with the full-screen button; revoking needs a reason and stops the card."""
    p1 = paid.population.people["p1"]
    make_user(Role.CITIZEN, "ana", person_id=p1)
    with new_client(services) as client:
        log_in(client, "ana")
        none = client.get("/me/card")
        assert none.status_code == 200
        assert "You do not need one" in none.text

        card = issue(services, p1)
        page = client.get("/me/card")
        assert page.status_code == 200
        assert 'class="card-qr__code"' in page.text and 'stroke="#000" d="M' in page.text
        assert 'id="card-fullscreen"' in page.text and "card-fullscreen.js" in page.text
        assert card.claims.card_id[:4] in page.text
        pdf = client.get("/me/card/current.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        token = csrf_token(page.text)
        refused = client.post("/me/card/revoke", data={"csrf_token": token, "reason": ""})
        assert refused.status_code == 422
        assert services.cards.cards_of(ISSUER, p1)[0].revoked_at is None
        done = client.post(
            "/me/card/revoke",
            data={"csrf_token": token, "reason": "lost at the market"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert services.cards.cards_of(ISSUER, p1)[0].revoke_reason == "lost at the market"
        after = client.get(done.headers["location"])
        assert "Your card was revoked" in after.text
        assert 'class="card-qr__code"' not in after.text
