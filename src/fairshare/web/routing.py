"""How every page is served: session, CSRF check, authorisation, then the page itself.

Pages are plain functions `page(visit, **path_parameters) -> Response`, registered with
`@page(router, "GET", "/path")`. Before a page runs, `serve`:

1. resolves the session cookie to a live session and an active account;
2. for a POST, reads the form and checks its CSRF token, before anything else;
3. checks the route against the authorisation table (`access.py`): someone not logged in is
   sent to the login page, a role not listed gets 403, a role with several purposes that has
   not chosen one is sent to choose it;
4. runs the page (in a worker thread: the services are synchronous), and turns the errors a
   user can act on into pages that say what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from fairshare.bootstrap import Services
from fairshare.errors import (
    Conflict,
    FairshareError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from fairshare.identity import services as identity
from fairshare.identity.model import ROLE_PURPOSES, Actor, Purpose, Role
from fairshare.identity.services import User
from fairshare.web import csrf
from fairshare.web.access import ANYONE, WEB_ROUTES, Allowed, Route
from fairshare.web.i18n import LANGUAGE_COOKIE, Translator, negotiate
from fairshare.web.rendering import error_page, redirect, render
from fairshare.web.sessions import COOKIE_NAME, SessionPolicy, WebSession, find_session, revoke

log = structlog.get_logger("fairshare.web")

# Pages a multi-purpose role may open before choosing its purpose.
BEFORE_PURPOSE: frozenset[Route] = frozenset(
    {("GET", "/purpose"), ("POST", "/purpose"), ("POST", "/logout"), ("POST", "/language")}
)


class PurposeSwitchNeeded(Exception):
    """The page works only under purposes the session is not acting for."""

    def __init__(self, accepted: frozenset[Purpose]) -> None:
        super().__init__("this page needs another purpose")
        self.accepted = accepted


@dataclass
class Visit:
    """One request to a page: who is asking, in which language, with which form."""

    request: Request
    services: Services
    route: Route
    language: str
    session: WebSession | None = None
    user: User | None = None
    form: FormData | None = None
    presession: str = ""
    presession_is_new: bool = False
    stale_session_cookie: bool = False

    @property
    def translator(self) -> Translator:
        return Translator(self.language)

    def _(self, message: str, /, **values: Any) -> str:
        return self.translator.gettext(message, **values)

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def csrf_token(self) -> str:
        if self.session is not None:
            return self.session.csrf_secret
        secret = self.services.settings.secret_key.get_secret_value()
        return csrf.presession_token(secret, self.presession)

    @property
    def role(self) -> Role | None:
        return None if self.user is None else self.user.role

    @property
    def purpose(self) -> Purpose | None:
        return None if self.session is None else self.session.purpose

    @property
    def actor(self) -> Actor:
        """The signed-in user acting for the session's purpose, as every service expects."""
        if self.user is None or self.session is None or self.session.purpose is None:
            raise Unauthenticated("log in and choose a purpose first")
        return Actor(
            self.user.username,
            self.user.role,
            self.session.purpose,
            person_id=self.user.person_id,
            user_id=self.user.id,
        )

    def field(self, name: str, limit: int = 2000) -> str:
        """A text value of the submitted form ('' when absent); never longer than `limit`."""
        value = None if self.form is None else self.form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    def checked(self, name: str) -> bool:
        return self.field(name, 10) not in ("", "0", "false", "off")

    def require_purpose(self, accepted: frozenset[Purpose]) -> None:
        """Stop the page with an offer to switch purpose unless the session acts for one of
        `accepted` (so a page never calls a service that would refuse, and log, the access)."""
        if self.purpose not in accepted:
            raise PurposeSwitchNeeded(accepted)


Page = Callable[..., Response]
P = TypeVar("P", bound=Page)


def page(router: APIRouter, method: str, path: str) -> Callable[[P], P]:
    """Register a page on the router; it must have a row in the authorisation table."""
    route = (method, path)
    if route not in WEB_ROUTES:
        raise LookupError(f"{method} {path} has no row in fairshare/web/access.py; add one")
    allowed = WEB_ROUTES[route]

    def register(handler: P) -> P:
        async def endpoint(request: Request) -> Response:
            return await serve(request, route, allowed, handler)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            include_in_schema=False,
            response_class=HTMLResponse,
            response_model=None,
        )
        return handler

    return register


