"""The registration-time duplicate check over HTTP: the check endpoint, 409 and confirmation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fairshare.identity.model import Role
from tests.integration.api.conftest import UserFactory
from tests.integration.api.test_api import (
    CSV_HEADER,
    HOUSEHOLD,
    as_purpose,
    assert_problem,
    child,
    head,
    household,
    register,
    upload,
)

ROSA = {
    "given_names": "Rosa Elvira",
    "family_names": "Mamani",
    "date_of_birth": "1958-07-21",
    "sex": "female",
    "relationship_to_head": "head",
}


def test_check_lists_the_likely_match_with_its_evidence(
    client: TestClient, user: UserFactory
) -> None:
    """POST /people/duplicate-check returns the registered person, evidence and model."""
    caseworker = user(Role.CASEWORKER)
    mine = register(client, caseworker)["members"][0]
    answer = client.post(
        "/api/v1/people/duplicate-check",
        json={
            "fields": {**head()["fields"], "given_names": "MARIA JOSE", "national_id": None},
            "household": HOUSEHOLD,
        },
        headers=as_purpose(caseworker, "registration"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == {"run_id": None, "trained": False}
    [match] = body["matches"]
    assert match["person_id"] == mine["id"]
    assert match["given_names"] == "María José"
    assert match["evidence"]["date_of_birth"]["level"] == "exact"
    assert match["match_probability"] >= body["threshold"]

    other = client.post(
        "/api/v1/people/duplicate-check",
        json={"fields": ROSA, "household": HOUSEHOLD},
        headers=as_purpose(caseworker, "registration"),
    )
    assert other.json()["matches"] == []


def test_check_needs_a_registration_purpose(client: TestClient, user: UserFactory) -> None:
    """A caseworker acting for appeals may not look through the registry this way."""
    caseworker = user(Role.CASEWORKER)
    answer = client.post(
        "/api/v1/people/duplicate-check",
        json={"fields": ROSA},
        headers=as_purpose(caseworker, "appeal_review"),
    )
    assert_problem(answer, 403)


def test_registering_a_likely_duplicate_is_409_until_confirmed(
    client: TestClient, user: UserFactory
) -> None:
    """409 lists the matches; confirming without a reason is 422; with one it registers."""
    caseworker = user(Role.CASEWORKER)
    first = register(client, caseworker)
    again = household(head(national_id=None), child(given_names="Luz"))
    headers = as_purpose(caseworker, "registration")

    refused = client.post("/api/v1/households", json=again, headers=headers)
    body = assert_problem(refused, 409)
    assert body["type"] == "/problems/likely-duplicates"
    assert {m["person_id"] for m in body["matches"]} >= {first["members"][0]["id"]}
    assert body["matches"][0]["member"] == 0

    no_reason = client.post(
        "/api/v1/households", json={**again, "confirm_not_duplicate": True}, headers=headers
    )
    assert_problem(no_reason, 422)

    confirmed = client.post(
        "/api/v1/households",
        json={**again, "confirm_not_duplicate": True, "not_duplicate_reason": "her twin sister"},
        headers=headers,
    )
    assert confirmed.status_code == 201, confirmed.text


def test_adding_a_member_who_is_already_there_is_409(client: TestClient, user: UserFactory) -> None:
    """The head added again as a member of the same household is caught."""
    caseworker = user(Role.CASEWORKER)
    created = register(client, caseworker, household(head()))
    member = head(relationship_to_head="sibling")
    path = f"/api/v1/households/{created['id']}/members"
    headers = as_purpose(caseworker, "registration")
    assert_problem(client.post(path, json=member, headers=headers), 409)
    added = client.post(
        path,
        json={**member, "confirm_not_duplicate": True, "not_duplicate_reason": "twins"},
        headers=headers,
    )
    assert added.status_code == 201, added.text


def test_import_report_lists_rows_like_registered_people(
    client: TestClient, user: UserFactory
) -> None:
    """The import lands whole and its report names the rows that look like someone."""
    caseworker = user(Role.CASEWORKER)
    register(client, caseworker)
    administrator = user(Role.ADMINISTRATOR, "ana.admin")
    rows = [
        "R1,H1,Sierra Central,Calle Los Álamos 12,MARIA JOSE,PEREZ QUISPE,1958-07-21,"
        "female,head,10.00",
        "R2,H2,Costa,Av. del Mar 3,Rosa,Mamani,1970-01-02,female,head,20.00",
    ]
    assert CSV_HEADER.startswith("record_ref,household_ref,region,address,given_names")
    answer = upload(client, administrator, rows)
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["people"] == 2
    [flagged] = report["possible_duplicates"]
    assert flagged["row"] == 1 and flagged["matches"][0]["family_names"] == "Pérez Quispe"

    skipped = upload(
        client, administrator, [rows[1].replace("R2,H2", "R3,H3")], check_duplicates="false"
    )
    assert skipped.status_code == 201 and skipped.json()["possible_duplicates"] == []
