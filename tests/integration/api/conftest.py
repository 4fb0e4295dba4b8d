"""Fixtures for driving the HTTP API in-process: an app over the test transaction, and users."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from fairshare.api.app import create_app
from fairshare.bootstrap import Services
from fairshare.identity import services as identity
from fairshare.identity.model import Role

PASSWORD = "correct horse battery staple"
Headers = dict[str, str]


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its production cost takes ~0.3 s per hash; these tests hash dozens of times.

    The real argon2 code still runs, with the lowest cost it accepts. The e2e tests keep the
    production parameters.
    """
    monkeypatch.setattr(
        identity, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """An HTTP client for the app, every request inside the test's rolled-back transaction."""
    with TestClient(create_app(services)) as client:
        yield client


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> Headers:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


UserFactory = Callable[..., Headers]


@pytest.fixture
def user(services: Services, client: TestClient) -> UserFactory:
    """Create a user with a role, log in over HTTP, and return the Authorization header."""

    def make(
        role: Role,
        username: str | None = None,
        person_id: str | None = None,
        purpose: str | None = None,
    ) -> Headers:
        name = username or f"{role.value.replace('_', '-')}.user"
        identity.create_user(services.uow(), name, PASSWORD, role, person_id=person_id)
        headers = log_in(client, name)
        if purpose is not None:
            headers["X-Fairshare-Purpose"] = purpose
        return headers

    return make
