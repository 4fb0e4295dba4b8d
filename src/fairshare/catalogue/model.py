"""The data catalogue: every field a person or household can hold, and how its values are checked.

Plain Python only. A field is declared once with its type, purpose, sensitivity and the
programmes that may use it; the registry refuses any value for a field that is not declared.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from fairshare.catalogue.redline import check_field
from fairshare.errors import InvalidInput


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    BOOLEAN = "boolean"
    ENUMERATION = "enumeration"


class Sensitivity(StrEnum):
    PERSONAL = "personal"
    HEALTH = "health"


class Entity(StrEnum):
    PERSON = "person"
    HOUSEHOLD = "household"


NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHOICE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")
# Control characters (C0, C1, DEL) are never legitimate inside a registry value.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_TEXT_LENGTH = 2000
OLDEST_BIRTH_DATE = date(1890, 1, 1)
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "si", "sí", "sim", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "nao", "não", "f"})


class FieldValueError(ValueError):
    """A value does not fit its field; the message says what would."""


class UnknownField(InvalidInput):
    """A write names a field the catalogue does not declare."""

    def __init__(self, names: list[str], entity: str) -> None:
        listed = ", ".join(sorted(names))
        super().__init__(
            f"{entity} field(s) not declared in the data catalogue: {listed}. Only declared "
            "fields can be stored; an administrator can declare a field with its purpose "
            "(`fairshare catalogue add`), unless it belongs to a refused category.",
            errors=[{"field": n, "reason": "not declared in the data catalogue"} for n in names],
        )
        self.names = names


class DuplicateField(InvalidInput):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"a field named {name!r} is already declared; choose another name",
            errors=[{"field": "name", "reason": "already declared"}],
        )


@dataclass(frozen=True)
class FieldDefinition:
    """One declared field. `core` fields live in their own column; custom ones in `extra`."""

    name: str
    label: str
    type: FieldType
    entity: Entity
    purpose: str
    sensitivity: Sensitivity = Sensitivity.PERSONAL
    description: str = ""
    programmes: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    required: bool = False
    max_length: int = 200
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    scale: int = 2
    past_only: bool = False
    core: bool = False
    version: int = 1

    @property
    def is_health(self) -> bool:
        return self.sensitivity is Sensitivity.HEALTH

    def parse(self, raw: Any) -> Any:
        """Return the value converted to its Python type, or None when empty.

        Raises FieldValueError with a message saying what a valid value looks like.
        """
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if self.required:
                raise FieldValueError("is required")
            return None
        parser = _PARSERS[self.type]
        return parser(self, raw)

    def to_storage(self, value: Any) -> Any:
        """JSON-friendly form, used for custom fields, history and encryption."""
        if value is None:
            return None
        if self.type is FieldType.DECIMAL:
            return str(value)
        if self.type is FieldType.DATE:
            return value.isoformat()
        return value

    def from_storage(self, stored: Any) -> Any:
        if stored is None:
            return None
        if self.type is FieldType.DECIMAL:
            return Decimal(str(stored)).quantize(Decimal(1).scaleb(-self.scale))
        if self.type is FieldType.DATE:
            return stored if isinstance(stored, date) else date.fromisoformat(str(stored))
        if self.type is FieldType.BOOLEAN:
            return bool(stored)
        if self.type is FieldType.INTEGER:
            return int(stored)
        return stored


def clean_text(raw: Any, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Normalise free text (NFC, trimmed) and refuse control characters and oversize strings."""
    if not isinstance(raw, str):
        raise FieldValueError(f"must be text, not {type(raw).__name__}")
    text = unicodedata.normalize("NFC", raw).strip()
    if CONTROL_CHARACTERS.search(text):
        raise FieldValueError("contains control characters (line breaks, tabs, NUL); remove them")
    if len(text) > max_length:
        raise FieldValueError(f"is {len(text)} characters long; the limit is {max_length}")
    return text


def _parse_text(definition: FieldDefinition, raw: Any) -> str:
    return clean_text(raw, max_length=definition.max_length)


