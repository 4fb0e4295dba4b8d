"""Duplicate review in a real browser against the real server: a caseworker compares a pair,
merges the two records, and undoes the merge; axe-core finds no serious problem on the way,
at desktop and phone width.

Skipped like tests/e2e/test_browser.py when Chromium or Playwright is missing (a failure
under FAIRSHARE_REQUIRE_BROWSER=1). Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fairshare.db import UnitOfWork, make_engine
from tests.e2e.test_browser import (  # noqa: F401  (fixtures)
    DESKTOP,
    PHONE,
    Browser,
    _page,
    axe_problems,
    browser,
    log_in,
    menu,
    server,
    shoot,
)
from tests.e2e.test_server import Server
from tests.e2e.test_server import log_in as api_log_in
from tests.integration.planted_duplicates import EVIDENCE_LIKELY, store_run

pytestmark = pytest.mark.xdist_group("browser")
# Distinctive names: the same woman registered twice, once without her second family name.
GIVEN = "Wilfreda Eusebia"
FAMILY = "Chuquimamani Tacuri"


def _register(http: httpx.Client, headers: dict[str, str], family: str, address: str) -> str:
    body: dict[str, Any] = {
        "fields": {"region": "Sierra Central", "address": address},
        "members": [
            {
                "fields": {
                    "given_names": GIVEN,
                    "family_names": family,
                    "date_of_birth": "1948-07-21",
                    "sex": "female",
                    "relationship_to_head": "head",
                }
            }
        ],
    }
    answer = http.post("/api/v1/households", headers=headers, json=body)
    if answer.status_code == 409:  # the registration-time check saw the first record
        body |= {"confirm_not_duplicate": True, "not_duplicate_reason": "planted for the test"}
        answer = http.post("/api/v1/households", headers=headers, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["members"][0]["id"])


def _planted_pair(running: Server) -> int:
    """Two records of one woman over the API, and a stored run with the pair to review."""
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        headers = api_log_in(http, "luis.caseworker", "registration")
        first = _register(http, headers, FAMILY, "Jirón Ayacucho 4")
        second = _register(http, headers, FAMILY.split()[0], "Jirón Ayacucho 4")
    engine = make_engine(running.database_url)
    try:
        _run, (pair_id,) = store_run(UnitOfWork(engine), [(first, second, 0.96, EVIDENCE_LIKELY)])
    finally:
        engine.dispose()
    return pair_id


def test_caseworker_reviews_merges_and_unmerges(browser: Browser, server: Server) -> None:  # noqa: F811
    """From the menu to the pair, merge with a chosen survivor and a reason, then undo it;
    every page passes axe at desktop and phone width; no name reaches a URL or the log."""
    pair_id = _planted_pair(server)
    problems: dict[str, list[dict[str, Any]]] = {}
    with _page(browser, DESKTOP) as page:
        log_in(page, server, "luis.caseworker", "Duplicate review")
        menu(page, "Duplicate review")
        page.get_by_role("heading", name="Duplicate review").wait_for()
        problems["queue"] = axe_problems(page)
        page.get_by_role("link", name=f"Compare pair {pair_id}").click()
        page.get_by_role("heading", name="Are these the same person?").wait_for()
        assert page.get_by_role("cell", name=FAMILY, exact=True).is_visible()
        problems["pair"] = axe_problems(page)
        shoot(page, "duplicates-pair")

        page.get_by_role("button", name="Record the decision").click()  # nothing chosen
        page.get_by_role("heading", name="There is a problem").wait_for()
        problems["pair-errors"] = axe_problems(page)
        shoot(page, "duplicates-pair-errors")

        page.get_by_label("Yes, one person: merge the records").check()
        page.get_by_label("Keep the first record").check()
        page.get_by_label("If one person: I confirm the merge").check()
        page.get_by_label("Reason for your decision").fill("same woman, same birth date")
        page.get_by_role("button", name="Record the decision").click()
        page.get_by_text("The two records were merged.").wait_for()
        problems["merges"] = axe_problems(page)
        shoot(page, "duplicates-merged")

        page.get_by_label("Reason for undoing the merge").fill("two sisters, checked in person")
        page.get_by_role("button", name="Undo this merge").click()
        page.get_by_text("The merge was undone").wait_for()
        assert page.get_by_text("undone", exact=True).is_visible()
        shoot(page, "duplicates-unmerged")
        assert "chuquimamani" not in page.url.lower()
    with _page(browser, PHONE) as page:
        log_in(page, server, "luis.caseworker", "Duplicate review")
        page.goto(f"{server.base_url}/caseworker/duplicates/{pair_id}")
        problems["pair-phone"] = axe_problems(page)
        shoot(page, "duplicates-pair-phone")
        page.goto(f"{server.base_url}/caseworker/merges")
        problems["merges-phone"] = axe_problems(page)
    assert {name: found for name, found in problems.items() if found} == {}
    assert "Chuquimamani" not in server.log.read_text(encoding="utf-8")
