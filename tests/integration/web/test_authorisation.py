"""The authorisation walk: every route registered on the application (pages and API, every
method), with every role and anonymously, against the one table in fairshare/web/access.py.

Allowed means the route did its work or refused the input for a reason other than who is
asking. Denied means: anonymous pages redirect to the login page, anonymous API calls get
401, a logged-in role gets 403 (for the API: under every purpose the role holds, since the
services check role and purpose together).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from starlette.routing import Mount

from fairshare.api.app import create_app
from fairshare.bootstrap import Services
from fairshare.identity.model import ROLE_PURPOSES, Purpose, Role
from fairshare.web.access import ANYONE, ROUTE_ACCESS, Allowed, Route
from tests.integration.web.conftest import (
    BASE_URL,
    PASSWORD,
    Registered,
    UserFactory,
    csrf_token,
    log_in,
)

WEB_PURPOSE = {
    Role.CASEWORKER: Purpose.CASE_MANAGEMENT,
    Role.ADMINISTRATOR: Purpose.ADMINISTRATION,
    Role.PROGRAMME_OFFICER: Purpose.PROGRAMME_DESIGN,
}
# /me routes answer a staff account "this account is not linked to a person" (422) before
# reading anything: a refusal, though not a 403.
NOT_LINKED = "not linked to a person"


def registered_routes(app: FastAPI) -> set[Route]:
    """(method, path) of every route, including those of included routers and mounts."""
    found: set[Route] = set()

    def walk(routes: list[Any], prefix: str = "") -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's lazy inclusion
            if included is not None:
                walk(included.routes, prefix + getattr(route.include_context, "prefix", ""))
            elif isinstance(route, Mount):
                found.add(("GET", prefix + route.path))
            else:
                for method in getattr(route, "methods", None) or ():
                    if method != "HEAD":
                        found.add((method, prefix + route.path))

    walk(list(app.routes))
    return found


@dataclass
class World:
    """Real records for every path parameter, so each request reaches its authorisation."""

    person_id: str
    household_id: str
    correction_id: str
    decision_id: str
    appeal_id: str
    code: str = "walk_base"
    scope: str = "health"
    breakdown: str = "region"
    # Ledger records need not exist: the services check role and purpose before looking.
    transfer_id: str = "walk-no-such-transfer"
    account_id: str = "walk-no-such-account"
    period: str = "2025-06"
    card_id: str = "WALKNOSUCHCARD"
    device_id: str = "walk-no-such-device"
    # Review records need not exist: the dedup services check the purpose first.
    pair_id: str = "1"
    merge_id: str = "walk-no-such-merge"

    def path(self, template: str) -> str:
        return template.format(**self.__dict__)


def _programme(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": "Walk pension",
        "target": "person",
        "asset": "local_currency",
        "amount": "10.00",
        "fields": [{"name": "date_of_birth", "purpose": "age conditions"}],
        "rule": "age >= 18",
    }


def _member(relationship: str = "child") -> dict[str, Any]:
    return {
        "fields": {
            "given_names": "Walk",
            "family_names": "Tester",
            "date_of_birth": "2001-01-01",
            "sex": "other",
            "relationship_to_head": relationship,
        }
    }


CSV = (
    "given_names,family_names,date_of_birth,sex,relationship_to_head,region,address\n"
    "Walk,Imported,1990-01-01,female,head,Costa,Calle 9\n"
)

# What each request sends beyond its path: JSON or form bodies, query strings, files.
BODIES: dict[Route, Callable[[World], dict[str, Any]]] = {
    ("POST", "/api/v1/auth/token"): lambda w: {
        "data": {"username": "walk.login", "password": PASSWORD}
    },
    ("POST", "/api/v1/users"): lambda w: {
        "json": {"username": "walk.created", "password": PASSWORD, "role": "auditor"}
    },
    ("POST", "/api/v1/catalogue/fields"): lambda w: {
        "json": {"name": "walk_field", "label": "Walk", "type": "text", "purpose": "walk test"}
    },
    ("POST", "/api/v1/households"): lambda w: {
        "json": {"fields": {"region": "Costa", "address": "Calle 9"}, "members": [_member("head")]}
    },
    ("PATCH", "/api/v1/households/{household_id}"): lambda w: {
        "json": {"fields": {"municipality": "Walkville"}, "reason": "walk test"}
    },
    ("POST", "/api/v1/households/{household_id}/members"): lambda w: {"json": _member()},
    ("POST", "/api/v1/people/duplicate-check"): lambda w: {
        "json": {"fields": {"given_names": "Walk", "family_names": "Tester"}}
    },
    ("GET", "/api/v1/people"): lambda w: {"params": {"name": "walk"}},
    ("PATCH", "/api/v1/people/{person_id}"): lambda w: {
        "json": {"fields": {"phone": "+1 555 0100"}, "reason": "walk test"}
    },
    ("POST", "/api/v1/people/{person_id}/consents"): lambda w: {
        "json": {"method": "signed form", "scope": "health"}
    },
    ("POST", "/api/v1/people/{person_id}/corrections"): lambda w: {
        "json": {"field": "phone", "value": "+1 555 0101", "reason": "walk test"}
    },
    ("GET", "/api/v1/corrections"): lambda w: {"params": {"person_id": w.person_id}},
    ("POST", "/api/v1/corrections/{correction_id}/decision"): lambda w: {
        "json": {"apply": False, "reason": "walk test"}
    },
    ("POST", "/api/v1/imports"): lambda w: {"files": {"file": ("walk.csv", CSV, "text/csv")}},
    ("POST", "/api/v1/programmes"): lambda w: {"json": _programme("walk_new")},
    ("PATCH", "/api/v1/programmes/{code}"): lambda w: {"json": {"description": "walk test"}},
    ("POST", "/api/v1/programmes/{code}/simulate"): lambda w: {"json": {}},
    ("POST", "/api/v1/programmes/{code}/runs"): lambda w: {"json": {}},
    ("POST", "/api/v1/decisions/{decision_id}/appeals"): lambda w: {
        "json": {"reason": "walk test"}
    },
    ("POST", "/api/v1/appeals/{appeal_id}/decision"): lambda w: {
        "json": {"outcome": "uphold", "reason": "walk test"}
    },
    ("POST", "/api/v1/dedup/reviews/{pair_id}/decision"): lambda w: {
        "json": {"decision": "reject", "reason": "walk test"}
    },
    ("POST", "/api/v1/dedup/merges/{merge_id}/unmerge"): lambda w: {
        "json": {"reason": "walk test"}
    },
    ("GET", "/static"): lambda w: {"path": "/static/fairshare.css"},
    ("POST", "/login"): lambda w: {"data": {"username": "nobody", "password": "wrong"}},
    ("POST", "/purpose"): lambda w: {"data": {"purpose": "audit"}},
    ("POST", "/language"): lambda w: {"data": {"language": "en"}},
    ("POST", "/caseworker/search"): lambda w: {"data": {"name": "walk"}},
    ("POST", "/caseworker/corrections/{correction_id}/decision"): lambda w: {
        "data": {"decision": "reject", "reason": "walk test"}
    },
    ("POST", "/me/corrections"): lambda w: {
        "data": {"field": "phone", "value": "+1 555 0102", "reason": "walk test"}
    },
    ("POST", "/me/consent/withdraw"): lambda w: {"data": {"confirm": ""}},
    # An asset no merchant hands out: the page refuses the input once the role has passed.
    ("POST", "/merchant"): lambda w: {
        "data": {
            "method": "caseworker",
            "reference": "walk",
            "beneficiary": w.person_id,
            "programme": w.code,
            "asset": "walk_gold",
            "amount": "1",
            "idempotency_key": "walk-pos-0001",
        }
    },
    ("POST", "/admin/users/unlock"): lambda w: {"data": {"username": "walk.target"}},
    ("POST", "/admin/users/deactivate"): lambda w: {"data": {"username": "walk.target"}},
    ("POST", "/admin/users/activate"): lambda w: {"data": {"username": "walk.target"}},
    ("POST", "/api/v1/ledger/transfers"): lambda w: {
        "json": {
            "transfers": [
                {"debit_account_id": w.account_id, "credit_account_id": w.account_id, "amount": 1}
            ]
        },
        "headers": {"Idempotency-Key": "walk-transfer-0001"},
    },
    ("POST", "/api/v1/ledger/transfers/{transfer_id}/post"): lambda w: {
        "headers": {"Idempotency-Key": "walk-post-0001"}
    },
    ("POST", "/api/v1/ledger/transfers/{transfer_id}/void"): lambda w: {
        "headers": {"Idempotency-Key": "walk-void-0001"}
    },
    ("POST", "/api/v1/programmes/{code}/funding"): lambda w: {
        "json": {"amount": 100, "reason": "walk test"},
        "headers": {"Idempotency-Key": "walk-funding-0001"},
    },
    ("POST", "/api/v1/programmes/{code}/cycles"): lambda w: {"json": {"period": w.period}},
    ("POST", "/api/v1/ledger/merchants"): lambda w: {
        "json": {
            "code": "walk-shop",
            "name": "Walk shop",
            "category": "shop",
            "region": "Costa",
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
        }
    },
    ("POST", "/api/v1/people/{person_id}/verifications"): lambda w: {
        "json": {"method": "national_id_document", "reason": "walk test"}
    },
    ("POST", "/api/v1/cards/{card_id}/revocation"): lambda w: {"json": {"reason": "walk test"}},
    ("POST", "/api/v1/cards/verify"): lambda w: {"json": {"qr_text": "WALK"}},
    # Not a key: refused as input once role and purpose have passed.
    ("POST", "/api/v1/offline/devices"): lambda w: {"json": {"public_key": "walk"}},
    ("POST", "/api/v1/offline/devices/{device_id}/receipts"): lambda w: {"json": {"receipts": []}},
    ("POST", "/api/v1/ledger/payouts/status"): lambda w: {
        "files": {"file": ("walk.xml", b"<walk/>", "application/xml")}
    },
    # An asset no merchant hands out: refused as input once role and purpose have passed.
    ("POST", "/api/v1/ledger/redemptions"): lambda w: {
        "json": {
            "beneficiary_id": w.person_id,
            "programme": w.code,
            "asset": "walk_gold",
            "amount": 1,
            "authorisation": {"method": "caseworker", "reference": "walk"},
        },
        "headers": {"Idempotency-Key": "walk-redeem-0001"},
    },
}
# Routes that end the caller's own login: walked with a login of their own.
ENDS_LOGIN = {("POST", "/logout"), ("POST", "/api/v1/auth/logout")}


def _api_token(client: TestClient, username: str) -> str:
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _build_world(
    services: Services, api: TestClient, registered: Registered, tokens: dict[Role, str]
) -> World:
    def call(role: Role, purpose: str | None, method: str, path: str, **kwargs: Any) -> Response:
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        if purpose:
            headers["X-Fairshare-Purpose"] = purpose
        answer: Response = api.request(method, path, headers=headers, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.text}"
        return answer

    officer = Role.PROGRAMME_OFFICER
    call(officer, "programme_design", "POST", "/api/v1/programmes", json=_programme("walk_base"))
    call(officer, "programme_design", "POST", "/api/v1/programmes/walk_base/publish")
    call(officer, "programme_design", "POST", "/api/v1/programmes/walk_base/runs", json={})
    decision = call(Role.CITIZEN, None, "GET", "/api/v1/me/decisions").json()[0]["id"]
    appeal = call(
        Role.CASEWORKER,
        "appeal_review",
        "POST",
        f"/api/v1/decisions/{decision}/appeals",
        json={"reason": "walk test"},
    ).json()["id"]
    correction = call(
        Role.CITIZEN,
        None,
        "POST",
        f"/api/v1/people/{registered.person_id}/corrections",
        json={"field": "phone", "value": "+1 555 0199", "reason": "walk test"},
    ).json()["id"]
    return World(registered.person_id, registered.household_id, correction, decision, appeal)


def _request(
    client: TestClient,
    route: Route,
    world: World,
    csrf: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    method, template = route
    recipe = BODIES.get(route)
    options: dict[str, Any] = recipe(world) if recipe is not None else {}
    path = options.pop("path", world.path(template))
    headers = {**options.pop("headers", {}), **(headers or {})}
    if method != "GET" and not template.startswith("/api/"):
        options["data"] = {**options.get("data", {}), "csrf_token": csrf or ""}
    answer: Response = client.request(
        method, path, headers=headers, follow_redirects=False, **options
    )
    return answer


def _denied(route: Route, answer: Response, anonymous: bool) -> bool:
    is_api = route[1].startswith("/api/")
    if anonymous:
        if is_api:
            return answer.status_code == 401
        location = answer.headers.get("location", "")
        return answer.status_code == 303 and location.startswith("/login") and route[1] != "/login"
    if is_api and answer.status_code == 422 and NOT_LINKED in answer.text:
        return True
    return answer.status_code in (401, 403)


def _expected(allowed: Allowed, role: Role | None) -> bool:
    return allowed == ANYONE or (role is not None and role in allowed)


@pytest.fixture
def walk_app(services: Services) -> FastAPI:
    return create_app(services)


def test_every_route_has_a_row_in_the_authorisation_table(walk_app: FastAPI) -> None:
    """No route without a row, and no row without a route."""
    routes = registered_routes(walk_app)
    assert sorted(routes - set(ROUTE_ACCESS)) == [], "add these routes to web/access.py"
    assert sorted(set(ROUTE_ACCESS) - routes) == [], "these rows name no route"


def _walk(
    services: Services,
    walk_app: FastAPI,
    make_user: UserFactory,
    registered: Registered,
) -> Iterator[str]:
    """Every mismatch between an answer and the table, as a line saying which."""
    for role in Role:
        make_user(
            role,
            f"walk.{role.value.replace('_', '-')}",
            person_id=(registered.person_id if role is Role.CITIZEN else None),
        )
    make_user(Role.AUDITOR, "walk.login")
    make_user(Role.AUDITOR, "walk.target")
    usernames = {role: f"walk.{role.value.replace('_', '-')}" for role in Role}

    with TestClient(walk_app, base_url=BASE_URL) as api:
        tokens = {role: _api_token(api, name) for role, name in usernames.items()}
        world = _build_world(services, api, registered, tokens)
        pages: dict[Role, tuple[TestClient, str]] = {}
        for role, name in usernames.items():
            client = TestClient(walk_app, base_url=BASE_URL)
            pages[role] = (client, log_in(client, name, WEB_PURPOSE.get(role)))
        anonymous = TestClient(walk_app, base_url=BASE_URL)
        anonymous_csrf = csrf_token(anonymous.get("/login").text)

        for route in sorted(registered_routes(walk_app)):
            allowed = ROUTE_ACCESS[route]
            is_api = route[1].startswith("/api/")
            answer = _request(anonymous, route, world, csrf=anonymous_csrf)
            if answer.status_code >= 500 or _denied(route, answer, True) == _expected(
                allowed, None
            ):
                yield f"{route} anonymous: {answer.status_code} {answer.text[:120]}"
            for role in Role:
                if is_api:
                    answers = []
                    for purpose in sorted(ROLE_PURPOSES[role]):
                        token = (
                            _api_token(api, usernames[role])
                            if route in ENDS_LOGIN
                            else tokens[role]
                        )
                        headers = {
                            "Authorization": f"Bearer {token}",
                            "X-Fairshare-Purpose": purpose.value,
                        }
                        answers.append(_request(api, route, world, headers=headers))
                        if not _denied(route, answers[-1], False):
                            break
                    answer = answers[-1]
                    denied = all(_denied(route, a, False) for a in answers)
                else:
                    client, token = pages[role]
                    if route in ENDS_LOGIN:
                        client = TestClient(walk_app, base_url=BASE_URL)
                        token = log_in(client, usernames[role], WEB_PURPOSE.get(role))
                    answer = _request(client, route, world, csrf=token)
                    denied = _denied(route, answer, False)
                if answer.status_code >= 500 or denied == _expected(allowed, role):
                    yield f"{route} {role.value}: {answer.status_code} {answer.text[:120]}"


def test_every_route_with_every_role_matches_the_table(
    services: Services,
    walk_app: FastAPI,
    make_user: UserFactory,
    registered: Registered,
) -> None:
    """Pages and API alike: allowed roles get through, others are refused, no one gets a 500."""
    mismatches = list(_walk(services, walk_app, make_user, registered))
    assert mismatches == []
