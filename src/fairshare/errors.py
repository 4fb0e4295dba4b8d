"""The base of every error a user can act on.

Each area defines its own subclasses (RefusedField, UnknownHousehold, ...). The API turns
them into RFC 9457 problem details with `status`; the CLI prints `str(error)` and exits with
`exit_code`. Messages say what was wrong and what to do.
"""

from __future__ import annotations

from typing import Any


class FairshareError(Exception):
    status: int = 400
    exit_code: int = 1
    title: str = "Request could not be completed"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(FairshareError):
    """Input that fails validation: wrong type, too long, control characters, ..."""

    status = 422
    exit_code = 2
    title = "Invalid input"

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, errors=errors or [])
        self.errors = errors or []


class NotFound(FairshareError):
    status = 404
    exit_code = 3
    title = "Not found"


class Conflict(FairshareError):
    status = 409
    exit_code = 4
    title = "Conflict"


class Forbidden(FairshareError):
    status = 403
    exit_code = 5
    title = "Forbidden"


class Unauthenticated(FairshareError):
    status = 401
    exit_code = 5
    title = "Authentication required"