def _check_bounds(definition: FieldDefinition, value: Decimal | int) -> None:
    if definition.minimum is not None and value < definition.minimum:
        raise FieldValueError(f"must be at least {definition.minimum}, got {value}")
    if definition.maximum is not None and value > definition.maximum:
        raise FieldValueError(f"must be at most {definition.maximum}, got {value}")


def _parse_integer(definition: FieldDefinition, raw: Any) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise FieldValueError(f"must be a whole number, got {raw!r}")
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        raise FieldValueError(f"must be a whole number, got {str(raw)[:40]!r}") from None
    _check_bounds(definition, value)
    return value


def _parse_decimal(definition: FieldDefinition, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise FieldValueError(f"must be a number, got {raw!r}")
    try:
        value = (
            Decimal(raw.strip().replace(",", ".")) if isinstance(raw, str) else Decimal(str(raw))
        )
    except (InvalidOperation, ValueError):
        raise FieldValueError(f"must be a number like 120.50, got {str(raw)[:40]!r}") from None
    if not value.is_finite():
        raise FieldValueError("must be a finite number")
    quantum = Decimal(1).scaleb(-definition.scale)
    if value != value.quantize(quantum) and value.as_tuple().exponent < -definition.scale:  # type: ignore[operator]
        raise FieldValueError(f"has more than {definition.scale} decimal places")
    value = value.quantize(quantum)
    _check_bounds(definition, value)
    return value


def _parse_iso_date(raw: str) -> date | None:
    text = raw.strip()
    # fromisoformat also takes compact and week forms; registries mean YYYY-MM-DD.
    if not ISO_DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_date(definition: FieldDefinition, raw: Any) -> date:
    if isinstance(raw, date):
        value = raw
    elif isinstance(raw, str):
        parsed = _parse_iso_date(raw)
        if parsed is None:
            raise FieldValueError(f"must be a date as YYYY-MM-DD, got {raw[:40]!r}")
        value = parsed
    else:
        raise FieldValueError(f"must be a date as YYYY-MM-DD, got {type(raw).__name__}")
    if definition.past_only:
        if value > date.today():
            raise FieldValueError(f"{value.isoformat()} is in the future")
        if value < OLDEST_BIRTH_DATE:
            raise FieldValueError(f"{value.isoformat()} is before {OLDEST_BIRTH_DATE.isoformat()}")
    return value


def _parse_boolean(_definition: FieldDefinition, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise FieldValueError(f"must be true or false, got {str(raw)[:40]!r}")


def _parse_enumeration(definition: FieldDefinition, raw: Any) -> str:
    if not isinstance(raw, str):
        raise FieldValueError(f"must be one of {', '.join(definition.choices)}")
    value = raw.strip().lower()
    if value not in definition.choices:
        raise FieldValueError(
            f"{raw[:40]!r} is not allowed; use one of {', '.join(definition.choices)}"
        )
    return value


_PARSERS = {
    FieldType.TEXT: _parse_text,
    FieldType.INTEGER: _parse_integer,
    FieldType.DECIMAL: _parse_decimal,
    FieldType.DATE: _parse_date,
    FieldType.BOOLEAN: _parse_boolean,
    FieldType.ENUMERATION: _parse_enumeration,
}


def validate_definition(definition: FieldDefinition) -> None:
    """Check the shape of a new definition (the red-line guard runs separately).

    Raises InvalidInput listing every problem.
    """
    problems: list[dict[str, str]] = []
    if not NAME_PATTERN.match(definition.name):
        problems.append(
            {
                "field": "name",
                "reason": "use 2-63 lowercase letters, digits and underscores, "
                "starting with a letter (e.g. school_attendance)",
            }
        )
    for attribute in ("label", "purpose"):
        text = getattr(definition, attribute)
        try:
            clean_text(text, max_length=300)
        except FieldValueError as error:
            problems.append({"field": attribute, "reason": str(error)})
            continue
        if len(text.strip()) < 3:
            problems.append({"field": attribute, "reason": "must say what it is (3+ characters)"})
    try:
        clean_text(definition.description, max_length=1000)
    except FieldValueError as error:
        problems.append({"field": "description", "reason": str(error)})
    if definition.type is FieldType.ENUMERATION:
        if not 1 <= len(definition.choices) <= 100:
            problems.append({"field": "choices", "reason": "an enumeration needs 1-100 choices"})
        bad = [c for c in definition.choices if not CHOICE_PATTERN.match(c)]
        if bad:
            problems.append(
                {"field": "choices", "reason": f"choices must be lowercase codes: {bad[:5]}"}
            )
        if len(set(definition.choices)) != len(definition.choices):
            problems.append({"field": "choices", "reason": "choices repeat"})
    elif definition.choices:
        problems.append({"field": "choices", "reason": "only enumeration fields take choices"})
    if not 1 <= definition.max_length <= MAX_TEXT_LENGTH:
        problems.append({"field": "max_length", "reason": f"must be 1-{MAX_TEXT_LENGTH}"})
    if len(definition.programmes) > 200 or any(
        not CHOICE_PATTERN.match(p) for p in definition.programmes
    ):
        problems.append({"field": "programmes", "reason": "programme codes are lowercase words"})
    if problems:
        raise InvalidInput(f"field definition {definition.name!r} is not valid", errors=problems)


def _p(name: str, label: str, type_: FieldType, purpose: str, **kw: Any) -> FieldDefinition:
    return FieldDefinition(name, label, type_, Entity.PERSON, purpose, core=True, **kw)


def _h(name: str, label: str, type_: FieldType, purpose: str, **kw: Any) -> FieldDefinition:
    return FieldDefinition(name, label, type_, Entity.HOUSEHOLD, purpose, core=True, **kw)


T, D, DT, B, E = (
    FieldType.TEXT,
    FieldType.DECIMAL,
    FieldType.DATE,
    FieldType.BOOLEAN,
    FieldType.ENUMERATION,
)

RELATIONSHIPS = (
    "head",
    "spouse_partner",
    "child",
    "stepchild",
    "grandchild",
    "parent",
    "sibling",
    "other_relative",
    "non_relative",
)
EMPLOYMENT = (
    "employed",
    "self_employed",
    "informal_worker",
    "unemployed",
    "student",
    "retired",
    "homemaker",
    "unable_to_work",
    "child",
)
DISABILITY = (
    "none",
    "physical",
    "visual",
    "hearing",
    "speech",
    "intellectual",
    "psychosocial",
    "multiple",
)
CHRONIC_ILLNESS = (
    "none",
    "diabetes",
    "hypertension",
    "asthma_copd",
    "hiv",
    "tuberculosis",
    "epilepsy",
    "heart_disease",
    "kidney_disease",
    "cancer",
    "mental_health",
    "other",
)
DWELLING = ("house", "apartment", "room", "informal_settlement", "shelter", "no_dwelling", "other")
TENURE = ("owned", "rented", "ceded", "occupied_informally", "none", "other")
SEX = ("female", "male", "other")

CORE_FIELDS: tuple[FieldDefinition, ...] = (
    _p("given_names", "Given names", T, "identify the person", required=True, max_length=100),
    _p("family_names", "Family names", T, "identify the person", required=True, max_length=100),
    _p(
        "date_of_birth",
        "Date of birth",
        DT,
        "identify the person; age-based entitlements",
        required=True,
        past_only=True,
    ),
    _p("sex", "Sex", E, "identify the person; equity reporting", choices=SEX, required=True),
    _p(
        "national_id",
        "National ID number",
        T,
        "identify the person; avoid double registration",
        max_length=32,
    ),
    _p("phone", "Phone number", T, "contact about entitlements and appeals", max_length=20),
    _p(
        "relationship_to_head",
        "Relationship to household head",
        E,
        "household composition for household-based programmes",
        choices=RELATIONSHIPS,
        required=True,
    ),
    _p("employment_status", "Employment status", E, "means test", choices=EMPLOYMENT),
    _p(
        "monthly_income",
        "Monthly income",
        D,
        "means test",
        minimum=Decimal(0),
        maximum=Decimal("1000000000"),
    ),
    _p(
        "disability",
        "Disability",
        E,
        "disability-related entitlements",
        sensitivity=Sensitivity.HEALTH,
        choices=DISABILITY,
    ),
    _p(
        "chronic_illness",
        "Chronic illness needing medication",
        E,
        "medicine programmes",
        sensitivity=Sensitivity.HEALTH,
        choices=CHRONIC_ILLNESS,
    ),
    _h(
        "region",
        "Region",
        T,
        "where benefits are delivered; regional equity",
        required=True,
        max_length=80,
    ),
    _h("municipality", "Municipality", T, "where benefits are delivered", max_length=80),
    _h(
        "address", "Address", T, "contact and in-person verification", required=True, max_length=200
    ),
    _h("dwelling_type", "Dwelling type", E, "means test", choices=DWELLING),
    _h("dwelling_tenure", "Dwelling tenure", E, "means test", choices=TENURE),
    _h(
        "land_hectares",
        "Land owned (hectares)",
        D,
        "means test (owned property)",
        minimum=Decimal(0),
        maximum=Decimal(100000),
    ),
    _h("owns_vehicle", "Owns a motor vehicle", B, "means test (owned property)"),
)

CORE_PERSON_COLUMNS = tuple(
    f.name for f in CORE_FIELDS if f.entity is Entity.PERSON and not f.is_health
)
CORE_HOUSEHOLD_COLUMNS = tuple(f.name for f in CORE_FIELDS if f.entity is Entity.HOUSEHOLD)


@dataclass
class Catalogue:
    """The fields in force, looked up by entity and name."""

    fields: dict[tuple[Entity, str], FieldDefinition] = field(default_factory=dict)

    @classmethod
    def of(cls, definitions: list[FieldDefinition] | tuple[FieldDefinition, ...]) -> Catalogue:
        return cls({(d.entity, d.name): d for d in definitions})

    def for_entity(self, entity: Entity) -> list[FieldDefinition]:
        return [d for (e, _), d in self.fields.items() if e is entity]

    def get(self, entity: Entity, name: str) -> FieldDefinition | None:
        return self.fields.get((entity, name))

    def require(self, entity: Entity, name: str) -> FieldDefinition:
        """The declared field; raises UnknownField when it is not declared."""
        definition = self.fields.get((entity, name))
        if definition is None:
            raise UnknownField([name], entity.value)
        return definition

    def check_known(self, entity: Entity, names: list[str] | set[str]) -> None:
        unknown = [n for n in names if (entity, n) not in self.fields]
        for name in unknown:
            check_field(name)  # a refused category is named as such, not merely "unknown"
        if unknown:
            raise UnknownField(unknown, entity.value)

    def parse_values(
        self, entity: Entity, raw: dict[str, Any], *, partial: bool = False
    ) -> dict[str, Any]:
        """Parse every value of a write; raise InvalidInput listing all problems at once.

        With partial=True (updates) required fields that are absent are not demanded.
        """
        self.check_known(entity, list(raw))
        parsed: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        definitions = self.for_entity(entity)
        for definition in definitions:
            if definition.name not in raw:
                if definition.required and not partial:
                    errors.append({"field": definition.name, "reason": "is required"})
                continue
            try:
                parsed[definition.name] = definition.parse(raw[definition.name])
            except FieldValueError as error:
                errors.append({"field": definition.name, "reason": str(error)})
        if errors:
            summary = "; ".join(f"{e['field']} {e['reason']}" for e in errors[:5])
            raise InvalidInput(f"{entity.value} data is not valid: {summary}", errors=errors)
        return parsed


def with_version(definition: FieldDefinition, version: int) -> FieldDefinition:
    return replace(definition, version=version)
