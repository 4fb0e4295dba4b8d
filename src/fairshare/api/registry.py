"""People and households; a citizen's own record under /me."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi import Path as PathParameter
from starlette.concurrency import run_in_threadpool

from fairshare.api.deps import CurrentActor, ServicesDep
from fairshare.api.schemas import (
    AccessReportLinePublic,
    ConsentCreate,
    ConsentWithdrawn,
    CorrectionCreate,
    CorrectionDecision,
    CorrectionPublic,
    DuplicateCheckCreate,
    DuplicateCheckPublic,
    DuplicateConfirmation,
    HistoryEntryPublic,
    HouseholdCreate,
    HouseholdPublic,
    HouseholdUpdate,
    ImportReportPublic,
    LikelyMatchPublic,
    MemberCreate,
    PeoplePublic,
    PersonCreate,
    PersonPublic,
    PersonSummaryPublic,
    PersonUpdate,
    RowErrorPublic,
    RowMatchesPublic,
)
from fairshare.catalogue.model import CORE_FIELDS
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor
from fairshare.registry.importing import read_table
from fairshare.registry.model import Household, Person
from fairshare.registry.services import MemberInput

router = APIRouter(prefix="/api/v1", tags=["registry"])
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
_SUFFIXES = {".csv", ".parquet"}
_JSON_TYPES = {f.name: f for f in CORE_FIELDS}


def _json(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        out[name] = (
            value.isoformat()
            if isinstance(value, date)
            else (
                str(value)
                if value is not None and not isinstance(value, str | int | bool)
                else value
            )
        )
    return out


def _person(person: Person) -> PersonPublic:
    return PersonPublic(
        id=person.id,
        household_id=person.household_id,
        record_ref=person.record_ref,
        version=person.version,
        fields=_json(person.values),
        health=_json(person.health),
    )


def _household(household: Household, members: list[Person]) -> HouseholdPublic:
    return HouseholdPublic(
        id=household.id,
        household_ref=household.household_ref,
        version=household.version,
        fields=_json(household.values),
        members=[_person(m) for m in members],
    )


def _member(body: PersonCreate) -> MemberInput:
    return MemberInput(body.fields, body.health_consent, body.consent_method, body.record_ref)


def _not_duplicate_reason(body: DuplicateConfirmation) -> str | None:
    if not body.confirm_not_duplicate:
        return None
    if not (body.not_duplicate_reason or "").strip():
        raise InvalidInput(
            "say why the person is not one of the likely matches (not_duplicate_reason)",
            errors=[{"field": "not_duplicate_reason", "reason": "is required"}],
        )
    return body.not_duplicate_reason


@router.post(
    "/households",
    response_model=HouseholdPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Likely duplicates: the problem lists the `matches`"}},
)
def register_household(
    services: ServicesDep, actor: CurrentActor, body: HouseholdCreate
) -> HouseholdPublic:
    """Register a household and its members in one step (all or nothing).

    Each member is first checked against the registry; a member who looks like someone
    already registered gets 409 with the likely matches, unless the request confirms
    (confirm_not_duplicate, not_duplicate_reason) that they are other people.
    """
    household, _flagged = services.duplicate_check.register_household(
        actor,
        body.fields,
        [_member(m) for m in body.members],
        body.household_ref,
        not_duplicate_reason=_not_duplicate_reason(body),
    )
    return _household(household, household.members)


@router.post("/people/duplicate-check", response_model=DuplicateCheckPublic)
def check_duplicates(
    services: ServicesDep, actor: CurrentActor, body: DuplicateCheckCreate
) -> DuplicateCheckPublic:
    """Likely matches of a person about to be registered, best first, with the evidence.

    Nothing is registered; each likely match shown is written to that person's access log.
    """
    result = services.duplicate_check.check(
        actor, body.fields, body.household, household_id=body.household_id
    )
    return DuplicateCheckPublic.model_validate(result.as_dict())


@router.get("/households/{household_id}", response_model=HouseholdPublic)
def get_household(services: ServicesDep, actor: CurrentActor, household_id: str) -> HouseholdPublic:
    household, members = services.registry.get_household(actor, household_id[:36])
    return _household(household, members)


@router.patch("/households/{household_id}", response_model=HouseholdPublic)
def update_household(
    services: ServicesDep, actor: CurrentActor, household_id: str, body: HouseholdUpdate
) -> HouseholdPublic:
    household = services.registry.update_household(
        actor, household_id[:36], body.fields, body.reason
    )
    return _household(household, [])


@router.post(
    "/households/{household_id}/members",
    response_model=PersonPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_member(
    services: ServicesDep, actor: CurrentActor, household_id: str, body: MemberCreate
) -> PersonPublic:
    """Add a person to a household; 409 with the likely matches as for a registration."""
    person, _result = services.duplicate_check.add_member(
        actor, household_id[:36], _member(body), not_duplicate_reason=_not_duplicate_reason(body)
    )
    return _person(person)


@router.get("/people", response_model=PeoplePublic)
def search_people(
    services: ServicesDep,
    actor: CurrentActor,
    name: Annotated[str | None, Query(max_length=100)] = None,
    national_id: Annotated[str | None, Query(max_length=32)] = None,
    date_of_birth: date | None = None,
    region: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> PeoplePublic:
    """Search; a record is shown only in answer to a search, and each result is logged."""
    results = services.registry.search(
        actor,
        name=name,
        national_id=national_id,
        date_of_birth=date_of_birth,
        region=region,
        limit=limit,
    )
    return PeoplePublic(
        data=[PersonSummaryPublic(**r.__dict__) for r in results], count=len(results)
    )


@router.get("/people/{person_id}", response_model=PersonPublic)
def get_person(services: ServicesDep, actor: CurrentActor, person_id: str) -> PersonPublic:
    return _person(services.registry.get_person(actor, person_id[:36]))


@router.patch("/people/{person_id}", response_model=PersonPublic)
def update_person(
    services: ServicesDep, actor: CurrentActor, person_id: str, body: PersonUpdate
) -> PersonPublic:
    """Change fields with a reason; old values go to the record history."""
    return _person(
        services.registry.update_person(
            actor, person_id[:36], body.fields, body.reason, expected_version=body.expected_version
        )
    )


@router.get("/people/{person_id}/history", response_model=list[HistoryEntryPublic])
def history(services: ServicesDep, actor: CurrentActor, person_id: str) -> list[HistoryEntryPublic]:
    return [
        HistoryEntryPublic(**e.__dict__) for e in services.registry.history(actor, person_id[:36])
    ]


@router.post("/people/{person_id}/consents", status_code=status.HTTP_204_NO_CONTENT)
def grant_consent(
    services: ServicesDep, actor: CurrentActor, person_id: str, body: ConsentCreate
) -> None:
    services.registry.grant_consent(actor, person_id[:36], body.method, body.scope)


@router.post("/people/{person_id}/consents/{scope}/withdraw", response_model=ConsentWithdrawn)
def withdraw_consent(
    services: ServicesDep,
    actor: CurrentActor,
    person_id: str,
    scope: Annotated[str, PathParameter(json_schema_extra={"enum": ["health"]})],
) -> ConsentWithdrawn:
    """Withdraw consent; the health values it covered are erased."""
    erased = services.registry.withdraw_consent(actor, person_id[:36], scope[:40])
    return ConsentWithdrawn(erased_fields=erased)


@router.post(
    "/people/{person_id}/corrections",
    response_model=CorrectionPublic,
    status_code=status.HTTP_201_CREATED,
)
def request_correction(
    services: ServicesDep, actor: CurrentActor, person_id: str, body: CorrectionCreate
) -> CorrectionPublic:
    request = services.registry.request_correction(
        actor, person_id[:36], body.field, body.value, body.reason
    )
    return CorrectionPublic(**request.__dict__)


@router.get("/corrections", response_model=list[CorrectionPublic])
def correction_queue(
    services: ServicesDep,
    actor: CurrentActor,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(open|applied|rejected)$")
    ] = "open",
    person_id: Annotated[str | None, Query(max_length=36)] = None,
) -> list[CorrectionPublic]:
    return [
        CorrectionPublic(**c.__dict__)
        for c in services.registry.corrections(actor, person_id=person_id, status=status_)
    ]


@router.post("/corrections/{correction_id}/decision", response_model=CorrectionPublic)
def decide_correction(
    services: ServicesDep, actor: CurrentActor, correction_id: str, body: CorrectionDecision
) -> CorrectionPublic:
    return CorrectionPublic(
        **services.registry.decide_correction(
            actor, correction_id[:36], body.apply, body.reason
        ).__dict__
    )


@router.get("/people/{person_id}/export")
def export(services: ServicesDep, actor: CurrentActor, person_id: str) -> dict[str, Any]:
    """Everything held about the person, as JSON."""
    return services.registry.export(actor, person_id[:36])


@router.get("/people/{person_id}/access-report", response_model=list[AccessReportLinePublic])
def access_report(
    services: ServicesDep, actor: CurrentActor, person_id: str
) -> list[AccessReportLinePublic]:
    """Who read or changed this record, when and why."""
    return [
        AccessReportLinePublic(**{**line.__dict__, "fields": list(line.fields)})
        for line in services.registry.access_report(actor, person_id[:36])
    ]


def _own(actor: Actor) -> str:
    if not actor.person_id:
        raise InvalidInput("this account is not linked to a person; /me is for citizens")
    return actor.person_id


@router.get("/me", response_model=PersonPublic, tags=["citizen"])
def my_record(services: ServicesDep, actor: CurrentActor) -> PersonPublic:
    return _person(services.registry.get_person(actor, _own(actor)))


@router.get("/me/household", response_model=HouseholdPublic, tags=["citizen"])
def my_household(services: ServicesDep, actor: CurrentActor) -> HouseholdPublic:
    person = services.registry.get_person(actor, _own(actor))
    household, members = services.registry.get_household(actor, person.household_id)
    return _household(household, members)


@router.get("/me/export", tags=["citizen"])
def my_export(services: ServicesDep, actor: CurrentActor) -> dict[str, Any]:
    return services.registry.export(actor, _own(actor))


@router.get("/me/access-report", response_model=list[AccessReportLinePublic], tags=["citizen"])
def my_access_report(services: ServicesDep, actor: CurrentActor) -> list[AccessReportLinePublic]:
    return [
        AccessReportLinePublic(**{**line.__dict__, "fields": list(line.fields)})
        for line in services.registry.access_report(actor, _own(actor))
    ]


@router.post("/imports", response_model=ImportReportPublic, status_code=status.HTTP_201_CREATED)
async def import_file(
    services: ServicesDep,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="CSV or Parquet, one row per person")],
    skip_invalid: Annotated[bool, Form()] = False,
    dry_run: Annotated[bool, Form()] = False,
    check_duplicates: Annotated[bool, Form()] = True,
) -> ImportReportPublic:
    """Bulk import; a file with errors imports nothing (422 with every row error).

    Unless check_duplicates is false, each row is first checked against the people already
    registered; the report lists the rows that look like one of them (nothing is held back).
    """
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidInput(
            "upload a .csv or .parquet file",
            errors=[{"field": "file", "reason": "unknown file type"}],
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        # The body-size middleware has already capped the upload at MAX_UPLOAD_BYTES.
        with path.open("wb") as handle:
            while chunk := await file.read(1 << 20):
                handle.write(chunk)
        # Reading and importing a large file takes long; off the event loop, other requests
        # are still served meanwhile.
        table = await run_in_threadpool(read_table, path)
        possible = (
            await run_in_threadpool(services.duplicate_check.check_table, actor, table)
            if check_duplicates
            else []
        )
        report = await run_in_threadpool(
            services.importer.import_table,
            actor,
            table,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            source=(file.filename or "upload")[:64],
        )
    return ImportReportPublic(
        rows=report.rows,
        people=report.people,
        households=report.households,
        rejected_rows=report.rejected_rows,
        dry_run=report.dry_run,
        errors=[RowErrorPublic(**e.__dict__) for e in report.errors[:1000]],
        possible_duplicates=[
            RowMatchesPublic(
                row=r.row,
                matches=[LikelyMatchPublic.model_validate(m.as_dict()) for m in r.matches],
            )
            for r in possible[:1000]
        ],
    )
