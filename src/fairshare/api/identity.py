"""Log in for a token, log out, and manage users (administrators)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from fastapi.security.utils import get_authorization_scheme_param

from fairshare.api import problems
from fairshare.api.deps import CurrentActor, CurrentUser, ServicesDep
from fairshare.api.schemas import TokenPublic, UserCreate, UserPublic
from fairshare.identity import services as identity
from fairshare.identity.guard import authorize
from fairshare.identity.model import Purpose
from fairshare.identity.throttle import LoginThrottle, address_of

router = APIRouter(prefix="/api/v1", tags=["identity"])
THROTTLED = "Too many failed logins from this address; try again after Retry-After seconds"


@router.post(
    "/auth/token",
    response_model=TokenPublic,
    responses=problems.responses((429, THROTTLED)),
)
def log_in(
    services: ServicesDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
) -> TokenPublic:
    """Exchange username and password for a bearer token. Repeated failures lock the account,
    and too many from one network address refuse that address for a while (429)."""
    settings = services.settings
    throttle: LoginThrottle = request.app.state.login_throttle
    address = address_of(
        request.client.host if request.client else None,
        request.headers,
        settings.client_address_header,
    )
    throttle.check(address)
    try:
        user = identity.authenticate(
            services.uow(),
            form.username[:80],
            form.password[:200],
            max_failures=settings.max_failed_logins,
            lockout=timedelta(minutes=settings.lockout_minutes),
        )
    except identity.LoginRefused:
        throttle.record_failure(address)
        raise
    lifetime = timedelta(hours=settings.token_lifetime_hours)
    token = identity.issue_token(services.uow(), user, lifetime, "api")
    return TokenPublic(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def log_out(services: ServicesDep, _user: CurrentUser, request: Request) -> None:
    """Revoke the token this request was made with."""
    # Parsed as the bearer dependency parses it (scheme case-insensitive), so the token that
    # authenticated this request is the one revoked.
    _scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    identity.revoke_token(services.uow(), token)


@router.get("/auth/me", response_model=UserPublic)
def who_am_i(user: CurrentUser) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        person_id=user.person_id,
    )


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(services: ServicesDep, actor: CurrentActor, body: UserCreate) -> UserPublic:
    """Create an account (administrators)."""
    authorize(services.uow(), actor, frozenset({Purpose.ADMINISTRATION}), "user", body.username)
    user = identity.create_user(
        services.uow(),
        body.username,
        body.password,
        body.role,
        body.display_name,
        body.person_id,
        created_by=actor,
    )
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        person_id=user.person_id,
    )