async def serve(request: Request, route: Route, allowed: Allowed, handler: Page) -> Response:
    visit = await run_in_threadpool(begin_visit, request, route)
    if route[0] == "POST":
        visit.form = await request.form()
        if not csrf.matches(visit.csrf_token, visit.field(csrf.FIELD_NAME, 200)):
            log.warning("web.csrf.refused", route=route[1])
            return finish(visit, csrf_refused(visit))
    response = gate(visit, allowed)
    if response is None:
        try:
            response = await run_in_threadpool(handler, visit, **request.path_params)
        except PurposeSwitchNeeded as needed:
            response = purpose_prompt(visit, needed.accepted)
        except FairshareError as error:
            response = problem_page(visit, error)
    return finish(visit, response)


def begin_visit(request: Request, route: Route) -> Visit:
    """Who is visiting: the live session and active account behind the cookie, if any."""
    services: Services = request.app.state.services
    policy: SessionPolicy = request.app.state.web_session_policy
    visit = Visit(
        request,
        services,
        route,
        negotiate(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")),
    )
    token = request.cookies.get(COOKIE_NAME)
    if token:
        session = find_session(services.uow(), token[:100], policy)
        user = None if session is None else identity.find_user(services.uow(), session.username)
        if session is not None and user is not None and user.active and user.id == session.user_id:
            visit.session, visit.user = session, user
        else:
            if session is not None:
                revoke(services.uow(), session.id)
            visit.stale_session_cookie = True
    visit.presession = request.cookies.get(csrf.PRESESSION_COOKIE, "")[:100]
    if not visit.presession:
        visit.presession, visit.presession_is_new = csrf.new_presession(), True
    return visit


def gate(visit: Visit, allowed: Allowed) -> Response | None:
    """None when the visitor may open the page; otherwise the answer instead of it."""
    if allowed == ANYONE:
        return None
    if visit.user is None:
        if visit.route[0] == "GET":
            return redirect(f"/login?next={quote(visit.path)}")
        return redirect("/login")
    if visit.user.role not in allowed:
        log.warning("web.access.denied", route=visit.route[1], role=visit.user.role.value)
        return error_page(
            visit,
            403,
            visit._("Not for your role"),
            visit._("This page is not open to your role."),
            visit._("Use the menu to reach the pages of your role."),
        )
    if (
        visit.purpose is None
        and len(ROLE_PURPOSES[visit.user.role]) > 1
        and visit.route not in BEFORE_PURPOSE
    ):
        return redirect(f"/purpose?next={quote(visit.path)}")
    return None


def finish(visit: Visit, response: Response) -> Response:
    """Cookies every answer may carry: the pre-session for forms, and no stale session."""
    if visit.presession_is_new and visit.session is None:
        response.set_cookie(
            csrf.PRESESSION_COOKIE,
            visit.presession,
            httponly=True,
            secure=True,
            samesite="strict",
            path="/",
        )
    if visit.stale_session_cookie:
        response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")
    return response


def csrf_refused(visit: Visit) -> Response:
    return error_page(
        visit,
        403,
        visit._("The form could not be accepted"),
        visit._(
            "The form was not sent from this page as it is now: it may have been open for "
            "too long, or you logged out or in since."
        ),
        visit._(
            "Go back, reload the page and send the form again. If you were logged out, log in "
            "again first. Nothing was changed."
        ),
    )


def purpose_prompt(visit: Visit, accepted: frozenset[Purpose]) -> Response:
    role = visit.role
    offered = [p for p in Purpose if p in accepted and role and p in ROLE_PURPOSES[role]]
    return render(visit, "auth/purpose_needed.html", offered=offered)


def problem_page(visit: Visit, error: FairshareError) -> Response:
    """An error a page did not handle itself, as a page saying what to do."""
    if isinstance(error, Unauthenticated):
        return redirect("/login")
    if isinstance(error, Forbidden):
        return error_page(
            visit,
            403,
            visit._("Not allowed"),
            visit._("Your role and purpose do not allow this. The refusal was recorded."),
            visit._("If you need it for your work, change your purpose or ask an administrator."),
        )
    if isinstance(error, NotFound):
        return error_page(
            visit,
            404,
            visit._("Not found"),
            visit._("There is nothing here: it may have been removed, or the link is wrong."),
            visit._("Search again, or go back to the previous page."),
        )
    if isinstance(error, Conflict):
        return error_page(
            visit,
            409,
            visit._("Changed meanwhile"),
            error.message,
            visit._("Reload the page to see the current state, then try again."),
        )
    status = 422 if isinstance(error, InvalidInput) else error.status
    return error_page(
        visit,
        status,
        visit._("That did not work"),
        error.message,
        visit._("Go back, correct what is described and try again."),
    )
