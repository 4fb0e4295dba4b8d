"""Errors as RFC 9457 problem details: type, title, status, detail, and the field errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from fairshare.errors import FairshareError

MEDIA_TYPE = "application/problem+json"
# Details of an insufficient balance that the caller may see: the asset, what is available
# (in minor units and as text) and what was asked for.
BALANCE_DETAILS = ("asset", "available", "available_text", "requested")


# What an error answer looks like, declared in the OpenAPI schema for every API operation so
# clients (and schemathesis) know each refusal comes as application/problem+json.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI reference naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What was wrong and what to do"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
PROBLEM_STATUSES = {
    400: "Bad request (e.g. a missing Idempotency-Key)",
    401: "Not logged in, or the token expired or was revoked",
    403: "The role or the declared purpose does not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "The request body is too large",
    422: "The input is not valid; `errors` names each field",
}


def responses(*extra: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The problem-details answers an API operation may give, for `responses=`."""
    return {
        status: {
            "description": description,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, description in (*PROBLEM_STATUSES.items(), *extra)
    }


def add_problem_schema(openapi: dict[str, Any]) -> None:
    """Add the Problem component that every error response of `responses()` refers to."""
    openapi.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA


def _methods_of(request: Request) -> list[str]:
    """Every method some route of the application answers at the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _scope = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem(
    status: int,
    title: str,
    detail: str,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429 and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers or None)


def install(app: FastAPI) -> None:
    @app.exception_handler(FairshareError)
    async def _domain(_request: Request, error: FairshareError) -> JSONResponse:
        extra: dict[str, Any] = {}
        errors = error.details.get("errors")
        if errors:
            extra["errors"] = errors
        matches = error.details.get("matches")
        if matches:
            extra["matches"] = matches  # likely duplicates of a registration (409)
        for name in BALANCE_DETAILS:
            if name in error.details:
                extra[name] = error.details[name]  # what is left, e.g. for a merchant (409)
        if "retry_after" in error.details:
            extra["retry_after"] = error.details["retry_after"]  # seconds, also in Retry-After
        category = getattr(error, "category", None)
        if category is not None:
            extra["category"] = str(category)
        return problem(
            error.status,
            error.title,
            error.message,
            f"/problems/{_slug(type(error).__name__)}",
            **extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(
                    str(p) for p in item["loc"] if p not in ("body", "query", "path")
                ),
                "reason": item["msg"],
            }
            for item in error.errors()
        ]
        summary = "; ".join(f"{e['field'] or 'body'}: {e['reason']}" for e in errors[:5])
        return problem(
            422,
            "Invalid input",
            f"the request is not valid: {summary}",
            "/problems/invalid-input",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names only the methods of the first route on the path; Allow must
            # list every method the path answers (RFC 9110).
            headers["Allow"] = ", ".join(_methods_of(request))
        return problem(error.status_code, str(error.detail), str(error.detail), headers=headers)
