"""A programme's cycle results: each cycle paid, the totals and a chart, for officers who
disburse and auditors, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fairshare.bootstrap import Services
from fairshare.identity.model import Purpose, Role
from tests.conftest import actor
from tests.integration.eligibility.conftest import (  # noqa: F401  (fixtures)
    REFERENCE,
    Population,
    pension,
    population,
)
from tests.integration.web.conftest import UserFactory, log_in, new_client

CYCLES = "/programmes/old_age_pension/cycles"


@pytest.fixture
def paid(services: Services, population: Population) -> None:  # noqa: F811
    """The pension published, run, funded and paid for May and June 2025 (two enrolled)."""
    designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")
    services.eligibility.create_programme(designer, pension())
    services.eligibility.publish(designer, "old_age_pension")
    services.eligibility.run(designer, "old_age_pension", REFERENCE)
    treasurer = actor(Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT, username="treasurer")
    services.ledger.fund(treasurer, "old_age_pension", 1_000_000, "budget-cycles", "2025")
    for period in ("2025-05", "2025-06"):
        services.cycles.run(treasurer, "old_age_pension", period)


def test_officer_sees_each_cycle_with_totals_and_a_chart(
    web: TestClient, make_user: UserFactory, paid: None
) -> None:
    """Each cycle: period, enrolled, paid, the amount, status, when and by whom; the chart is
    a PNG the page shows with a text alternative."""
    make_user(Role.PROGRAMME_OFFICER, "pia.officer")
    log_in(web, "pia.officer", Purpose.DISBURSEMENT)
    page = web.get(CYCLES)
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index("2025-06") < html.index("2025-05")  # newest first
    assert "Completed" in html and "treasurer" in html
    assert "Paid in all cycles:" in html
    assert '<img class="chart" src="/programmes/old_age_pension/cycles/chart"' in html
    assert 'alt="Bar chart of the amount paid in each period' in html
    chart = web.get(f"{CYCLES}/chart")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    assert (
        'href="/programmes/old_age_pension/cycles"' in web.get("/programmes/old_age_pension").text
    )


def test_cycle_figures_match_the_ledger(
    web: TestClient, services: Services, make_user: UserFactory, paid: None
) -> None:
    """The paid count and total on the page are the cycle's own figures."""
    make_user(Role.AUDITOR, "olga.auditor")
    log_in(web, "olga.auditor")
    html = web.get(CYCLES).text
    for row in services.cycles.cycles("old_age_pension"):
        assert f'data-label="Paid in this cycle" class="number">{row["posted"]}<' in html
        assert f'data-label="Enrolled" class="number">{row["enrolled"]}<' in html
    assert row["posted"] > 0


def test_in_spanish_and_without_cycles(
    web: TestClient,
    services: Services,
    make_user: UserFactory,
    population: Population,  # noqa: F811
) -> None:
    """A programme with no cycle says so, in Spanish too."""
    designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")
    services.eligibility.create_programme(designer, pension())
    make_user(Role.AUDITOR, "olga.auditor")
    log_in(web, "olga.auditor")
    assert "No cycle has been paid yet." in web.get(CYCLES).text
    web.cookies.set("fairshare-language", "es")
    assert "Todavía no se ha pagado ningún ciclo." in web.get(CYCLES).text


def test_who_may_not(
    web: TestClient, services: Services, make_user: UserFactory, paid: None
) -> None:
    """A caseworker is refused (403); an officer designing is offered the disbursement
    purpose; an unknown programme is 404."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    assert web.get(CYCLES).status_code == 403
    make_user(Role.PROGRAMME_OFFICER, "pia.officer")
    with new_client(services) as officer:
        log_in(officer, "pia.officer", Purpose.PROGRAMME_DESIGN)
        prompt = officer.get(CYCLES)
        assert prompt.status_code == 200 and 'value="disbursement"' in prompt.text
        assert "treasurer" not in prompt.text
    make_user(Role.AUDITOR, "olga.auditor")
    with new_client(services) as auditor:
        log_in(auditor, "olga.auditor")
        assert auditor.get("/programmes/no_such_programme/cycles").status_code == 404
