"""Per-address login throttling: the login page and the token endpoint, over one shared count."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from fairshare.api.app import create_app
from fairshare.bootstrap import Services
from fairshare.identity.model import Role
from fairshare.settings import Settings
from fairshare.web.i18n import LANGUAGE_COOKIE
from tests.integration.web.conftest import BASE_URL, PASSWORD, UserFactory, csrf_token

LIMIT = 3  # failures from one address in the window; the per-account lockout is at 5


@pytest.fixture
def settings(tmp_path: Path, key_dir: Path) -> Settings:
    return Settings(
        environment="test",
        var_dir=tmp_path,
        key_dir=key_dir,
        database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        login_throttle_failures=LIMIT,
        login_throttle_minutes=15,
    )


def _page_login(
    client: TestClient, username: str, password: str, headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(form.text)},
        headers=headers,
        follow_redirects=False,
    )
    return answer.status_code, answer.text, dict(answer.headers)


def test_wrong_logins_on_many_accounts_from_one_address_are_throttled(
    web: TestClient, make_user: UserFactory
) -> None:
    """Guessing across accounts is refused from that address, even with the right password."""
    for number in range(LIMIT):
        make_user(Role.CASEWORKER, f"worker{number}")
        status, text, _ = _page_login(web, f"worker{number}", "not the password")
        assert status == 200 and "Wrong username or password" in text
    status, text, headers = _page_login(web, "worker0", PASSWORD)
    assert status == 429
    assert "Too many wrong logins from your network address: 3 in 15 minutes" in text
    assert 0 < int(headers["retry-after"]) <= 15 * 60
    assert "worker0" in text  # the form keeps what was typed


def test_token_endpoint_answers_problem_details_and_shares_the_count(
    web: TestClient, make_user: UserFactory
) -> None:
    """API failures count for the login page too; the API says 429 with Retry-After."""
    make_user(Role.AUDITOR, "olga.auditor")
    for _ in range(LIMIT - 1):
        refused = web.post(
            "/api/v1/auth/token", data={"username": "olga.auditor", "password": "guess"}
        )
        assert refused.status_code == 401
    status, _, _ = _page_login(web, "nobody.here", "guess")
    assert status == 200
    answer = web.post("/api/v1/auth/token", data={"username": "olga.auditor", "password": PASSWORD})
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "/problems/login-throttled"
    assert problem["status"] == 429
    assert problem["retry_after"] == int(answer.headers["retry-after"]) > 0
    assert "wait" in problem["detail"] and "network address" in problem["detail"]


def test_spanish_login_page_explains_the_wait(web: TestClient, make_user: UserFactory) -> None:
    """The throttled login page is translated like every other."""
    web.cookies.set(LANGUAGE_COOKIE, "es")
    for _ in range(LIMIT):
        _page_login(web, "nadie", "incorrecta")
    status, text, _ = _page_login(web, "nadie", "incorrecta")
    assert status == 429
    assert "Demasiados inicios de sesión fallidos desde su dirección de red" in text


def test_good_logins_do_not_clear_the_count(web: TestClient, make_user: UserFactory) -> None:
    """An attacker holding one account cannot reset the count by logging in with it."""
    make_user(Role.AUDITOR, "olga.auditor")
    for _ in range(LIMIT - 1):
        _page_login(web, "someone.else", "guess")
    ok = web.post("/api/v1/auth/token", data={"username": "olga.auditor", "password": PASSWORD})
    assert ok.status_code == 200
    _page_login(web, "someone.else", "guess")
    status, _, _ = _page_login(web, "olga.auditor", PASSWORD)
    assert status == 429


def test_forwarded_header_is_ignored_unless_configured(
    web: TestClient, make_user: UserFactory
) -> None:
    """Without a configured proxy header a client cannot dodge the count by inventing one."""
    make_user(Role.AUDITOR, "olga.auditor")
    for number in range(LIMIT):
        _page_login(web, "guess", "guess", {"X-Forwarded-For": f"198.51.100.{number}"})
    status, _, _ = _page_login(web, "olga.auditor", PASSWORD, {"X-Forwarded-For": "203.0.113.9"})
    assert status == 429


def test_configured_proxy_header_counts_each_client_apart(
    services: Services, make_user: UserFactory
) -> None:
    """Behind a proxy every client arrives from its address; the header the proxy sets
    (its last entry, the one the proxy added) names the client instead."""
    services.settings.client_address_header = "X-Forwarded-For"
    make_user(Role.AUDITOR, "olga.auditor")
    with TestClient(create_app(services), base_url=BASE_URL) as client:
        for _ in range(LIMIT):
            _page_login(client, "guess", "guess", {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})
        status, _, _ = _page_login(
            client, "olga.auditor", PASSWORD, {"X-Forwarded-For": "198.51.100.7"}
        )
        assert status == 429
        # A forged first entry does not help: the proxy's entry is still 198.51.100.7 ...
        status, _, _ = _page_login(
            client, "olga.auditor", PASSWORD, {"X-Forwarded-For": "10.9.9.9, 198.51.100.7"}
        )
        assert status == 429
        # ... while another client behind the same proxy logs in.
        status, _, _ = _page_login(
            client, "olga.auditor", PASSWORD, {"X-Forwarded-For": "198.51.100.8"}
        )
        assert status == 303


def test_throttling_logs_no_username(web: TestClient) -> None:
    """The attempted username (maybe someone's name) is not written to the server's log."""
    with capture_logs() as logs:
        name = "maria.quispe.huaman"
        for _ in range(LIMIT + 1):
            _page_login(web, name, "guess")
            web.post(
                "/api/v1/auth/token", data={"username": "maria.quispe.huaman", "password": "x"}
            )
    assert {"event": "web.login.refused", "reason": "throttled", "log_level": "info"} in logs
    assert name not in repr(logs)
