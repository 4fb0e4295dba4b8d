"""Every API operation fuzzed by schemathesis against the live OpenAPI schema of the real server.

The server (Uvicorn in a subprocess, SQLite) holds a small world: users of every role, sixty
synthetic people in households, two published programmes run and funded, a merchant.
Each operation is called as a role the authorisation table lets in, with a purpose that role
holds, and every response goes through all of schemathesis's checks: no server errors, status
codes, content types, headers and bodies as declared, invalid input refused, auth not ignored.

Bounded for CI (a few examples per operation, no deadline); `bench/run.py schemathesis` runs
the same checks with many more examples.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy import select

from fairshare.db import UnitOfWork, make_engine
from fairshare.identity import services as identity
from fairshare.identity.model import Purpose, Role
from fairshare.registry.orm import people
from fairshare.web.access import ANYONE, API_ROUTES
from tests.e2e.test_server import PASSWORD, running_server
from tests.faults import ledger_world

EXAMPLES = int(os.environ.get("FAIRSHARE_SCHEMATHESIS_EXAMPLES", "5"))
CALLS = os.environ.get("FAIRSHARE_SCHEMATHESIS_CALLS", "")  # bench: one JSON line per request
# One server for the module, on one xdist worker.
pytestmark = pytest.mark.xdist_group("schemathesis")

USERS = {
    Role.ADMINISTRATOR: "st.admin",
    Role.CASEWORKER: "st.caseworker",
    Role.PROGRAMME_OFFICER: "st.officer",
    Role.AUDITOR: "st.auditor",
    Role.MERCHANT: ledger_world.till(0).username,  # the till of the world's one shop
    Role.CITIZEN: "st.citizen",
}
# Who calls an operation open to several roles: the one whose purposes reach the most of it.
ROLE_PREFERENCE = (
    Role.PROGRAMME_OFFICER,
    Role.CASEWORKER,
    Role.AUDITOR,
    Role.MERCHANT,
    Role.ADMINISTRATOR,
    Role.CITIZEN,
)


# Operations whose schema-valid input can still be refused (422) by a rule a JSON Schema
# cannot state; for them only, "schema-valid data is accepted" does not apply. Every other
# check still runs on them, and on every other operation all checks run.
BUSINESS_RULES = {
    # a field's values are checked against its catalogue definition (type, choices, range),
    # which is data, not schema; names are checked by the red-line guard by meaning
    ("POST", "/api/v1/catalogue/fields"),
    ("POST", "/api/v1/households"),
    ("PATCH", "/api/v1/households/{household_id}"),
    ("POST", "/api/v1/households/{household_id}/members"),
    ("PATCH", "/api/v1/people/{person_id}"),
    ("POST", "/api/v1/people/{person_id}/corrections"),
    ("POST", "/api/v1/people/duplicate-check"),
    ("POST", "/api/v1/imports"),
    # at least one of several optional criteria: records are shown only in answer to a search
    ("GET", "/api/v1/people"),
    # a rule is compiled against the fields the programme declares
    ("POST", "/api/v1/programmes"),
    ("PATCH", "/api/v1/programmes/{code}"),
    ("POST", "/api/v1/programmes/{code}/simulate"),
    # a reason says something (not only blanks); a survivor is one of the pair
    ("POST", "/api/v1/dedup/reviews/{pair_id}/decision"),
    ("POST", "/api/v1/dedup/merges/{merge_id}/unmerge"),
    # a citizen's account needs a person; a username is checked after it is lowercased
    ("POST", "/api/v1/users"),
    # exactly one of amount and amount_text; amounts must be JSON integers written without a
    # fraction (money never passes through a float), while JSON Schema counts 5.0 an integer
    ("POST", "/api/v1/ledger/redemptions"),
    ("POST", "/api/v1/ledger/transfers"),
    ("POST", "/api/v1/ledger/transfers/{transfer_id}/post"),
    ("POST", "/api/v1/programmes/{code}/funding"),
    # an IBAN's check digits and a BIC's form
    ("POST", "/api/v1/ledger/merchants"),
    # a period written in the programme's own kind: 2026-11, 2026-Q4 or 2026
    ("POST", "/api/v1/programmes/{code}/cycles"),
    ("POST", "/api/v1/programmes/{code}/cycles/{period}/expire"),
    # the content of an uploaded bank file, a device's public key, signed receipts
    ("POST", "/api/v1/ledger/payouts/status"),
    ("POST", "/api/v1/offline/devices"),
    ("POST", "/api/v1/offline/devices/{device_id}/receipts"),
}


@dataclass(frozen=True)
class Live:
    base_url: str
    database_url: str
    tokens: dict[Role, str]
    known: dict[str, str]  # path parameter → an id that exists in the world


def _seed(database_url: str, var_dir: Path) -> dict[str, str]:
    """The world of the ledger tests, plus one account per role (the citizen is a person).
    Returns ids of things in it, by the name of the path parameter that takes them."""
    ledger_world.build(database_url, var_dir, people=60, merchants=1, tills=1)
    engine = make_engine(database_url)
    try:
        services = ledger_world.services_for(
            ledger_world.WorldInfo(database_url, str(var_dir), 1, 1), engine
        )
        person_id = ledger_world.enrolled(services, ledger_world.MONEY)[0][0]
        with services.uow() as uow:
            household_id = uow.connection.execute(
                select(people.c.household_id).where(people.c.id == person_id)
            ).scalar_one()
        for role, username in USERS.items():
            identity.create_user(
                UnitOfWork(engine),
                username,
                PASSWORD,
                role,
                person_id=person_id if role is Role.CITIZEN else None,
            )
    finally:
        engine.dispose()
    return {
        "person_id": person_id,
        "household_id": household_id,
        "code": ledger_world.MONEY,
        "period": ledger_world.REFERENCE.strftime("%Y-%m"),
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp_path = tmp_path_factory.mktemp("schemathesis")
    database_url = f"sqlite:///{tmp_path / 'fairshare.sqlite3'}"
    # The world's keys land in tmp_path/keys, where the server looks for them.
    known = _seed(database_url, tmp_path)
    with (
        running_server(database_url, tmp_path) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        tokens = {}
        for role, username in USERS.items():
            answer = http.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            tokens[role] = answer.json()["access_token"]
        yield Live(server.base_url, database_url, tokens, known)


@pytest.fixture(scope="module")
def api_schema(live: Live) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")

    @loaded.hook("flatmap_case")
    def _sometimes_real_ids(_context: schemathesis.HookContext, case: Case) -> Any:
        """Valid requests name a real person, household or programme half the time, so they
        get past 404 into the operation's logic; invalid requests are left as generated."""
        known = {
            name: live.known[name] for name in case.path_parameters or {} if name in live.known
        }
        if not known or not _positive(case):
            return st.just(case)

        def choose(real: bool) -> Case:
            if real:
                case.path_parameters = {**(case.path_parameters or {}), **known}
            return case

        return st.booleans().map(choose)

    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis's lazy loader reads `node._nodeid`, which pytest 9 no longer sets; it only
    labels the per-operation subtests with it."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _caller(method: str, path: str) -> Role | None:
    """The role this operation is called as; None for an operation open to anyone."""
    allowed = API_ROUTES[(method, path)]
    if allowed == ANYONE:
        return None
    return next(role for role in ROLE_PREFERENCE if role in allowed)


