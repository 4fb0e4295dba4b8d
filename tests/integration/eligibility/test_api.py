"""The eligibility HTTP API, driven in-process: programmes, simulation, runs, decisions, appeals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fairshare.identity.model import Role
from tests.integration.api.conftest import (  # noqa: F401 - fixtures used by name
    Headers,
    UserFactory,
    _cheap_password_hashing,
    client,
    user,
)
from tests.integration.eligibility.conftest import PENSION_RULE, REFERENCE, Population

PROBLEM = "application/problem+json"
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
    "rule": PENSION_RULE,
}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def officer_headers(user: UserFactory) -> Headers:  # noqa: F811 - the fixture above
    return user(Role.PROGRAMME_OFFICER, "olga.officer", purpose="programme_design")


@pytest.fixture
def published(
    client: TestClient,  # noqa: F811
    officer_headers: Headers,
    population: Population,
) -> Population:
    """The pension created, published and run over the small registry through the API."""
    assert (
        client.post("/api/v1/programmes", json=PENSION, headers=officer_headers).status_code == 201
    )
    assert (
        client.post(
            "/api/v1/programmes/old_age_pension/publish", headers=officer_headers
        ).status_code
        == 201
    )
    response = client.post(
        "/api/v1/programmes/old_age_pension/runs",
        json={"reference_date": REFERENCE.isoformat()},
        headers=officer_headers,
    )
    assert response.status_code == 201, response.text
    assert (response.json()["eligible"], response.json()["subjects"]) == (2, 8)
    return population


def test_create_and_read_a_programme(
    client: TestClient,  # noqa: F811
    officer_headers: Headers,
) -> None:
    """A programme officer creates a programme; anyone can read it and its declared fields."""
    response = client.post("/api/v1/programmes", json=PENSION, headers=officer_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["amount"], body["benefit"]) == (13000, "130.00 local currency monthly")
    assert body["published_version"] is None
    listed = client.get("/api/v1/programmes").json()
    assert [p["code"] for p in listed] == ["old_age_pension"]
    assert listed[0]["fields"][1]["purpose"] == "means test on own and household income"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"rule": 'age > "abc"'}, "line 1, column"),
        ({"rule": ""}, "eligibility rule"),
        ({"amount": "-5.00"}, "positive amount"),
        ({"asset": "gold"}, "not known"),
        ({"rule": "age >= 65 && owns_vehicle"}, "not declared"),
    ],
)
def test_bad_programmes_are_422_problems(
    client: TestClient,  # noqa: F811
    officer_headers: Headers,
    change: dict[str, Any],
    fragment: str,
) -> None:
    """A rule that does not check, no rule, a bad amount or asset: 422 naming the problem."""
    response = client.post(
        "/api/v1/programmes", json={**PENSION, **change}, headers=officer_headers
    )
    assert fragment in problem(response, 422)["detail"]
    assert client.get("/api/v1/programmes").json() == []


def test_float_amounts_are_refused(
    client: TestClient,  # noqa: F811
    officer_headers: Headers,
) -> None:
    """A JSON float amount is refused: amounts travel as text or whole numbers."""
    response = client.post(
        "/api/v1/programmes", json={**PENSION, "amount": 130.5}, headers=officer_headers
    )
    problem(response, 422)


def test_simulation_and_charts(
    client: TestClient,  # noqa: F811
    officer_headers: Headers,
    population: Population,
) -> None:
    """Simulation gives suppressed counts to an officer; charts come back as SVG and PNG."""
    client.post("/api/v1/programmes", json=PENSION, headers=officer_headers)
    response = client.post(
        "/api/v1/programmes/old_age_pension/simulate",
        json={"reference_date": REFERENCE.isoformat()},
        headers=officer_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["eligible"], body["cost"], body["suppressed"]) == (2, 26000, True)
    assert {c["shown"] for c in body["breakdowns"]["region"]} == {"<10"}
    assert body["gained_ids"] is None
    svg = client.get("/api/v1/programmes/old_age_pension/charts/age_band", headers=officer_headers)
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    png = client.get(
        "/api/v1/programmes/old_age_pension/charts/region",
        params={"format": "png"},
        headers=officer_headers,
    )
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")


def test_merchant_cannot_simulate(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    officer_headers: Headers,
) -> None:
    """A merchant asking for a simulation gets 403."""
    client.post("/api/v1/programmes", json=PENSION, headers=officer_headers)
    merchant = user(Role.MERCHANT)
    response = client.post("/api/v1/programmes/old_age_pension/simulate", json={}, headers=merchant)
    problem(response, 403)


def test_publish_twice_is_409(
    client: TestClient,  # noqa: F811
    officer_headers: Headers,
    published: Population,
) -> None:
    """Publishing an unchanged draft again is a conflict; the version list shows version 1."""
    response = client.post("/api/v1/programmes/old_age_pension/publish", headers=officer_headers)
    problem(response, 409)
    body = client.get("/api/v1/programmes/old_age_pension").json()
    assert [v["version"] for v in body["versions"]] == [1]
    assert body["last_run"]["eligible"] == 2


def test_decisions_explained_to_caseworker_not_to_officer(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    officer_headers: Headers,
    published: Population,
) -> None:
    """A caseworker reads a person's explained decision in Spanish; an officer gets 403."""
    caseworker = user(Role.CASEWORKER, purpose="case_management")
    person = published.people["p1"]
    response = client.get(
        f"/api/v1/people/{person}/decisions", params={"language": "es"}, headers=caseworker
    )
    assert response.status_code == 200, response.text
    [decision] = response.json()
    assert decision["eligible"] is True
    assert decision["explanation"][0].startswith("Usted tiene derecho a Old-age pension")
    assert decision["facts"]["age"] == 75
    problem(client.get(f"/api/v1/people/{person}/decisions", headers=officer_headers), 403)


def test_citizen_appeals_and_sees_the_outcome(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    published: Population,
) -> None:
    """A citizen reads their decision, appeals, a caseworker overturns, the citizen sees it."""
    citizen = user(Role.CITIZEN, "carlos.citizen", person_id=published.people["p3"])
    [decision] = client.get("/api/v1/me/decisions", headers=citizen).json()
    assert decision["eligible"] is False
    assert any("200.00" in line for line in decision["explanation"])
    filed = client.post(
        f"/api/v1/decisions/{decision['id']}/appeals",
        json={"reason": "My income fell to 120 in May"},
        headers=citizen,
    )
    assert filed.status_code == 201, filed.text
    reviewer = user(Role.CASEWORKER, "rita.reviewer", purpose="appeal_review")
    [queued] = client.get("/api/v1/appeals", headers=reviewer).json()
    assert (queued["id"], queued["overdue"]) == (filed.json()["id"], False)
    decided = client.post(
        f"/api/v1/appeals/{queued['id']}/decision",
        json={"outcome": "overturn", "reason": "Payslips confirm 120.00 since May"},
        headers=reviewer,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "overturned"
    [mine] = client.get("/api/v1/me/appeals", headers=citizen).json()
    assert (mine["status"], mine["decision_reason"]) == (
        "overturned",
        "Payslips confirm 120.00 since May",
    )
    [now] = client.get("/api/v1/me/decisions", headers=citizen).json()
    assert (now["eligible"], now["basis"], now["supersedes"]) == (True, "appeal", decision["id"])
    other = published.people["p1"]
    problem(client.get(f"/api/v1/people/{other}/decisions", headers=citizen), 403)
    problem(client.get("/api/v1/appeals", headers=citizen), 403)
