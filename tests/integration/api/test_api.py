"""The HTTP API, driven in-process with TestClient against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from fairshare.bootstrap import Services
from fairshare.identity.model import Role
from fairshare.registry.orm import households, people
from tests.integration.api.conftest import PASSWORD, Headers, UserFactory

PROBLEM = "application/problem+json"
HOUSEHOLD = {"region": "Sierra Central", "address": "Calle Los Álamos 12"}
CUSTOM_FIELD = {
    "name": "school_meals",
    "label": "Receives school meals",
    "type": "boolean",
    "purpose": "avoid paying the same food basket twice",
}
CSV_HEADER = (
    "record_ref,household_ref,region,address,given_names,family_names,date_of_birth,"
    "sex,relationship_to_head,monthly_income"
)


def head(**overrides: Any) -> dict[str, Any]:
    fields = {
        "given_names": "María José",
        "family_names": "Pérez Quispe",
        "date_of_birth": "1958-07-21",
        "sex": "female",
        "relationship_to_head": "head",
        "monthly_income": "85.50",
        "national_id": "10203040",
    }
    fields.update(overrides)
    return {"fields": fields}


def child(**overrides: Any) -> dict[str, Any]:
    fields = {
        "given_names": "Lucía",
        "family_names": "Pérez Quispe",
        "date_of_birth": "2019-02-03",
        "sex": "female",
        "relationship_to_head": "grandchild",
    }
    fields.update(overrides)
    return {"fields": fields}


def household(*members: dict[str, Any]) -> dict[str, Any]:
    return {"fields": HOUSEHOLD, "members": list(members) or [head(), child()]}


def count(services: Services, table: Any) -> int:
    with services.uow() as uow:
        return int(uow.connection.execute(select(func.count()).select_from(table)).scalar_one())


def as_purpose(headers: Headers, purpose: str) -> Headers:
    return {**headers, "X-Fairshare-Purpose": purpose}


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def register(
    client: TestClient, caseworker: Headers, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/households",
        json=body or household(),
        headers=as_purpose(caseworker, "registration"),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def upload(client: TestClient, headers: Headers, rows: list[str], **form: str) -> Response:
    content = "\n".join([CSV_HEADER, *rows]) + "\n"
    return client.post(
        "/api/v1/imports",
        headers=as_purpose(headers, "bulk_registration"),
        files={"file": ("people.csv", content.encode(), "text/csv")},
        data=form,
    )


GOOD_ROWS = [
    "R1,H1,Costa Norte,Av. Grau 4,Rosa,Huamán Torres,1950-03-02,female,head,120.00",
    "R2,H1,Costa Norte,Av. Grau 4,Pedro,Huamán Torres,1952-11-20,male,spouse_partner,",
    "R3,H2,Selva Baja,Jr. Loreto 9,Ana,Mamani Ccori,1990-06-15,female,head,300",
]


# ---- identity -------------------------------------------------------------------------------


def test_login_gives_a_bearer_token(client: TestClient, user: UserFactory) -> None:
    """Good credentials give a bearer token that identifies the user and role."""
    headers = user(Role.CASEWORKER, "ana.caseworker")
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["role"]) == ("ana.caseworker", "caseworker")


def test_wrong_password_is_401_problem(client: TestClient, user: UserFactory) -> None:
    """A wrong password is a 401 problem+json that does not say which part was wrong."""
    user(Role.CASEWORKER, "ana.caseworker")
    response = client.post(
        "/api/v1/auth/token", data={"username": "ana.caseworker", "password": "wrong password!"}
    )
    body = assert_problem(response, 401)
    assert body["detail"] == "wrong username or password"
    assert response.headers["www-authenticate"] == "Bearer"


def test_five_wrong_passwords_lock_the_account(client: TestClient, user: UserFactory) -> None:
    """After five wrong passwords even the right one is refused, with a message about the lock."""
    user(Role.CASEWORKER, "ana.caseworker")
    for _ in range(5):
        response = client.post(
            "/api/v1/auth/token", data={"username": "ana.caseworker", "password": "guess " * 3}
        )
        assert_problem(response, 401)
    response = client.post(
        "/api/v1/auth/token", data={"username": "ana.caseworker", "password": PASSWORD}
    )
    body = assert_problem(response, 401)
    assert "locked" in body["detail"]
    assert "access_token" not in body


def test_request_without_token_is_401(client: TestClient) -> None:
    """Personal data is not served without a token."""
    response = client.get("/api/v1/people", params={"name": "perez"})
    body = assert_problem(response, 401)
    assert "log in" in body["detail"]


def test_unknown_token_is_401(client: TestClient) -> None:
    """A token the server never issued is refused."""
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-token"})
    assert_problem(response, 401)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_logout_revokes_the_token(client: TestClient, user: UserFactory, scheme: str) -> None:
    """After logging out, the same token no longer works, however the scheme is spelled."""
    token = user(Role.CASEWORKER)["Authorization"].split()[1]
    headers = {"Authorization": f"{scheme} {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert_problem(client.get("/api/v1/auth/me", headers=headers), 401)


# ---- catalogue ------------------------------------------------------------------------------


def test_catalogue_is_public_with_purposes(client: TestClient) -> None:
    """Anyone can list the fields; each core field states its purpose."""
    response = client.get("/api/v1/catalogue/fields")
    assert response.status_code == 200
    fields = {f["name"]: f for f in response.json()}
    assert {"given_names", "date_of_birth", "monthly_income", "disability", "region"} <= set(fields)
    assert fields["monthly_income"]["purpose"] == "means test"
    assert fields["disability"]["sensitivity"] == "health"
    assert all(f["purpose"] and f["core"] for f in fields.values())


def test_administrator_declares_a_custom_field(client: TestClient, user: UserFactory) -> None:
    """An administrator can declare a field with a purpose; it is then listed as custom."""
    admin = user(Role.ADMINISTRATOR, purpose="administration")
    response = client.post("/api/v1/catalogue/fields", json=CUSTOM_FIELD, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["core"] is False
    listed = {f["name"]: f for f in client.get("/api/v1/catalogue/fields").json()}
    assert listed["school_meals"]["purpose"] == CUSTOM_FIELD["purpose"]


@pytest.mark.parametrize(
    ("definition", "category", "label"),
    [
        (
            {
                "name": "partido_politico",
                "label": "Partido",
                "type": "text",
                "purpose": "targeting",
            },
            "party_membership",
            "party membership",
        ),
        (
            {
                "name": "household_group",
                "label": "Group",
                "type": "enumeration",
                "purpose": "targeting",
                "choices": ["catholic", "other"],
            },
            "religion",
            "religion",
        ),
        pytest.param(
            {"name": "partido_politico", "label": "Partido", "type": "text", "purpose": "x"},
            "party_membership",
            "party membership",
            id="name-and-malformed",
        ),
    ],
    ids=["name", "choice", "name-and-malformed"],
)
def test_red_line_field_is_refused_and_not_stored(
    client: TestClient, user: UserFactory, definition: dict[str, Any], category: str, label: str
) -> None:
    """A red-line field is a 422 problem naming its category, and is not stored."""
    admin = user(Role.ADMINISTRATOR, purpose="administration")
    response = client.post("/api/v1/catalogue/fields", json=definition, headers=admin)
    body = assert_problem(response, 422)
    assert body["category"] == category
    assert label in body["detail"]
    assert body["errors"]
    names = {f["name"] for f in client.get("/api/v1/catalogue/fields").json()}
    assert definition["name"] not in names


def test_only_administrators_declare_fields(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """A caseworker cannot declare a field (403), and nothing is stored."""
    caseworker = user(Role.CASEWORKER, purpose="registration")
    response = client.post("/api/v1/catalogue/fields", json=CUSTOM_FIELD, headers=caseworker)
    assert_problem(response, 403)
    names = {f["name"] for f in client.get("/api/v1/catalogue/fields").json()}
    assert "school_meals" not in names


# ---- registry -------------------------------------------------------------------------------


def test_caseworker_registers_a_household(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """Registering a household with members is a 201 holding the household and its members."""
    caseworker = user(Role.CASEWORKER)
    before = count(services, people)
    created = register(client, caseworker)
    assert created["fields"]["region"] == "Sierra Central"
    assert [m["fields"]["given_names"] for m in created["members"]] == ["María José", "Lucía"]
    assert {m["household_id"] for m in created["members"]} == {created["id"]}
    assert count(services, people) == before + 2


def test_missing_purpose_is_400_naming_the_purposes(client: TestClient, user: UserFactory) -> None:
    """A caseworker who does not say why gets a 400 listing the valid purposes."""
    caseworker = user(Role.CASEWORKER)
    response = client.post("/api/v1/households", json=household(), headers=caseworker)
    body = assert_problem(response, 400)
    assert "registration" in body["detail"]
    assert "case_management" in body["detail"]


def test_purpose_outside_role_is_403_and_logged(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """A purpose the role does not hold is refused (403) and the refusal is in the access log."""
    caseworker = user(Role.CASEWORKER, "ana.caseworker")
    auditor = user(Role.AUDITOR)
    before = count(services, households)
    response = client.post(
        "/api/v1/households", json=household(), headers=as_purpose(caseworker, "audit")
    )
    body = assert_problem(response, 403)
    assert "audit" in body["detail"]
    assert count(services, households) == before
    entries = client.get(
        "/api/v1/audit/entries",
        params={"outcome": "denied", "actor": "ana.caseworker"},
        headers=auditor,
    )
    assert entries.status_code == 200, entries.text
    assert [(e["purpose"], e["outcome"], e["role"]) for e in entries.json()] == [
        ("audit", "denied", "caseworker")
    ]


def test_search_needs_a_criterion_and_finds_people(client: TestClient, user: UserFactory) -> None:
    """Search without a criterion is a 422; with a name it finds the person, accents aside."""
    caseworker = as_purpose(user(Role.CASEWORKER), "case_management")
    created = register(client, caseworker)
    body = assert_problem(client.get("/api/v1/people", headers=caseworker), 422)
    assert body["errors"][0]["field"] == "name"
    found = client.get("/api/v1/people", params={"name": "perez quispe maria"}, headers=caseworker)
    assert found.status_code == 200
    assert found.json()["count"] == 1
    assert found.json()["data"][0]["id"] == created["members"][0]["id"]


def test_health_values_shown_only_under_health_assessment(
    client: TestClient, user: UserFactory
) -> None:
    """Case management sees no health values; health assessment does."""
    caseworker = user(Role.CASEWORKER)
    body = household({**head(disability="visual"), "health_consent": True})
    person_id = register(client, caseworker, body)["members"][0]["id"]
    case = client.get(
        f"/api/v1/people/{person_id}", headers=as_purpose(caseworker, "case_management")
    )
    assert case.status_code == 200
    assert case.json()["health"] == {}
    assert "disability" not in case.json()["fields"]
    health = client.get(
        f"/api/v1/people/{person_id}", headers=as_purpose(caseworker, "health_assessment")
    )
    assert health.json()["health"] == {"disability": "visual"}


def test_update_with_reason_records_history(client: TestClient, user: UserFactory) -> None:
    """A PATCH with a reason changes the record and writes old value, new value and reason."""
    caseworker = as_purpose(user(Role.CASEWORKER, "luis.caseworker"), "case_management")
    person_id = register(client, caseworker)["members"][0]["id"]
    response = client.patch(
        f"/api/v1/people/{person_id}",
        headers=caseworker,
        json={"fields": {"monthly_income": "90"}, "reason": "new payslip"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    history = client.get(f"/api/v1/people/{person_id}/history", headers=caseworker).json()
    assert [(h["field"], h["old"], h["new"], h["actor"], h["reason"]) for h in history] == [
        ("monthly_income", "85.50", "90.00", "luis.caseworker", "new payslip")
    ]
    missing = client.patch(
        f"/api/v1/people/{person_id}", headers=caseworker, json={"fields": {"monthly_income": "95"}}
    )
    assert_problem(missing, 422)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (household(head(), child(date_of_birth="2999-01-01")), "date_of_birth", "future"),
        (household(head(given_names="Ana\x00")), "given_names", "control characters"),
        (household(head(family_names="P" * 101)), "family_names", "limit is 100"),
        (household(head(given_names=12)), "given_names", "must be text"),
        (household(head(given_names=["Ana"])), "given_names", ""),
        (household(head(favourite_colour="blue")), "favourite_colour", "not declared"),
        ({**household(), "colour": "blue"}, "colour", "xtra"),
    ],
    ids=[
        "future-birth",
        "control-char",
        "oversize",
        "wrong-type",
        "wrong-json-type",
        "unknown-field",
        "unknown-attribute",
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    client: TestClient,
    user: UserFactory,
    services: Services,
    body: dict[str, Any],
    field: str,
    fragment: str,
) -> None:
    """Invalid input is a 422 problem whose errors name the field; nothing is stored."""
    caseworker = user(Role.CASEWORKER, purpose="registration")
    before = (count(services, households), count(services, people))
    response = client.post("/api/v1/households", json=body, headers=caseworker)
    problem = assert_problem(response, 422)
    matching = [e for e in problem["errors"] if field in e["field"]]
    assert matching, problem["errors"]
    assert any(fragment in e["reason"] for e in matching), matching
    assert (count(services, households), count(services, people)) == before


def test_member_for_unknown_household_is_404(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """Adding a member to a household that does not exist is a 404 and stores nothing."""
    caseworker = user(Role.CASEWORKER, purpose="registration")
    before = count(services, people)
    response = client.post(
        "/api/v1/households/no-such-household/members", json=child(), headers=caseworker
    )
    body = assert_problem(response, 404)
    assert "no-such-household" in body["detail"]
    assert count(services, people) == before


# ---- the citizen's own record ---------------------------------------------------------------


def test_citizen_sees_own_record_household_export_and_accesses(
    client: TestClient, user: UserFactory
) -> None:
    """A citizen reads their record, household and export, and sees who read it and why."""
    caseworker = user(Role.CASEWORKER, "luis.caseworker")
    created = register(
        client,
        caseworker,
        household({**head(chronic_illness="diabetes"), "health_consent": True}, child()),
    )
    me = created["members"][0]["id"]
    read = client.get(f"/api/v1/people/{me}", headers=as_purpose(caseworker, "case_management"))
    assert read.status_code == 200
    citizen = user(Role.CITIZEN, "maria.citizen", person_id=me)

    record = client.get("/api/v1/me", headers=citizen)
    assert record.status_code == 200, record.text
    assert record.json()["id"] == me
    assert record.json()["health"] == {"chronic_illness": "diabetes"}

    home = client.get("/api/v1/me/household", headers=citizen)
    assert home.status_code == 200
    assert {m["id"] for m in home.json()["members"]} == {m["id"] for m in created["members"]}

    export = client.get("/api/v1/me/export", headers=citizen)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/json")
    fields = {f["field"]: f for f in export.json()["fields"]}
    assert fields["family_names"]["value"] == "Pérez Quispe"
    assert fields["monthly_income"]["purpose"] == "means test"
    assert fields["chronic_illness"]["purpose"] == "medicine programmes"

    report = client.get("/api/v1/me/access-report", headers=citizen)
    assert report.status_code == 200
    reads = [
        (line["actor"], line["purpose"])
        for line in report.json()
        if line["action"] == "registry:person:read"
    ]
    assert ("luis.caseworker", "case_management") in reads


def test_citizen_cannot_read_another_person(client: TestClient, user: UserFactory) -> None:
    """A citizen asking for someone else's record gets 403."""
    caseworker = user(Role.CASEWORKER)
    mine = register(client, caseworker)["members"][0]["id"]
    # The same names and birth date as `mine`: registered anyway, as someone else.
    body = {
        **household(head(national_id="999")),
        "confirm_not_duplicate": True,
        "not_duplicate_reason": "a different identity document",
    }
    other = register(client, caseworker, body)["members"][0]["id"]
    citizen = user(Role.CITIZEN, person_id=mine)
    assert_problem(client.get(f"/api/v1/people/{other}", headers=citizen), 403)
    assert client.get(f"/api/v1/people/{mine}", headers=citizen).status_code == 200


