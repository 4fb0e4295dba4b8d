"""Logging in and out, choosing a purpose, choosing a language, and the start page."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import structlog
from fastapi import APIRouter
from starlette.responses import Response

from fairshare.identity import services as identity
from fairshare.identity.model import ROLE_PURPOSES, Purpose
from fairshare.identity.throttle import LoginThrottle, LoginThrottled, ThrottlePolicy, address_of
from fairshare.web import sessions
from fairshare.web.forms import FormErrors, FormField
from fairshare.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from fairshare.web.navigation import menu_for
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()
log = structlog.get_logger("fairshare.web")
LOCKED_UNTIL = re.compile(r"locked .* until (?P<until>\S+);")
ONE_YEAR = 365 * 24 * 3600


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to continue to after a form; anything else (another site) is ignored."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target[:300]
    return default


def _login_form(
    visit: Visit, username: str = "", errors: FormErrors | None = None
) -> list[FormField]:
    errors = errors or FormErrors()
    return [
        FormField(
            "username",
            visit._("Username"),
            value=username,
            error=errors.by_name.get("username", ""),
            autocomplete="username",
            max_length=80,
        ),
        FormField(
            "password",
            visit._("Password"),
            kind="password",
            error=errors.by_name.get("password", ""),
            autocomplete="current-password",
            max_length=200,
        ),
    ]


@page(router, "GET", "/login")
def login_form(visit: Visit) -> Response:
    if visit.user is not None:
        return redirect("/")
    return render(
        visit,
        "auth/login.html",
        fields=_login_form(visit),
        errors=FormErrors(),
        next=safe_next(visit.request.query_params.get("next"), ""),
        logged_out="bye" in visit.request.query_params,
    )


@page(router, "POST", "/login")
def log_in(visit: Visit) -> Response:
    if visit.user is not None:
        return redirect("/")
    username = visit.field("username", 80).strip()
    password = visit.field("password", 200)
    next_path = safe_next(visit.field("next", 300), "")
    errors = FormErrors()
    if not username:
        errors.add("username", visit._("Enter your username"))
    if not password:
        errors.add("password", visit._("Enter your password"))
    throttle: LoginThrottle = visit.request.app.state.login_throttle
    address = address_of(
        visit.request.client.host if visit.request.client else None,
        visit.request.headers,
        visit.services.settings.client_address_header,
    )
    if not errors:
        try:
            throttle.check(address)
        except LoginThrottled as throttled:
            return _throttled(visit, username, next_path, throttled, throttle.policy)
        settings = visit.services.settings
        try:
            user = identity.authenticate(
                visit.services.uow(),
                username,
                password,
                max_failures=settings.max_failed_logins,
                lockout=timedelta(minutes=settings.lockout_minutes),
            )
        except identity.LoginRefused as refused:
            throttle.record_failure(address)
            locked = LOCKED_UNTIL.search(refused.message)
            log.info("web.login.refused", reason="locked" if locked else "credentials")
            if locked:
                errors.general.append(
                    visit._(
                        "This account is locked after repeated wrong passwords until %(until)s "
                        "(UTC). Try again then, or ask an administrator to unlock it.",
                        until=locked.group("until").replace("T", " "),
                    )
                )
            else:
                errors.general.append(
                    visit._(
                        "Wrong username or password. After %(count)s wrong passwords in a row "
                        "the account is locked for %(minutes)s minutes.",
                        count=settings.max_failed_logins,
                        minutes=settings.lockout_minutes,
                    )
                )
        else:
            return _start_session(visit, user, next_path)
    return render(
        visit,
        "auth/login.html",
        status=422 if errors.by_name else 200,
        fields=_login_form(visit, username, errors),
        errors=errors,
        next=next_path,
        logged_out=False,
    )


def _throttled(
    visit: Visit, username: str, next_path: str, throttled: LoginThrottled, policy: ThrottlePolicy
) -> Response:
    """The login form again, saying how long this network address must wait (429)."""
    log.info("web.login.refused", reason="throttled")
    errors = FormErrors()
    errors.general.append(
        visit._(
            "Too many wrong logins from your network address: %(count)s in %(minutes)s "
            "minutes. Wait %(seconds)s seconds and try again, or ask an administrator if you "
            "have forgotten your password.",
            count=policy.max_failures,
            minutes=policy.window_seconds // 60,
            seconds=throttled.retry_after,
        )
    )
    response = render(
        visit,
        "auth/login.html",
        status=429,
        fields=_login_form(visit, username, errors),
        errors=errors,
        next=next_path,
        logged_out=False,
    )
    response.headers["Retry-After"] = str(throttled.retry_after)
    return response


def _start_session(visit: Visit, user: identity.User, next_path: str) -> Response:
    purposes = ROLE_PURPOSES[user.role]
    only_purpose = next(iter(purposes)) if len(purposes) == 1 else None
    token, _session = sessions.open_session(
        visit.services.uow(), user, only_purpose, visit.request.app.state.web_session_policy
    )
    log.info("web.login.succeeded", role=user.role.value)
    target = next_path or "/"
    if only_purpose is None:
        target = f"/purpose?next={quote(target)}"
    response = redirect(target)
    response.set_cookie(
        sessions.COOKIE_NAME, token, httponly=True, secure=True, samesite="strict", path="/"
    )
    return response


@page(router, "POST", "/logout")
def log_out(visit: Visit) -> Response:
    assert visit.session is not None  # the page is for signed-in visitors only
    sessions.revoke(visit.services.uow(), visit.session.id)
    log.info("web.logout", role=visit.role.value if visit.role else "")
    response = redirect("/login?bye=1")
    response.delete_cookie(
        sessions.COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


@page(router, "GET", "/purpose")
def purpose_form(visit: Visit) -> Response:
    assert visit.user is not None
    return render(
        visit,
        "auth/purpose.html",
        purposes=[p for p in Purpose if p in ROLE_PURPOSES[visit.user.role]],
        next=safe_next(visit.request.query_params.get("next")),
        error="",
    )


@page(router, "POST", "/purpose")
def choose_purpose(visit: Visit) -> Response:
    assert visit.user is not None and visit.session is not None
    own = [p for p in Purpose if p in ROLE_PURPOSES[visit.user.role]]
    chosen = visit.field("purpose", 60)
    next_path = safe_next(visit.field("next", 300))
    if chosen not in {p.value for p in own}:
        return render(
            visit,
            "auth/purpose.html",
            status=422,
            purposes=own,
            next=next_path,
            error=visit._("Choose the purpose you are working for"),
        )
    sessions.choose_purpose(visit.services.uow(), visit.session.id, Purpose(chosen))
    log.info("web.purpose.chosen", role=visit.user.role.value, purpose=chosen)
    return redirect(next_path)


@page(router, "POST", "/language")
def choose_language(visit: Visit) -> Response:
    language = visit.field("language", 5)
    response = redirect(safe_next(visit.field("next", 300)))
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=ONE_YEAR, secure=True, samesite="lax", path="/"
        )
    return response


@page(router, "GET", "/")
def start_page(visit: Visit) -> Response:
    """The start page: what this role can do here."""
    return render(
        visit,
        "auth/home.html",
        items=[i for i in menu_for(visit.role) if i.path != "/transparency"],
    )
