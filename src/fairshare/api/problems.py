"""Errors as RFC 9457 problem details: type, title, status, detail, and the field errors."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fairshare.errors import FairshareError

MEDIA_TYPE = "application/problem+json"
# Details of an insufficient balance that the caller may see: the asset, what is available
# (in minor units and as text) and what was asked for.
BALANCE_DETAILS = ("asset", "available", "available_text", "requested")


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any
) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


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
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), str(error.detail))
