"""Use cases of the data catalogue: list fields, declare custom fields behind the red-line guard."""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from fairshare.audit import services as audit
from fairshare.audit.model import Tag, utc_now
from fairshare.catalogue.model import (
    CORE_FIELDS,
    Catalogue,
    DuplicateField,
    Entity,
    FieldDefinition,
    FieldType,
    Sensitivity,
    validate_definition,
)
from fairshare.catalogue.orm import custom_fields
from fairshare.catalogue.redline import check_definition
from fairshare.db import UnitOfWork
from fairshare.errors import InvalidInput
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose


def definition_to_json(definition: FieldDefinition) -> dict[str, Any]:
    data = asdict(definition)
    for key in ("minimum", "maximum"):
        data[key] = None if data[key] is None else str(data[key])
    data["programmes"] = list(definition.programmes)
    data["choices"] = list(definition.choices)
    return data


def definition_from_json(data: dict[str, Any]) -> FieldDefinition:
    """Build a definition from untrusted JSON; raises InvalidInput naming what is wrong."""
    try:
        values = dict(data)
        values["type"] = FieldType(values["type"])
        values["entity"] = Entity(values.get("entity", "person"))
        values["sensitivity"] = Sensitivity(values.get("sensitivity", "personal"))
        values["programmes"] = tuple(values.get("programmes") or ())
        values["choices"] = tuple(values.get("choices") or ())
        for key in ("minimum", "maximum"):
            values[key] = None if values.get(key) in (None, "") else Decimal(str(values[key]))
        allowed = set(FieldDefinition.__dataclass_fields__)
        unknown = set(values) - allowed
        if unknown:
            raise InvalidInput(f"unknown attribute(s) of a field definition: {sorted(unknown)}")
        return FieldDefinition(**values)
    except KeyError as missing:
        raise InvalidInput(
            f"a field definition needs {missing}",
            errors=[{"field": str(missing).strip("'"), "reason": "is required"}],
        ) from None
    except (ValueError, ArithmeticError, TypeError) as error:
        raise InvalidInput(f"field definition is not valid: {error}") from None


def load(uow: UnitOfWork) -> Catalogue:
    """The catalogue in force: core fields plus every declared custom field. Caller owns uow."""
    rows = uow.connection.execute(select(custom_fields.c.definition)).all()
    custom = [definition_from_json(json.loads(row.definition)) for row in rows]
    return Catalogue.of([*CORE_FIELDS, *custom])


def list_fields(uow: UnitOfWork) -> list[FieldDefinition]:
    """Every field, core first; public information (it is on the transparency page)."""
    with uow:
        return list(load(uow).fields.values())


def declare_field(uow: UnitOfWork, actor: Actor, definition: FieldDefinition) -> FieldDefinition:
    """Declare a custom field.

    Raises RefusedField (a red-line category), InvalidInput (malformed), DuplicateField,
    PurposeNotAllowed (not an administrator). Nothing is stored when it raises.
    """
    authorize(
        uow,
        actor,
        frozenset({Purpose.ADMINISTRATION}),
        "catalogue",
        definition.name,
        Tag.CATALOGUE_FIELD_CREATE,
    )
    definition = FieldDefinition(**{**definition.__dict__, "core": False, "version": 1})
    check_definition(definition)  # first: a refused category is named even if also malformed
    validate_definition(definition)
    with uow:
        if (
            load(uow).get(definition.entity, definition.name) is not None
            or any(d.name == definition.name for d in CORE_FIELDS)
            or uow.connection.execute(
                select(custom_fields.c.name).where(custom_fields.c.name == definition.name)
            ).first()
        ):
            raise DuplicateField(definition.name)
        uow.connection.execute(
            insert(custom_fields).values(
                entity=definition.entity.value,
                name=definition.name,
                definition=json.dumps(definition_to_json(definition)),
                created_at=utc_now(),
                created_by=actor.username,
            )
        )
        audit.record(
            uow,
            [
                access_request(
                    actor,
                    Tag.CATALOGUE_FIELD_CREATE,
                    "catalogue",
                    definition.name,
                )
            ],
        )
        uow.commit()
    return definition
