"""The data catalogue: public list of fields; administrators declare custom ones."""

from __future__ import annotations

from fastapi import APIRouter, status

from fairshare.api.deps import CurrentActor, ServicesDep
from fairshare.api.schemas import FieldCreate, FieldPublic
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import FieldDefinition

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])


def _public(definition: FieldDefinition) -> FieldPublic:
    return FieldPublic(
        name=definition.name,
        label=definition.label,
        type=definition.type.value,
        entity=definition.entity.value,
        purpose=definition.purpose,
        sensitivity=definition.sensitivity.value,
        description=definition.description,
        programmes=list(definition.programmes),
        choices=list(definition.choices),
        required=definition.required,
        core=definition.core,
    )


@router.get("/fields", response_model=list[FieldPublic])
def list_fields(services: ServicesDep) -> list[FieldPublic]:
    """Every field Fairshare may hold, with its purpose. Public: no login needed."""
    return [_public(d) for d in catalogue_services.list_fields(services.uow())]


@router.post(
    "/fields",
    response_model=FieldPublic,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Refused category or invalid definition"}},
)
def declare_field(services: ServicesDep, actor: CurrentActor, body: FieldCreate) -> FieldPublic:
    """Declare a custom field. A red-line category is refused with 422 naming the category."""
    definition = catalogue_services.definition_from_json(body.model_dump())
    return _public(catalogue_services.declare_field(services.uow(), actor, definition))
