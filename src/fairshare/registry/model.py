"""Registry domain: people, households, changes, consent and correction rules. Plain Python."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from fairshare.catalogue.model import FieldValueError, clean_text
from fairshare.errors import InvalidInput, NotFound

HEALTH_SCOPE = "health"
MAX_REASON_LENGTH = 500


class CorrectionStatus(StrEnum):
    OPEN = "open"
    APPLIED = "applied"
    REJECTED = "rejected"


class UnknownHousehold(NotFound):
    def __init__(self, household_id: str) -> None:
        super().__init__(
            f"no household with id {household_id!r}; register the household first or check the id"
        )


class UnknownPerson(NotFound):
    def __init__(self, person_id: str) -> None:
        super().__init__(f"no person with id {person_id!r}; search for the person to find the id")


class UnknownCorrection(NotFound):
    def __init__(self, correction_id: str) -> None:
        super().__init__(f"no correction request with id {correction_id!r}")


class ConsentRequired(InvalidInput):
    def __init__(self, names: list[str]) -> None:
        super().__init__(
            f"health field(s) {', '.join(sorted(names))} need the person's recorded consent; "
            "record consent (scope 'health') first, or leave these fields out",
            errors=[{"field": n, "reason": "needs recorded health consent"} for n in names],
        )


@dataclass
class Person:
    id: str
    household_id: str
    values: dict[str, Any]
    health: dict[str, Any] = field(default_factory=dict)
    record_ref: str | None = None
    version: int = 1


@dataclass
class Household:
    id: str
    values: dict[str, Any]
    household_ref: str | None = None
    version: int = 1
    members: list[Person] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


def changes_between(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The fields whose value differs, in name order; fields absent from `new` are untouched."""
    return [
        Change(name, old.get(name), value)
        for name, value in sorted(new.items())
        if old.get(name) != value
    ]


def require_reason(reason: str | None) -> str:
    """Every change to a record says why; raises InvalidInput if it does not."""
    try:
        text = clean_text(reason or "", max_length=MAX_REASON_LENGTH)
    except FieldValueError as error:
        raise InvalidInput(
            f"reason {error}", errors=[{"field": "reason", "reason": str(error)}]
        ) from None
    if len(text) < 3:
        raise InvalidInput(
            "say why the record is changed (a reason of at least 3 characters)",
            errors=[{"field": "reason", "reason": "is required"}],
        )
    return text


def age_on(date_of_birth: date, on: date) -> int:
    """Completed years of age on a date."""
    years = on.year - date_of_birth.year
    return years - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


def name_key(*parts: str | None) -> str:
    """Names folded for search: lowercase, accents removed, single spaces."""
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())
