"""Field definitions parse values by type and refuse what does not fit, saying why."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairshare.catalogue.model import (
    CORE_FIELDS,
    Catalogue,
    Entity,
    FieldDefinition,
    FieldType,
    FieldValueError,
    UnknownField,
    validate_definition,
)
from fairshare.errors import InvalidInput

CATALOGUE = Catalogue.of(CORE_FIELDS)


def field(type_: FieldType, **kw: Any) -> FieldDefinition:
    return FieldDefinition("sample_field", "Sample", type_, Entity.PERSON, "testing", **kw)


@pytest.mark.parametrize(
    ("type_", "kw", "raw", "expected"),
    [
        (FieldType.TEXT, {}, "  Ana  ", "Ana"),
        (FieldType.TEXT, {}, "Jose\u0301", "José"),  # NFC: combining accent folded in
        (FieldType.INTEGER, {}, "42", 42),
        (FieldType.INTEGER, {}, 7, 7),
        (FieldType.DECIMAL, {}, "120.5", Decimal("120.50")),
        (FieldType.DECIMAL, {}, "120,50", Decimal("120.50")),
        (FieldType.DECIMAL, {}, 3, Decimal("3.00")),
        (FieldType.DATE, {}, "2001-02-03", date(2001, 2, 3)),
        (FieldType.BOOLEAN, {}, "sí", True),
        (FieldType.BOOLEAN, {}, "no", False),
        (FieldType.BOOLEAN, {}, False, False),
        (FieldType.ENUMERATION, {"choices": ("a", "b")}, " B ", "b"),
        (FieldType.TEXT, {}, "", None),
        (FieldType.INTEGER, {}, None, None),
    ],
)
def test_values_parse_to_their_type(
    type_: FieldType, kw: dict[str, Any], raw: Any, expected: Any
) -> None:
    """Well-formed values become Python values of the field's type; empty becomes None."""
    assert field(type_, **kw).parse(raw) == expected


@pytest.mark.parametrize(
    ("type_", "kw", "raw", "fragment"),
    [
        (FieldType.TEXT, {}, "a\tb", "control characters"),
        (FieldType.TEXT, {}, "a\x85b", "control characters"),
        (FieldType.TEXT, {"max_length": 5}, "abcdef", "limit is 5"),
        (FieldType.TEXT, {}, ["list"], "must be text"),
        (FieldType.INTEGER, {}, "4.5", "whole number"),
        (FieldType.INTEGER, {}, True, "whole number"),
        (FieldType.INTEGER, {"maximum": Decimal(10)}, 11, "at most 10"),
        (FieldType.DECIMAL, {}, "NaN", "finite"),
        (FieldType.DECIMAL, {}, "Infinity", "finite"),
        (FieldType.DECIMAL, {}, "1.234", "decimal places"),
        (FieldType.DECIMAL, {"minimum": Decimal(0)}, "-0.01", "at least 0"),
        (FieldType.DATE, {}, "03/02/2001", "YYYY-MM-DD"),
        (FieldType.DATE, {}, "2001-02-30", "YYYY-MM-DD"),
        (
            FieldType.DATE,
            {"past_only": True},
            (date.today() + timedelta(days=1)).isoformat(),
            "future",
        ),
        (FieldType.DATE, {"past_only": True}, "1800-01-01", "before"),
        (FieldType.BOOLEAN, {}, "maybe", "true or false"),
        (FieldType.ENUMERATION, {"choices": ("a",)}, "z", "use one of a"),
        (FieldType.TEXT, {"required": True}, "   ", "required"),
    ],
)
def test_bad_values_say_what_is_wrong(
    type_: FieldType, kw: dict[str, Any], raw: Any, fragment: str
) -> None:
    """Values of the wrong type, size or range are refused with a message naming the problem."""
    with pytest.raises(FieldValueError, match=fragment):
        field(type_, **kw).parse(raw)


@given(st.text(max_size=300))
def test_text_parsing_never_crashes(raw: str) -> None:
    """Any string either parses to clean text within the limit or raises FieldValueError."""
    try:
        value = field(FieldType.TEXT).parse(raw)
    except FieldValueError:
        return
    assert value is None or (len(value) <= 200 and value == value.strip())


def test_parse_values_reports_every_problem_at_once() -> None:
    """A write with several bad values lists all of them, and required fields that are missing."""
    with pytest.raises(InvalidInput) as error:
        CATALOGUE.parse_values(Entity.PERSON, {"given_names": "", "date_of_birth": "soon"})
    fields = {e["field"] for e in error.value.errors}
    assert {"given_names", "date_of_birth", "family_names", "sex", "relationship_to_head"} <= fields


def test_partial_parse_skips_missing_required_fields() -> None:
    """Updates carry only the changed fields."""
    assert CATALOGUE.parse_values(Entity.PERSON, {"phone": "+591 700 1234"}, partial=True) == {
        "phone": "+591 700 1234"
    }


def test_unknown_field_is_refused() -> None:
    """A value for an undeclared field is refused with the field named."""
    with pytest.raises(UnknownField, match="shoe_size"):
        CATALOGUE.parse_values(Entity.PERSON, {"shoe_size": "42"}, partial=True)


def test_core_fields_cover_the_registry() -> None:
    """The built-in catalogue declares the fields the registry needs, health ones as health."""
    names = {f.name for f in CORE_FIELDS}
    assert {
        "given_names",
        "family_names",
        "date_of_birth",
        "sex",
        "national_id",
        "phone",
        "region",
        "address",
        "relationship_to_head",
        "employment_status",
        "monthly_income",
        "dwelling_type",
        "dwelling_tenure",
        "land_hectares",
        "owns_vehicle",
        "disability",
        "chronic_illness",
    } <= names
    health = {f.name for f in CORE_FIELDS if f.is_health}
    assert health == {"disability", "chronic_illness"}
    assert all(f.purpose for f in CORE_FIELDS)


@pytest.mark.parametrize(
    ("changes", "problem_field"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"name": "x"}, "name"),
        ({"purpose": ""}, "purpose"),
        ({"label": "a\nb"}, "label"),
        ({"type": FieldType.ENUMERATION}, "choices"),
        ({"choices": ("a",)}, "choices"),
        ({"type": FieldType.ENUMERATION, "choices": ("A B",)}, "choices"),
        ({"max_length": 0}, "max_length"),
    ],
)
def test_malformed_definitions_are_refused(changes: dict[str, Any], problem_field: str) -> None:
    """Definitions with bad names, no purpose or broken choices are refused, naming the part."""
    values = {
        "name": "school_attendance",
        "label": "School",
        "type": FieldType.TEXT,
        "entity": Entity.PERSON,
        "purpose": "child benefit conditions",
        **changes,
    }
    with pytest.raises(InvalidInput) as error:
        validate_definition(FieldDefinition(**values))
    assert problem_field in {e["field"] for e in error.value.errors}
