"""Fixtures for driving the web pages in-process: the app over the test transaction, users,
logging in through the login form, and a registered household to look at.

The client talks https://testserver: the session cookie is Secure and an http client would
never send it back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from fairshare.api.app import create_app
from fairshare.bootstrap import Services
from fairshare.identity import services as identity
from fairshare.identity.model import Purpose, Role
from fairshare.registry.services import MemberInput
from tests.conftest import actor

PASSWORD = "correct horse battery staple"
BASE_URL = "https://testserver"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Distinctive personal data: finding it anywhere outside a page body is a leak.
GIVEN_NAMES = "Rosa Elena"
FAMILY_NAMES = "Zapatacruz Ollanta"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its lowest cost: these tests log in dozens of times (the e2e tests do not)."""
    monkeypatch.setattr(
        identity, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@pytest.fixture
def web(services: Services) -> Iterator[TestClient]:
    """A browser-like client for the pages, inside the test's rolled-back transaction."""
    with TestClient(create_app(services), base_url=BASE_URL) as client:
        yield client


def new_client(services: Services) -> TestClient:
    """Another browser, with its own cookies, on the same application and transaction."""
    return TestClient(create_app(services), base_url=BASE_URL)


def log_in(client: TestClient, username: str, purpose: Purpose | None = None) -> str:
    """Log in through the login form (and choose the purpose); returns the CSRF token."""
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    if answer.headers["location"].startswith("/purpose"):
        chooser = client.get(answer.headers["location"])
        token = csrf_token(chooser.text)
        chosen = client.post(
            "/purpose",
            data={"purpose": (purpose or Purpose.CASE_MANAGEMENT).value, "csrf_token": token},
            follow_redirects=False,
        )
        assert chosen.status_code == 303, chosen.text
        return token
    return csrf_token(client.get("/").text)


UserFactory = Callable[..., str]


@pytest.fixture
def make_user(services: Services) -> UserFactory:
    """Create an account with a role; returns its username."""

    def make(role: Role, username: str | None = None, person_id: str | None = None) -> str:
        name = username or f"{role.value.replace('_', '-')}.user"
        identity.create_user(
            services.uow(), name, PASSWORD, role, display_name=name.title(), person_id=person_id
        )
        return name

    return make


@dataclass(frozen=True)
class Registered:
    household_id: str
    person_id: str
    member_id: str


@pytest.fixture
def registered(services: Services) -> Registered:
    """A household of two, the head with a health value and consent, registered by a caseworker."""
    household = services.registry.register_household(
        actor(Role.CASEWORKER, Purpose.REGISTRATION, username="ana.registrar"),
        {"region": "Sierra Central", "address": "Calle Los Álamos 12"},
        [
            MemberInput(
                {
                    "given_names": GIVEN_NAMES,
                    "family_names": FAMILY_NAMES,
                    "date_of_birth": "1961-04-09",
                    "sex": "female",
                    "relationship_to_head": "head",
                    "monthly_income": "70.00",
                    "disability": "psychosocial",
                },
                health_consent=True,
            ),
            MemberInput(
                {
                    "given_names": "Tomás",
                    "family_names": FAMILY_NAMES,
                    "date_of_birth": "2015-02-01",
                    "sex": "male",
                    "relationship_to_head": "child",
                }
            ),
        ],
    )
    return Registered(household.id, household.members[0].id, household.members[1].id)
