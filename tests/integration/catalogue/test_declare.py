"""Declaring custom fields through the catalogue service, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import DuplicateField, Entity, FieldDefinition, FieldType
from fairshare.catalogue.orm import custom_fields
from fairshare.catalogue.redline import RefusedField
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.registry.services import MemberInput
from tests.conftest import actor


def definition(name: str, **kw: object) -> FieldDefinition:
    values: dict[str, object] = {
        "label": name.replace("_", " ").title(),
        "type": FieldType.TEXT,
        "entity": Entity.PERSON,
        "purpose": "programme conditions",
        **kw,
    }
    return FieldDefinition(name, **values)  # type: ignore[arg-type]


def stored(services: Services) -> int:
    with services.uow() as uow:
        return int(
            uow.connection.execute(select(func.count()).select_from(custom_fields)).scalar_one()
        )


def test_declared_field_is_listed_and_usable(services: Services, administrator: Actor) -> None:
    """A declared custom field is listed, logged, and values for it can then be stored."""
    catalogue_services.declare_field(
        services.uow(), administrator, definition("school_attendance", type=FieldType.BOOLEAN)
    )
    names = {f.name for f in catalogue_services.list_fields(services.uow())}
    assert "school_attendance" in names
    household = services.registry.register_household(
        actor(Role.CASEWORKER, Purpose.REGISTRATION),
        {"region": "Costa", "address": "Av. 1"},
        [
            MemberInput(
                {
                    "given_names": "Ana",
                    "family_names": "Rojas",
                    "sex": "female",
                    "date_of_birth": "2015-01-01",
                    "relationship_to_head": "head",
                    "school_attendance": "yes",
                }
            )
        ],
    )
    person = services.registry.get_person(
        actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), household.members[0].id
    )
    assert person.values["school_attendance"] is True
    with services.uow() as uow:
        logged = (
            uow.connection.execute(
                select(access_log.c.action).where(access_log.c.subject_id == "school_attendance")
            )
            .scalars()
            .all()
        )
    assert logged == ["catalogue:field:create"]


@pytest.mark.parametrize(
    ("field", "category"),
    [
        (definition("partido_politico"), "party_membership"),
        (definition("religion"), "religion"),
        (
            definition(
                "household_group",
                type=FieldType.ENUMERATION,
                choices=("catholic", "evangelical", "none"),
            ),
            "religion",
        ),
        (
            definition("notes_extra", description="whether the person voted in the last election"),
            "voting",
        ),
        (definition("perfil", label="Perfil de Facebook"), "social_media"),
    ],
)
def test_refused_field_stores_nothing(
    services: Services, administrator: Actor, field: FieldDefinition, category: str
) -> None:
    """A red-line field is refused naming its category, and nothing is stored."""
    before = stored(services)
    with pytest.raises(RefusedField) as error:
        catalogue_services.declare_field(services.uow(), administrator, field)
    assert error.value.category == category
    assert error.value.status == 422
    assert error.value.exit_code == 2
    assert stored(services) == before


def test_only_administrators_declare(services: Services) -> None:
    """A caseworker cannot declare fields."""
    with pytest.raises(PurposeNotAllowed):
        catalogue_services.declare_field(
            services.uow(),
            actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT),
            definition("school_attendance"),
        )


def test_duplicate_and_core_names_are_refused(services: Services, administrator: Actor) -> None:
    """A name already declared (custom or core) is refused."""
    catalogue_services.declare_field(services.uow(), administrator, definition("school_grade"))
    with pytest.raises(DuplicateField):
        catalogue_services.declare_field(services.uow(), administrator, definition("school_grade"))
    with pytest.raises(DuplicateField):
        catalogue_services.declare_field(services.uow(), administrator, definition("given_names"))


def test_malformed_json_definition_is_refused() -> None:
    """A definition from the API with a missing or unknown attribute is refused clearly."""
    with pytest.raises(InvalidInput, match="type"):
        catalogue_services.definition_from_json({"name": "x_y", "label": "X", "purpose": "p"})
    with pytest.raises(InvalidInput, match="unknown attribute"):
        catalogue_services.definition_from_json(
            {"name": "x_y", "label": "X", "purpose": "p", "type": "text", "score": 3}
        )
    with pytest.raises(InvalidInput):
        catalogue_services.definition_from_json(
            {"name": "x_y", "label": "X", "purpose": "p", "type": "colour"}
        )
