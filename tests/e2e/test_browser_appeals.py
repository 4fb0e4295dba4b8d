"""Appeals in a real browser: the citizen appeals a decision, a caseworker overturns it after
confirming, and the citizen sees the new decision, in English and Spanish.

Same server helper, browser and axe-core check as test_browser.py; screenshots go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.test_browser import (  # noqa: F401 - the browser fixture is used by name
    DESKTOP,
    PHONE,
    _page,
    _server,
    axe_problems,
    browser,
    log_in,
    menu,
    shoot,
)
from tests.e2e.test_server import PASSWORD, Server

if TYPE_CHECKING:  # the browser fixture skips, with the reason, without playwright
    from playwright.sync_api import Browser

pytestmark = pytest.mark.xdist_group("browser")


CITIZEN = "nora.citizen"
# On the run's reference date she is 64: the pension says no, and she appeals.
REFERENCE_DATE = "2025-06-01"
APPEAL_REASON = "I turned 65 in April and my income is 70.00"
PENSION = {
    "code": "old_age_pension",
    "name": "Old-age pension",
    "description": "For people aged 65 or more with little income",
    "target": "person",
    "asset": "local_currency",
    "amount": "130.00",
    "period": "monthly",
    "fields": [
        {"name": "date_of_birth", "purpose": "age-based conditions are worked out from it"},
        {"name": "monthly_income", "purpose": "means test on own and household income"},
    ],
    "rule": "age >= 65 && monthly_income < 150",
}


def _token(http: httpx.Client, username: str, purpose: str) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {
        "Authorization": f"Bearer {response.json()['access_token']}",
        "X-Fairshare-Purpose": purpose,
    }


def _decided(server: Server) -> None:
    """Over the API: a person registered, her citizen account, the pension published and run."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        household = http.post(
            "/api/v1/households",
            headers=_token(http, "luis.caseworker", "registration"),
            json={
                "fields": {"region": "Costa", "address": "Jirón Apelación 7"},
                "members": [
                    {
                        "fields": {
                            "given_names": "Nora Benigna",
                            "family_names": "Appeal Check",
                            "date_of_birth": "1961-04-09",
                            "sex": "female",
                            "relationship_to_head": "head",
                            "monthly_income": "70.00",
                        }
                    }
                ],
            },
        )
        assert household.status_code == 201, household.text
        created = http.post(
            "/api/v1/users",
            headers=_token(http, "ada.admin", "administration"),
            json={
                "username": CITIZEN,
                "password": PASSWORD,
                "role": "citizen",
                "person_id": household.json()["members"][0]["id"],
            },
        )
        assert created.status_code == 201, created.text
        officer = _token(http, "pia.officer", "programme_design")
        for path, body in (
            ("/api/v1/programmes", PENSION),
            ("/api/v1/programmes/old_age_pension/publish", None),
            ("/api/v1/programmes/old_age_pension/runs", {"reference_date": REFERENCE_DATE}),
        ):
            answer = http.post(path, headers=officer, json=body)
            assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    with _server(tmp_path_factory.mktemp("appeals")) as running:
        _decided(running)
        yield running


def test_citizen_appeals_caseworker_overturns_citizen_sees_it(
    browser: Browser,  # noqa: F811
    server: Server,
) -> None:
    """The whole appeal by mouse and form, every page free of serious axe-core problems."""
    problems: dict[str, list[dict[str, Any]]] = {}
    with _page(browser, PHONE) as page:
        log_in(page, server, CITIZEN)
        menu(page, "My decisions")
        page.get_by_role("heading", name="Old-age pension: not eligible").wait_for()
        assert page.get_by_text("You are not eligible for Old-age pension").is_visible()
        problems["my-decisions"] = axe_problems(page)
        shoot(page, "citizen-decisions-phone")
        page.get_by_role("link", name="Appeal Old-age pension").click()
        page.get_by_role("button", name="Send the appeal").click()
        page.get_by_role("heading", name="There is a problem").wait_for()
        problems["appeal-errors"] = axe_problems(page)
        shoot(page, "citizen-appeal-errors-phone")
        page.get_by_label("Why the decision is wrong").fill(APPEAL_REASON)
        page.get_by_role("button", name="Send the appeal").click()
        page.get_by_text("Your appeal was sent.").wait_for()
        assert page.get_by_text("appeal open").is_visible()
        shoot(page, "citizen-appeal-sent-phone")

    with _page(browser, DESKTOP) as page:
        log_in(page, server, "luis.caseworker", "Appeal review")
        menu(page, "Appeals")
        page.get_by_text(APPEAL_REASON).wait_for()
        problems["appeal-queue"] = axe_problems(page)
        shoot(page, "caseworker-appeals")
        page.get_by_label("Reason for your decision").fill("Her birth certificate shows 65")
        page.get_by_role("button", name="Overturn the decision").click()
        page.get_by_role("heading", name="Overturn the decision?").wait_for()
        problems["overturn-confirm"] = axe_problems(page)
        shoot(page, "caseworker-appeal-confirm")
        page.get_by_role("button", name="Yes, overturn the decision").click()
        page.get_by_text("The decision was overturned.").wait_for()
        assert page.get_by_text("No open appeals.").is_visible()

    with _page(browser, PHONE) as page:
        log_in(page, server, CITIZEN)
        menu(page, "My decisions")
        page.get_by_role("heading", name="Old-age pension: eligible").wait_for()
        assert page.get_by_text("Her birth certificate shows 65").first.is_visible()
        shoot(page, "citizen-decision-overturned-phone")
        page.get_by_role("button", name="Español").click()
        page.goto(f"{server.base_url}/me/decisions")
        page.get_by_role("heading", name="Mis decisiones").wait_for()
        assert page.get_by_text(re.compile("Usted tiene derecho a Old-age pension")).is_visible()
        problems["my-decisions (es)"] = axe_problems(page)
        shoot(page, "citizen-decisions-es-phone")
    assert {name: found for name, found in problems.items() if found} == {}
