"""Logging in and out, lockout, purposes, session cookies and timeouts, CSRF."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from fairshare.bootstrap import Services
from fairshare.identity import services as identity
from fairshare.identity.model import Purpose, Role
from fairshare.web.sessions import COOKIE_NAME, SessionPolicy
from tests.integration.web.conftest import (
    PASSWORD,
    UserFactory,
    csrf_token,
    log_in,
    new_client,
)


def test_login_shows_the_start_page_and_logout_revokes_the_session(
    web: TestClient, make_user: UserFactory
) -> None:
    """After logout the old session cookie opens nothing, even if replayed."""
    make_user(Role.AUDITOR, "olga.auditor")
    token = log_in(web, "olga.auditor")
    cookie = web.cookies.get(COOKIE_NAME)
    assert cookie
    start = web.get("/")
    assert start.status_code == 200
    assert "Olga.Auditor" in start.text and "Access log" in start.text

    out = web.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login?bye=1"
    web.cookies.clear()
    replayed = web.get(
        "/auditor/log", headers={"Cookie": f"{COOKIE_NAME}={cookie}"}, follow_redirects=False
    )
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


def test_session_cookie_is_host_only_secure_httponly_strict(
    web: TestClient, make_user: UserFactory
) -> None:
    """The session cookie cannot be read by script, sent over http, or sent cross-site."""
    make_user(Role.AUDITOR, "olga.auditor")
    form = web.get("/login")
    answer = web.post(
        "/login",
        data={
            "username": "olga.auditor",
            "password": PASSWORD,
            "csrf_token": csrf_token(form.text),
        },
        follow_redirects=False,
    )
    cookie = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith(f"{COOKIE_NAME}=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
    assert not any(a.startswith(("domain", "max-age", "expires")) for a in attributes)


def test_wrong_password_keeps_the_username_and_says_what_happens(
    web: TestClient, make_user: UserFactory
) -> None:
    """A refused login names no account and warns about the lockout."""
    make_user(Role.AUDITOR, "olga.auditor")
    form = web.get("/login")
    answer = web.post(
        "/login",
        data={"username": "olga.auditor", "password": "wrong", "csrf_token": csrf_token(form.text)},
    )
    assert "Wrong username or password" in answer.text
    assert "the account is locked for 15 minutes" in answer.text
    assert 'value="olga.auditor"' in answer.text
    assert web.cookies.get(COOKIE_NAME) is None


def test_lockout_is_announced_with_its_end(web: TestClient, make_user: UserFactory) -> None:
    """After five wrong passwords even the right one is refused, with the time it ends."""
    make_user(Role.AUDITOR, "olga.auditor")
    token = csrf_token(web.get("/login").text)
    for _ in range(5):
        web.post(
            "/login", data={"username": "olga.auditor", "password": "nope", "csrf_token": token}
        )
    answer = web.post(
        "/login", data={"username": "olga.auditor", "password": PASSWORD, "csrf_token": token}
    )
    assert "This account is locked after repeated wrong passwords until" in answer.text
    assert "ask an administrator to unlock it" in answer.text


def test_empty_login_fields_are_named(web: TestClient) -> None:
    """Missing username and password are reported next to each field."""
    token = csrf_token(web.get("/login").text)
    answer = web.post("/login", data={"username": "", "password": "", "csrf_token": token})
    assert answer.status_code == 422
    assert 'id="f-username-error"' in answer.text and "Enter your username" in answer.text
    assert 'id="f-password-error"' in answer.text and "Enter your password" in answer.text


def test_a_role_with_several_purposes_must_choose_one(
    web: TestClient, make_user: UserFactory
) -> None:
    """A caseworker lands on the purpose choice; every page waits for it."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    form = web.get("/login")
    answer = web.post(
        "/login",
        data={
            "username": "luis.caseworker",
            "password": PASSWORD,
            "csrf_token": csrf_token(form.text),
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/purpose?next=/"
    waiting = web.get("/caseworker/search", follow_redirects=False)
    assert waiting.status_code == 303
    assert waiting.headers["location"] == "/purpose?next=/caseworker/search"


def test_purpose_is_shown_and_changed_by_post(web: TestClient, make_user: UserFactory) -> None:
    """The header names the purpose; changing it is a CSRF-checked POST."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    assert "Acting for:" in web.get("/").text
    assert "<strong>Registration</strong>" in web.get("/").text
    changed = web.post(
        "/purpose",
        data={"purpose": "health_assessment", "next": "/caseworker/search", "csrf_token": token},
        follow_redirects=False,
    )
    assert changed.headers["location"] == "/caseworker/search"
    assert "<strong>Health assessment</strong>" in web.get("/").text
    refused = web.post("/purpose", data={"purpose": "audit", "csrf_token": token})
    assert refused.status_code == 422
    assert "<strong>Health assessment</strong>" in refused.text


def test_page_for_another_purpose_offers_the_switch(
    web: TestClient, make_user: UserFactory
) -> None:
    """Opening the correction queue under registration opens nothing and offers the switch."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    page = web.get("/caseworker/corrections")
    assert "This page needs another purpose" in page.text
    assert 'value="correction_handling"' in page.text


def test_idle_sessions_end(services: Services, make_user: UserFactory) -> None:
    """A session unused for longer than the idle timeout no longer opens pages."""
    make_user(Role.AUDITOR, "olga.auditor")
    with new_client(services) as client:
        client.app.state.web_session_policy = SessionPolicy(idle=timedelta(0))  # type: ignore[attr-defined]
        log_in_answer = client.post(
            "/login",
            data={
                "username": "olga.auditor",
                "password": PASSWORD,
                "csrf_token": csrf_token(client.get("/login").text),
            },
            follow_redirects=False,
        )
        assert log_in_answer.status_code == 303
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_sessions_end_at_the_absolute_timeout(services: Services, make_user: UserFactory) -> None:
    """However busy, a session ends a fixed time after login."""
    make_user(Role.AUDITOR, "olga.auditor")
    with new_client(services) as client:
        client.app.state.web_session_policy = SessionPolicy(absolute=timedelta(0))  # type: ignore[attr-defined]
        client.post(
            "/login",
            data={
                "username": "olga.auditor",
                "password": PASSWORD,
                "csrf_token": csrf_token(client.get("/login").text),
            },
        )
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_deactivating_an_account_ends_its_sessions(
    services: Services, web: TestClient, make_user: UserFactory
) -> None:
    """A deactivated user's open session stops working at once."""
    make_user(Role.AUDITOR, "olga.auditor")
    log_in(web, "olga.auditor")
    identity.set_active(services.uow(), "olga.auditor", False)
    assert web.get("/auditor/log", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused_before_anything_else(
    web: TestClient, make_user: UserFactory
) -> None:
    """A forged form changes nothing and the page says what to do."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    for token in ("", "forged"):
        answer = web.post("/purpose", data={"purpose": "health_assessment", "csrf_token": token})
        assert answer.status_code == 403
        assert "The form could not be accepted" in answer.text
        assert "reload the page and send the form again" in answer.text
    assert "<strong>Registration</strong>" in web.get("/").text


def test_login_form_needs_its_presession_token(web: TestClient, make_user: UserFactory) -> None:
    """A login posted from another site (no pre-session cookie, no token) is refused."""
    make_user(Role.AUDITOR, "olga.auditor")
    answer = web.post("/login", data={"username": "olga.auditor", "password": PASSWORD})
    assert answer.status_code == 403
    assert web.cookies.get(COOKIE_NAME) is None


def test_next_page_after_login_is_local_only(web: TestClient, make_user: UserFactory) -> None:
    """The page to return to after login can never be another site."""
    make_user(Role.AUDITOR, "olga.auditor")
    token = csrf_token(web.get("/login?next=//evil.example/x").text)
    answer = web.post(
        "/login",
        data={
            "username": "olga.auditor",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"