# ---- bulk import ----------------------------------------------------------------------------


def test_import_csv_reports_counts(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """A valid CSV imports every row (201) and reports people and households."""
    admin = user(Role.ADMINISTRATOR)
    before = count(services, people)
    response = upload(client, admin, GOOD_ROWS)
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows"], report["people"], report["households"], report["rejected_rows"]) == (
        3,
        3,
        2,
        0,
    )
    assert count(services, people) == before + 3


def test_import_with_an_invalid_row_imports_nothing(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """One invalid row makes the whole import a 422 listing the row and field; nothing lands."""
    admin = user(Role.ADMINISTRATOR)
    before = (count(services, households), count(services, people))
    bad = "R4,H3,Selva Baja,Jr. Loreto 10,Luis,Mamani,2999-01-01,male,head,10"
    response = upload(client, admin, [*GOOD_ROWS, bad])
    body = assert_problem(response, 422)
    assert {"row": 4, "field": "date_of_birth"}.items() <= body["errors"][0].items()
    assert (count(services, households), count(services, people)) == before


def test_import_skipping_invalid_rows(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """With skip_invalid the valid rows are imported and the rejected ones counted."""
    admin = user(Role.ADMINISTRATOR)
    before = count(services, people)
    bad = "R4,H3,Selva Baja,Jr. Loreto 10,Luis,Mamani,2999-01-01,male,head,10"
    response = upload(client, admin, [*GOOD_ROWS, bad], skip_invalid="true")
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["people"], report["rejected_rows"]) == (3, 1)
    assert report["errors"][0]["row"] == 4
    assert count(services, people) == before + 3


# ---- audit ----------------------------------------------------------------------------------


def test_auditor_verifies_the_chain(client: TestClient, user: UserFactory) -> None:
    """After some registrations, the auditor's chain verification reports ok."""
    register(client, user(Role.CASEWORKER))
    response = client.get("/api/v1/audit/verify", headers=user(Role.AUDITOR))
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["entries_checked"] >= 3


def test_caseworker_cannot_verify_the_chain(client: TestClient, user: UserFactory) -> None:
    """Verification is for auditors: a caseworker gets 403."""
    caseworker = user(Role.CASEWORKER, purpose="case_management")
    assert_problem(client.get("/api/v1/audit/verify", headers=caseworker), 403)


# ---- transport ------------------------------------------------------------------------------


def test_security_headers_are_set(client: TestClient) -> None:
    """Responses forbid sniffing and framing."""
    response = client.get("/api/v1/catalogue/fields")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    problem = client.get("/api/v1/auth/me")
    assert problem.headers["x-content-type-options"] == "nosniff"


def test_oversize_body_is_413(client: TestClient, user: UserFactory, services: Services) -> None:
    """A JSON body over 2 MiB is refused before it is read."""
    caseworker = user(Role.CASEWORKER, purpose="registration")
    before = count(services, people)
    response = client.post(
        "/api/v1/households",
        headers={**caseworker, "Content-Type": "application/json"},
        content=b" " * (2 * 1024 * 1024 + 1),
    )
    body = assert_problem(response, 413)
    assert "bytes" in body["detail"]
    assert count(services, people) == before


def test_oversize_chunked_body_is_413(
    client: TestClient, user: UserFactory, services: Services
) -> None:
    """A body sent in chunks without Content-Length is cut off at the limit too."""
    caseworker = user(Role.CASEWORKER, purpose="registration")
    before = count(services, people)

    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b" " * (1024 * 1024)

    response = client.post(
        "/api/v1/households",
        headers={**caseworker, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert_problem(response, 413)
    assert count(services, people) == before


def test_openapi_names_schemas_by_purpose(client: TestClient) -> None:
    """The OpenAPI document names request and response bodies by purpose."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {
        "PersonCreate",
        "PersonPublic",
        "PeoplePublic",
        "HouseholdCreate",
        "FieldCreate",
    } <= set(schemas)
