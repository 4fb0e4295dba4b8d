"""FastAPI dependencies, as Annotated aliases. The only module that uses Depends."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import OAuth2PasswordBearer

from fairshare.bootstrap import Services
from fairshare.errors import FairshareError, Unauthenticated
from fairshare.identity import services as identity
from fairshare.identity.model import ROLE_PURPOSES, Actor, Purpose, parse_purpose
from fairshare.identity.services import User
from fairshare.ledger.model import KEY_PATTERN

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def get_user(services: ServicesDep, token: Annotated[str | None, Depends(bearer)]) -> User:
    if not token:
        raise Unauthenticated(
            "log in first: send `Authorization: Bearer <token>` (POST /api/v1/auth/token gives one)"
        )
    return identity.resolve_token(services.uow(), token)


CurrentUser = Annotated[User, Depends(get_user)]


# Declared as the list of purposes in the OpenAPI schema, but parsed here, so an unknown one
# gets the problem that lists them rather than a bare validation error.
PURPOSES_SCHEMA = {"enum": [p.value for p in Purpose]}


def get_actor(
    user: CurrentUser,
    purpose_header: Annotated[
        str | None, Header(alias="X-Fairshare-Purpose", json_schema_extra=PURPOSES_SCHEMA)
    ] = None,
    purpose_query: Annotated[
        str | None,
        Query(
            alias="purpose",
            description="Why you need this data (the X-Fairshare-Purpose header wins if both "
            "are sent)",
            json_schema_extra=PURPOSES_SCHEMA,
        ),
    ] = None,
) -> Actor:
    """The user acting for a declared purpose. A role with one purpose needs not name it.

    The purpose is checked against the role by each service, which logs a refusal.
    """
    # Each purpose sent must be one we know, even the one the header overrides.
    named = [parse_purpose(raw) for raw in (purpose_header, purpose_query) if raw is not None]
    if named:
        purpose = named[0]
    else:
        own = ROLE_PURPOSES[user.role]
        if len(own) != 1:
            parse_purpose(None)  # raises: this role must say why
        purpose = next(iter(own))
    return Actor(user.username, user.role, purpose, person_id=user.person_id, user_id=user.id)


CurrentActor = Annotated[Actor, Depends(get_actor)]


class IdempotencyKeyMissing(FairshareError):
    status = 400
    title = "Idempotency key required"


def get_idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="A new random value per request (a UUID); the same value to retry it",
        ),
    ] = None,
) -> str:
    """The client's key for a request that moves value (IETF httpapi-idempotency-key-header):
    a retry with the same key and body gets the first result instead of a second transfer."""
    if not key or not key.strip():
        raise IdempotencyKeyMissing(
            "this request moves value and needs an `Idempotency-Key` header: generate a new "
            "random value for each request (a UUID, e.g. from `uuidgen` or Python's "
            "uuid.uuid4()) and send the same value again only to retry that request"
        )
    return key.strip()


# Declared after CurrentActor in a route's parameters, so a caller not logged in gets 401 first.
IdempotencyKey = Annotated[str, Depends(get_idempotency_key)]


def document_idempotency_key(openapi: dict[str, Any]) -> None:
    """Mark the Idempotency-Key header required, with its form, in the OpenAPI schema.

    The parameter is optional to FastAPI only so that a missing key gets the 400 above, which
    says how to make one, instead of a bare validation error; to clients it is required."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "pattern": KEY_PATTERN.pattern}


__all__ = ["CurrentActor", "CurrentUser", "IdempotencyKey", "Purpose", "ServicesDep"]
