"""The auditor's ledger reconciliation page: journal against totals and the trial balance."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from fairshare.audit import review
from fairshare.audit.model import utc_now
from fairshare.bootstrap import Services
from fairshare.identity.model import Purpose, Role
from fairshare.ledger.orm import ledger_accounts
from fairshare.web.i18n import LANGUAGE_COOKIE
from tests.conftest import actor
from tests.faults.ledger_world import DESIGNER, DISBURSER, money_programme
from tests.integration.web.conftest import UserFactory, log_in

pytestmark = pytest.mark.postgres
BUDGET = 250_000  # 2,500.00 local currency


@pytest.fixture
def funded(services: Services) -> str:
    """A published cash programme with its budget moved from the treasury; returns the month."""
    spec = money_programme()
    services.eligibility.create_programme(DESIGNER, spec)
    services.eligibility.publish(DESIGNER, spec.code)
    services.ledger.fund(DISBURSER, spec.code, BUDGET, "budget-2026", "appropriation")
    return utc_now().strftime("%Y-%m")


@pytest.fixture
def auditor(web: TestClient, make_user: UserFactory) -> TestClient:
    make_user(Role.AUDITOR, "olga.auditor")
    log_in(web, "olga.auditor")
    return web


def test_reconciliation_shows_each_kind_balanced_and_is_logged(
    services: Services, funded: str, auditor: TestClient
) -> None:
    """Every asset and kind of account says balanced; the reading is in the access log."""
    page = auditor.get("/auditor/reconciliation")
    assert page.status_code == 200
    html = page.text
    assert "<h2>Balanced</h2>" in html and "NOT balanced" not in html
    assert "Local currency:" in html
    for kind in ("Treasury", "Programme funding"):
        assert kind in html
    assert "2,500.00 local currency" in html and "-2,500.00 local currency" in html
    assert "Trial balance" in html
    assert 'href="/reports"' in html and 'href="/auditor/verify"' in html
    assert 'href="/auditor/reconciliation"' in html  # in the auditor's menu
    entries = review.search_log(
        services.uow(),
        actor(Role.AUDITOR, Purpose.AUDIT),
        review.LogQuery(actor="olga.auditor", action="ledger:balance:read"),
        limit=10,
    )
    assert {entry.subject_id for entry in entries} >= {"reconciliation", "trial_balance"}


def test_a_month_shows_opening_closing_and_flows(funded: str, auditor: TestClient) -> None:
    """For a month: opening and closing balances, and what was posted by kind of transfer."""
    html = auditor.get(
        "/auditor/reconciliation", params={"period": funded, "asset": "local_currency"}
    ).text
    assert f"Month {funded}:" in html
    for heading in ("Opening", "Closing", "Posted in the period, by kind of transfer"):
        assert heading in html
    assert "Funding: 2,500.00 local currency" in html


def test_bad_month_or_asset_is_named(auditor: TestClient) -> None:
    """A month not like 2026-11, or an unknown asset, is refused with what to write."""
    answer = auditor.get("/auditor/reconciliation", params={"period": "June", "asset": "gold"})
    assert answer.status_code == 422
    assert "Month: write it like 2026-11" in answer.text
    assert "Asset: choose one from the list" in answer.text
    assert "Trial balance" not in answer.text


def test_a_total_changed_behind_the_ledger_shows_not_balanced(
    services: Services, funded: str, auditor: TestClient
) -> None:
    """A running total edited outside the ledger is flagged on its asset and kind."""
    with services.uow() as uow:
        accounts = ledger_accounts.c
        uow.connection.execute(
            update(ledger_accounts)
            .where(accounts.kind == "funding")
            .values(credits_posted=accounts.credits_posted + 7)
        )
        uow.commit()
    html = auditor.get("/auditor/reconciliation").text
    assert "<h2>NOT balanced</h2>" in html
    assert "<strong>NOT balanced</strong>" in html


def test_the_page_in_spanish(funded: str, auditor: TestClient) -> None:
    """The page, its statuses and its labels are translated."""
    auditor.cookies.set(LANGUAGE_COOKIE, "es")
    html = auditor.get("/auditor/reconciliation").text
    assert "Conciliación del libro mayor" in html
    assert "<h2>Cuadra</h2>" in html
    assert "Tesorería" in html and "Balance de comprobación" in html
