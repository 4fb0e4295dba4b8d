"""The real server: Uvicorn in a subprocess, driven over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import fairshare
from fairshare import schema
from fairshare.db import UnitOfWork, make_engine
from fairshare.identity import services as identity
from fairshare.identity.model import Role
from tests.conftest import create_postgres_database, drop_postgres_database

PASSWORD = "correct horse battery staple"
START_TIMEOUT = 60.0  # a loaded 2-core CI machine can take this long to import everything
# Distinctive values: each appears nowhere else in the database, so finding one is a leak.
DISABILITY = "psychosocial"
CHRONIC_ILLNESS = "tuberculosis"
FAMILY_NAMES = "Zapatacruz Ollanta"


@dataclass(frozen=True)
class Server:
    base_url: str
    database_url: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(database_url: str) -> None:
    """Migrate the database and create the accounts the flows log in with."""
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine)
        for username, role in (
            ("ada.admin", Role.ADMINISTRATOR),
            ("luis.caseworker", Role.CASEWORKER),
            ("olga.auditor", Role.AUDITOR),
            ("pia.officer", Role.PROGRAMME_OFFICER),
        ):
            identity.create_user(
                UnitOfWork(engine),
                username,
                PASSWORD,
                role,
                display_name=username.split(".")[0].title(),
            )
    finally:
        engine.dispose()


@contextmanager
def running_server(
    database_url: str, tmp_path: Path, log_level: str = "warning"
) -> Iterator[Server]:
    """Start `uvicorn fairshare.api.app:create_app --factory`, wait for /healthz, stop after."""
    port = _free_port()
    source = str(Path(fairshare.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p),
        "FAIRSHARE_DATABASE_URL": database_url,
        "FAIRSHARE_VAR_DIR": str(tmp_path / "var"),
        "FAIRSHARE_KEY_DIR": str(tmp_path / "keys"),
        "FAIRSHARE_ENVIRONMENT": "test",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "fairshare.api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                log_level,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(process, base_url, log_path)
            yield Server(base_url, database_url, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the server did not answer /healthz in {START_TIMEOUT} s:\n{log.read_text()}")


def log_in(http: httpx.Client, username: str, purpose: str | None = None) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    if purpose:
        headers["X-Fairshare-Purpose"] = purpose
    return headers


def register_household_with_health_values(http: httpx.Client) -> dict[str, Any]:
    caseworker = log_in(http, "luis.caseworker", "registration")
    response = http.post(
        "/api/v1/households",
        headers=caseworker,
        json={
            "fields": {"region": "Sierra Central", "address": "Calle Los Álamos 12"},
            "members": [
                {
                    "fields": {
                        "given_names": "Rosa Elena",
                        "family_names": FAMILY_NAMES,
                        "date_of_birth": "1961-04-09",
                        "sex": "female",
                        "relationship_to_head": "head",
                        "monthly_income": "70.00",
                        "disability": DISABILITY,
                        "chronic_illness": CHRONIC_ILLNESS,
                    },
                    "health_consent": True,
                    "consent_method": "signed form",
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database with accounts, of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fairshare.sqlite3'}"
        _prepare(url)
        yield url
        return
    url, admin = create_postgres_database("fairshare_e2e")
    try:
        _prepare(url)
        yield url
    finally:
        drop_postgres_database(url, admin)


def test_register_read_and_see_who_read(database_url: str, tmp_path: Path) -> None:
    """Over real HTTP: register with health data, read it, and the person sees who read it."""
    with (
        running_server(database_url, tmp_path) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        household = register_household_with_health_values(http)
        person_id = household["members"][0]["id"]

        nurse = log_in(http, "luis.caseworker", "health_assessment")
        record = http.get(f"/api/v1/people/{person_id}", headers=nurse)
        assert record.status_code == 200, record.text
        assert record.json()["fields"]["family_names"] == FAMILY_NAMES
        assert record.json()["health"] == {
            "disability": DISABILITY,
            "chronic_illness": CHRONIC_ILLNESS,
        }
        assert record.headers["x-content-type-options"] == "nosniff"

        admin = log_in(http, "ada.admin", "administration")
        created = http.post(
            "/api/v1/users",
            headers=admin,
            json={
                "username": "rosa.citizen",
                "password": PASSWORD,
                "role": "citizen",
                "person_id": person_id,
            },
        )
        assert created.status_code == 201, created.text

        citizen = log_in(http, "rosa.citizen")
        report = http.get("/api/v1/me/access-report", headers=citizen)
        assert report.status_code == 200, report.text
        reads = {
            (line["actor"], line["role"], line["purpose"])
            for line in report.json()
            if line["action"] == "registry:person:read"
        }
        assert reads == {("luis.caseworker", "caseworker", "health_assessment")}

        verified = http.get("/api/v1/audit/verify", headers=log_in(http, "olga.auditor"))
        assert verified.json()["ok"] is True, verified.text


def test_sqlite_file_holds_no_plaintext_health_values(tmp_path: Path) -> None:
    """A dump of the SQLite files shows the family name but never a health value."""
    path = tmp_path / "fairshare.sqlite3"
    url = f"sqlite:///{path}"
    _prepare(url)
    with (
        running_server(url, tmp_path) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        register_household_with_health_values(http)
    dump = b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )
    assert FAMILY_NAMES.encode() in dump  # the dump does see stored text
    assert DISABILITY.encode() not in dump
    assert CHRONIC_ILLNESS.encode() not in dump