def _purpose(role: Role, path: str) -> Purpose | None:
    """A purpose the operation accepts, for the roles that hold more than one."""
    if role is Role.CASEWORKER:
        if "/verifications" in path or path.startswith("/api/v1/cards"):
            return Purpose.IDENTITY_VERIFICATION
        if "corrections" in path:
            return Purpose.CORRECTION_HANDLING
        if "appeals" in path or "decisions" in path:
            return Purpose.APPEAL_REVIEW
        if path in ("/api/v1/households", "/api/v1/people/duplicate-check"):
            return Purpose.REGISTRATION
        if path.startswith("/api/v1/dedup/"):
            return Purpose.DUPLICATE_REVIEW
        return Purpose.CASE_MANAGEMENT
    if role is Role.PROGRAMME_OFFICER:
        money = ("/ledger", "/funding", "/cycles", "/payouts")
        return Purpose.DISBURSEMENT if any(m in path for m in money) else Purpose.PROGRAMME_DESIGN
    if role is Role.ADMINISTRATOR:
        return Purpose.BULK_REGISTRATION if path == "/api/v1/imports" else Purpose.ADMINISTRATION
    return None


def _positive(case: Case) -> bool:
    return case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE


def _spare_token(live: Live) -> str:
    """A new token for the auditor, issued directly: logging out revokes the one it is sent."""
    engine = make_engine(live.database_url)
    try:
        user = identity.find_user(UnitOfWork(engine), USERS[Role.AUDITOR])
        assert user is not None
        return identity.issue_token(UnitOfWork(engine), user, timedelta(hours=1), "api")
    finally:
        engine.dispose()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,  # a 2-core CI machine shared with other jobs: timing says nothing here
    suppress_health_check=list(HealthCheck),  # slow generation on big schemas is expected
    derandomize=True,  # the same examples each run: CI failures reproduce
)
def test_api_conforms_to_its_schema(case: Case, live: Live) -> None:
    """Every operation answers inside its declared schema, with no server error, for any input."""
    headers: dict[str, str] = {}
    role = _caller(case.operation.method.upper(), case.operation.path)
    if case.operation.path == "/api/v1/auth/logout":
        headers["Authorization"] = f"Bearer {_spare_token(live)}"  # the shared ones stay valid
    elif role is not None:
        headers["Authorization"] = f"Bearer {live.tokens[role]}"
        purpose = _purpose(role, case.operation.path)
        # Valid requests act for a purpose the operation accepts, so they reach its logic;
        # invalid ones keep whatever purpose schemathesis made up.
        if purpose is not None and _positive(case):
            headers["X-Fairshare-Purpose"] = purpose.value
    operation = (case.operation.method.upper(), case.operation.path)
    excluded = [positive_data_acceptance] if operation in BUSINESS_RULES else []
    response = case.call(base_url=live.base_url, headers=headers, timeout=60)
    if response.status_code == 413 and not _positive(case):
        # Too big to read: the body-size limit refused it before its schema was checked,
        # which is a rejection too (schemathesis only counts 4xx codes of schema errors).
        excluded.append(negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded, headers=headers)
    if CALLS:  # the benchmark counts what was exercised
        with Path(CALLS).open("a") as calls:
            record = {"operation": f"{operation[0]} {operation[1]}", "status": response.status_code}
            calls.write(json.dumps(record) + "\n")
