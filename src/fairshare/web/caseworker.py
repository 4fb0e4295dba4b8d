"""Caseworker pages: register a household, search, view, edit with a reason, history,
and the correction-request queue.

Names are personal data: a search is a POST form, so they never reach a URL or a server log,
and records are listed only in answer to a search. Each page calls the registry with the
session's actor; the registry checks the purpose and writes the access log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Catalogue, Entity, FieldDefinition
from fairshare.dedup.registration import LikelyDuplicates, LikelyMatch
from fairshare.errors import Conflict, InvalidInput
from fairshare.identity.model import ROLE_PURPOSES, Role
from fairshare.registry import services as registry_services
from fairshare.registry.model import Person
from fairshare.registry.services import MemberInput
from fairshare.web.forms import (
    FormErrors,
    FormField,
    catalogue_field,
    display_value,
    field_message,
    shown_value,
)
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()
OWN = ROLE_PURPOSES[Role.CASEWORKER]
REGISTER = registry_services.REGISTER & OWN
SEARCH = registry_services.SEARCH & OWN
READ = registry_services.READ & OWN
UPDATE = registry_services.UPDATE & OWN
CORRECTION_QUEUE = (
    registry_services.DECIDE_CORRECTION | registry_services.REQUEST_CORRECTION
) & OWN
DECIDE = registry_services.DECIDE_CORRECTION & OWN
MAX_MEMBERS = 30
ID_LENGTH = 36


def _catalogue(visit: Visit) -> Catalogue:
    return Catalogue.of(catalogue_services.list_fields(visit.services.uow()))


def _definitions(catalogue: Catalogue, entity: Entity) -> list[FieldDefinition]:
    return catalogue.for_entity(entity)


# ---- registering a household ---------------------------------------------------------------


@dataclass
class MemberEntry:
    """One member's part of the registration form, as typed."""

    values: dict[str, str]
    consent: bool = False
    consent_method: str = ""

    def is_blank(self) -> bool:
        return not self.consent and not any(v.strip() for v in self.values.values())


@dataclass
class RegistrationEntry:
    household: dict[str, str]
    members: list[MemberEntry] = field(default_factory=list)


def _member_key(index: int, name: str) -> str:
    return f"member-{index}.{name}"


def _blank_member(catalogue: Catalogue, first: bool) -> MemberEntry:
    values = {d.name: "" for d in _definitions(catalogue, Entity.PERSON)}
    if first:
        values["relationship_to_head"] = "head"
    return MemberEntry(values)


def _read_registration(visit: Visit, catalogue: Catalogue) -> RegistrationEntry:
    try:
        count = int(visit.field("members", 4) or 1)
    except ValueError:
        count = 1
    count = max(1, min(count, MAX_MEMBERS))
    household = {
        d.name: visit.field(f"household.{d.name}")
        for d in _definitions(catalogue, Entity.HOUSEHOLD)
    }
    members = [
        MemberEntry(
            {
                d.name: visit.field(_member_key(i, d.name))
                for d in _definitions(catalogue, Entity.PERSON)
            },
            visit.checked(_member_key(i, "health_consent")),
            visit.field(_member_key(i, "consent_method"), 80),
        )
        for i in range(count)
    ]
    return RegistrationEntry(household, members)


def _members_to_register(entry: RegistrationEntry) -> list[tuple[int, MemberEntry]]:
    """Members with something typed; an untouched extra block is left out, never the first."""
    return [(i, m) for i, m in enumerate(entry.members) if i == 0 or not m.is_blank()]


def _check_registration(visit: Visit, catalogue: Catalogue, entry: RegistrationEntry) -> FormErrors:
    """Every problem of the form at once (the registry stops at the first member's)."""
    errors = FormErrors()
    translator = visit.translator
    try:
        catalogue.parse_values(Entity.HOUSEHOLD, entry.household)
    except InvalidInput as error:
        for item in error.errors:
            label = _label(catalogue, Entity.HOUSEHOLD, item["field"], visit)
            errors.add(
                f"household.{item['field']}", field_message(translator, label, item["reason"])
            )
    heads: list[int] = []
    for index, member in _members_to_register(entry):
        try:
            catalogue.parse_values(Entity.PERSON, member.values)
        except InvalidInput as error:
            for item in error.errors:
                label = _label(catalogue, Entity.PERSON, item["field"], visit)
                errors.add(
                    _member_key(index, item["field"]),
                    field_message(translator, label, item["reason"]),
                )
        health_without_consent = [
            d
            for d in _definitions(catalogue, Entity.PERSON)
            if d.is_health and member.values.get(d.name, "").strip() and not member.consent
        ]
        for definition in health_without_consent:
            errors.add(
                _member_key(index, definition.name),
                visit._(
                    "%(label)s: tick the person's consent to record health "
                    "information, or leave this empty",
                    label=visit.translator.gettext(definition.label),
                ),
            )
        if member.values.get("relationship_to_head") == "head":
            heads.append(index)
    relationship = visit.translator.gettext("Relationship to household head")
    if not heads:
        errors.add(
            _member_key(0, "relationship_to_head"),
            visit._("%(label)s: one member must be the head of household", label=relationship),
        )
    for index in heads[1:]:
        errors.add(
            _member_key(index, "relationship_to_head"),
            visit._("%(label)s: only one member can be the head of household", label=relationship),
        )
    return errors


def _label(catalogue: Catalogue, entity: Entity, name: str, visit: Visit) -> str:
    definition = catalogue.get(entity, name)
    return visit.translator.gettext(definition.label if definition else name)


@dataclass
class MemberForm:
    number: int
    fields: list[FormField]
    consent: FormField
    consent_method: FormField
    health: list[FormField]


@dataclass
class DuplicateWarning:
    """A member who looks like people already registered, as the warning lists them."""

    number: int  # the member's number on the form
    matches: list[LikelyMatch]


def _registration_page(
    visit: Visit,
    catalogue: Catalogue,
    entry: RegistrationEntry,
    errors: FormErrors,
    status: int = 200,
    duplicates: list[DuplicateWarning] | None = None,
) -> Response:
    translator = visit.translator
    household_fields = [
        catalogue_field(
            d,
            f"household.{d.name}",
            entry.household.get(d.name, ""),
            errors.by_name.get(f"household.{d.name}", ""),
            translator,
        )
        for d in _definitions(catalogue, Entity.HOUSEHOLD)
    ]
    members: list[MemberForm] = []
    summary_fields = list(household_fields)
    for index, member in enumerate(entry.members):

        def build(
            definition: FieldDefinition, i: int = index, m: MemberEntry = member
        ) -> FormField:
            key = _member_key(i, definition.name)
            item = catalogue_field(
                definition,
                key,
                m.values.get(definition.name, ""),
                errors.by_name.get(key, ""),
                translator,
            )
            if item.error:
                item.summary = visit._(
                    "Member %(number)s: %(message)s", number=i + 1, message=item.error
                )
            return item

        people_fields = _definitions(catalogue, Entity.PERSON)
        form = MemberForm(
            index + 1,
            [build(d) for d in people_fields if not d.is_health],
            FormField(
                _member_key(index, "health_consent"),
                visit._("The person consents to Fairshare holding their health information"),
                kind="checkbox",
                value="yes" if member.consent else "",
            ),
            FormField(
                _member_key(index, "consent_method"),
                visit._("How consent was given"),
                value=member.consent_method,
                hint=visit._("For example: signed form, or spoken with a witness"),
                max_length=80,
            ),
            [build(d) for d in people_fields if d.is_health],
        )
        members.append(form)
        summary_fields += form.fields + form.health
    confirmation = [
        FormField(
            "not_duplicate",
            visit._("I have checked: the person is not any of the people listed"),
            kind="checkbox",
            value="yes" if visit.checked("not_duplicate") else "",
        ),
        FormField(
            "not_duplicate_reason",
            visit._("How you know it is someone else"),
            value=visit.field("not_duplicate_reason", 500),
            error=errors.by_name.get("not_duplicate_reason", ""),
            hint=visit._("For example: a different identity document, seen in person"),
            max_length=500,
        ),
    ]
    return render(
        visit,
        "caseworker/register.html",
        status,
        household_fields=household_fields,
        members=members,
        errors=errors,
        summary_fields=summary_fields + confirmation[1:],
        duplicates=duplicates or [],
        confirmation=confirmation,
    )


@page(router, "GET", "/caseworker/households/new")
def registration_form(visit: Visit) -> Response:
    visit.require_purpose(REGISTER)
    catalogue = _catalogue(visit)
    entry = RegistrationEntry(
        {d.name: "" for d in _definitions(catalogue, Entity.HOUSEHOLD)},
        [_blank_member(catalogue, first=True)],
    )
    return _registration_page(visit, catalogue, entry, FormErrors())


@page(router, "POST", "/caseworker/households/new")
def register_household(visit: Visit) -> Response:
    visit.require_purpose(REGISTER)
    catalogue = _catalogue(visit)
    entry = _read_registration(visit, catalogue)
    if visit.field("action", 20) == "add_member":
        if len(entry.members) < MAX_MEMBERS:
            entry.members.append(_blank_member(catalogue, first=False))
        return _registration_page(visit, catalogue, entry, FormErrors())
    errors = _check_registration(visit, catalogue, entry)
    if errors:
        return _registration_page(visit, catalogue, entry, errors, status=422)
    chosen = _members_to_register(entry)
    reason = visit.field("not_duplicate_reason", 500) if visit.checked("not_duplicate") else ""
    if visit.checked("not_duplicate") and len(reason.strip()) < 3:
        errors.add(
            "not_duplicate_reason",
            visit._("Say how you know the person is not one of the people listed"),
        )
        return _registration_page(visit, catalogue, entry, errors, status=422)
    try:
        household, _flagged = visit.services.duplicate_check.register_household(
            visit.actor,
            entry.household,
            [
                MemberInput(
                    member.values,
                    health_consent=member.consent,
                    consent_method=member.consent_method or "recorded at registration",
                )
                for _index, member in chosen
            ],
            not_duplicate_reason=reason or None,
        )
    except LikelyDuplicates as warning:
        found = [
            DuplicateWarning(chosen[index][0] + 1, list(result.matches))
            for index, result in warning.flagged
        ]
        return _registration_page(
            visit, catalogue, entry, FormErrors(), status=409, duplicates=found
        )
    except (InvalidInput, Conflict) as error:
        return _registration_page(
            visit, catalogue, entry, _service_errors(visit, catalogue, error, chosen), status=422
        )
    return redirect(f"/caseworker/households/{household.id}?registered=1")


@page(router, "POST", "/caseworker/households/check")
def check_duplicates(visit: Visit) -> Response:
    """The warning as the caseworker types (htmx): members who look like registered people.

    Only members with enough typed to look up are checked; each match shown is logged.
    """
    visit.require_purpose(REGISTER)
    catalogue = _catalogue(visit)
    entry = _read_registration(visit, catalogue)
    found: list[DuplicateWarning] = []
    for index, member in _members_to_register(entry):
        if not member.values.get("family_names", "").strip():
            continue
        result = visit.services.duplicate_check.check(visit.actor, member.values, entry.household)
        if result.matches:
            found.append(DuplicateWarning(index + 1, list(result.matches)))
    return render(visit, "caseworker/_duplicates.html", duplicates=found)


def _service_errors(
    visit: Visit,
    catalogue: Catalogue,
    error: InvalidInput | Conflict,
    chosen: list[tuple[int, MemberEntry]],
) -> FormErrors:
    """What the registry refused, placed next to the fields it names where it can be."""
    errors = FormErrors()
    items = error.errors if isinstance(error, InvalidInput) else []
    for item in items:
        name = str(item.get("field", ""))
        reason = str(item.get("reason", ""))
        if "member" in item and int(item["member"]) < len(chosen):
            form_index = chosen[int(item["member"])][0]
            label = _label(catalogue, Entity.PERSON, name, visit)
            errors.add(
                _member_key(form_index, name), field_message(visit.translator, label, reason)
            )
        elif catalogue.get(Entity.HOUSEHOLD, name) is not None:
            label = _label(catalogue, Entity.HOUSEHOLD, name, visit)
            errors.add(f"household.{name}", field_message(visit.translator, label, reason))
    if not errors.by_name:
        errors.general.append(error.message)
    return errors


# ---- reading -------------------------------------------------------------------------------


@page(router, "GET", "/caseworker/households/{household_id}")
def household_view(visit: Visit, household_id: str) -> Response:
    visit.require_purpose(READ)
    catalogue = _catalogue(visit)
    household, members = visit.services.registry.get_household(
        visit.actor, household_id[:ID_LENGTH]
    )
    return render(
        visit,
        "caseworker/household.html",
        household=household,
        rows=_rows(visit, catalogue, Entity.HOUSEHOLD, household.values),
        members=members,
        relationship=catalogue.get(Entity.PERSON, "relationship_to_head"),
        show=lambda d, v: display_value(d, v, visit.translator),
        registered="registered" in visit.request.query_params,
    )


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    purpose: str = ""


def _rows(
    visit: Visit, catalogue: Catalogue, entity: Entity, values: dict[str, Any], health: bool = False
) -> list[Row]:
    translator = visit.translator
    return [
        Row(
            translator.gettext(d.label),
            display_value(d, values.get(d.name), translator),
            translator.gettext(d.purpose),
        )
        for d in _definitions(catalogue, entity)
        if d.is_health == health and (not health or d.name in values)
    ]


@page(router, "GET", "/caseworker/search")
def search_form(visit: Visit) -> Response:
    visit.require_purpose(SEARCH)
    return render(
        visit,
        "caseworker/search.html",
        fields=_search_fields(visit),
        errors=FormErrors(),
        results=None,
    )


def _search_fields(visit: Visit, errors: FormErrors | None = None) -> list[FormField]:
    errors = errors or FormErrors()
    specs = (
        ("name", visit._("Name"), "text", visit._("Any part of the given or family names")),
        ("national_id", visit._("National ID number"), "text", ""),
        ("date_of_birth", visit._("Date of birth"), "date", ""),
        ("region", visit._("Region"), "text", visit._("Optional: only people in this region")),
    )
    return [
        FormField(
            name,
            label,
            kind=kind,
            value=visit.field(name, 100),
            hint=hint,
            error=errors.by_name.get(name, ""),
            max_length=None if kind == "date" else 100,
        )
        for name, label, kind, hint in specs
    ]


@page(router, "POST", "/caseworker/search")
def search(visit: Visit) -> Response:
    """Results only in answer to a search, in the body of the answer, never in its URL."""
    visit.require_purpose(SEARCH)
    errors = FormErrors()
    name = visit.field("name", 100).strip()
    national_id = visit.field("national_id", 32).strip()
    region = visit.field("region", 80).strip()
    born: date | None = None
    if visit.field("date_of_birth", 20):
        try:
            born = date.fromisoformat(visit.field("date_of_birth", 20))
        except ValueError:
            errors.add("date_of_birth", visit._("Date of birth: use the form YYYY-MM-DD"))
    if not (name or national_id or born) and not errors:
        errors.add("name", visit._("Give a name, a national ID number or a date of birth"))
    results = None
    if not errors:
        try:
            results = visit.services.registry.search(
                visit.actor,
                name=name or None,
                national_id=national_id or None,
                date_of_birth=born,
                region=region or None,
            )
        except InvalidInput as error:
            errors.add("name", error.message)
    return render(
        visit,
        "caseworker/search.html",
        status=422 if errors else 200,
        fields=_search_fields(visit, errors),
        errors=errors,
        results=results,
    )


@page(router, "GET", "/caseworker/people/{person_id}")
def person_view(visit: Visit, person_id: str) -> Response:
    visit.require_purpose(READ)
    catalogue = _catalogue(visit)
    person = visit.services.registry.get_person(visit.actor, person_id[:ID_LENGTH])
    return render(
        visit,
        "caseworker/person.html",
        person=person,
        rows=_rows(visit, catalogue, Entity.PERSON, person.values),
        health_rows=_rows(visit, catalogue, Entity.PERSON, person.health, health=True),
        sees_health=visit.actor.sees_health,
        can_edit=visit.purpose in UPDATE,
        updated="updated" in visit.request.query_params,
    )


@page(router, "GET", "/caseworker/people/{person_id}/history")
def person_history(visit: Visit, person_id: str) -> Response:
    visit.require_purpose(READ)
    catalogue = _catalogue(visit)
    entries = visit.services.registry.history(visit.actor, person_id[:ID_LENGTH])

    def shown(name: str, value: Any) -> str:
        definition = catalogue.get(Entity.PERSON, name)
        return display_value(definition, value, visit.translator) if definition else str(value)

    return render(
        visit,
        "caseworker/history.html",
        person_id=person_id[:ID_LENGTH],
        entries=entries,
        label=lambda name: _label(catalogue, Entity.PERSON, name, visit),
        shown=shown,
        sees_health=visit.actor.sees_health,
    )


# ---- changing a record ---------------------------------------------------------------------


def _editable(visit: Visit, catalogue: Catalogue) -> list[FieldDefinition]:
    """Health fields only under a purpose that may see them: a blank one would erase a value."""
    sees_health = visit.actor.sees_health
    return [d for d in _definitions(catalogue, Entity.PERSON) if sees_health or not d.is_health]


def _edit_page(
    visit: Visit,
    catalogue: Catalogue,
    person_id: str,
    values: dict[str, str],
    version: str,
    reason: str,
    errors: FormErrors,
    status: int = 200,
) -> Response:
    translator = visit.translator
    fields = [
        catalogue_field(
            d, d.name, values.get(d.name, ""), errors.by_name.get(d.name, ""), translator
        )
        for d in _editable(visit, catalogue)
    ]
    reason_field = FormField(
        "reason",
        visit._("Why is the record changed?"),
        kind="textarea",
        value=reason,
        required=True,
        hint=visit._("Kept in the record's history and shown to the person."),
        error=errors.by_name.get("reason", ""),
        max_length=500,
    )
    return render(
        visit,
        "caseworker/edit.html",
        status,
        person_id=person_id,
        fields=fields,
        reason_field=reason_field,
        version=version,
        errors=errors,
        summary_fields=[*fields, reason_field],
    )


@page(router, "GET", "/caseworker/people/{person_id}/edit")
def edit_form(visit: Visit, person_id: str) -> Response:
    visit.require_purpose(UPDATE)
    catalogue = _catalogue(visit)
    person: Person = visit.services.registry.get_person(visit.actor, person_id[:ID_LENGTH])
    current = {**person.values, **person.health}
    values = {d.name: shown_value(current.get(d.name)) for d in _editable(visit, catalogue)}
    return _edit_page(visit, catalogue, person.id, values, str(person.version), "", FormErrors())


@page(router, "POST", "/caseworker/people/{person_id}/edit")
def edit(visit: Visit, person_id: str) -> Response:
    visit.require_purpose(UPDATE)
    person_id = person_id[:ID_LENGTH]
    catalogue = _catalogue(visit)
    # Only fields the form sent: a field declared after the form was opened stays as it is.
    sent = set(visit.form.keys()) if visit.form is not None else set()
    values = {d.name: visit.field(d.name) for d in _editable(visit, catalogue) if d.name in sent}
    reason = visit.field("reason", 600)
    version = visit.field("version", 12)
    try:
        visit.services.registry.update_person(
            visit.actor,
            person_id,
            values,
            reason,
            expected_version=int(version) if version.isdigit() else None,
        )
    except (InvalidInput, Conflict) as error:
        errors = FormErrors()
        for item in error.errors if isinstance(error, InvalidInput) else []:
            name = str(item.get("field", ""))
            label = (
                visit._("Reason")
                if name == "reason"
                else _label(catalogue, Entity.PERSON, name, visit)
            )
            errors.add(name, field_message(visit.translator, label, str(item.get("reason", ""))))
        if not errors.by_name:
            errors.general.append(
                visit._(
                    "Someone changed this record while you were editing it. Open it again to "
                    "see the current values, then make your change."
                )
                if isinstance(error, Conflict)
                else error.message
            )
        return _edit_page(visit, catalogue, person_id, values, version, reason, errors, 422)
    return redirect(f"/caseworker/people/{person_id}?updated=1")


# ---- correction requests -------------------------------------------------------------------


@page(router, "GET", "/caseworker/corrections")
def correction_queue(visit: Visit) -> Response:
    visit.require_purpose(CORRECTION_QUEUE)
    return _queue_page(visit, {}, {})


def _queue_page(
    visit: Visit, reasons: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    catalogue = _catalogue(visit)
    requests = visit.services.registry.corrections(visit.actor, status="open")

    def shown(name: str, value: Any) -> str:
        definition = catalogue.get(Entity.PERSON, name)
        return display_value(definition, value, visit.translator) if definition else str(value)

    return render(
        visit,
        "caseworker/corrections.html",
        status,
        requests=requests,
        label=lambda name: _label(catalogue, Entity.PERSON, name, visit),
        shown=shown,
        can_decide=visit.purpose in DECIDE,
        reasons=reasons,
        errors=errors,
        decided=visit.request.query_params.get("decided", "")[:10],
    )


@page(router, "POST", "/caseworker/corrections/{correction_id}/decision")
def decide_correction(visit: Visit, correction_id: str) -> Response:
    visit.require_purpose(DECIDE)
    correction_id = correction_id[:ID_LENGTH]
    decision = visit.field("decision", 10)
    reason = visit.field("reason", 600)
    if decision not in ("apply", "reject"):
        return _queue_page(
            visit, {correction_id: reason}, {correction_id: visit._("Choose apply or reject")}, 422
        )
    try:
        visit.services.registry.decide_correction(
            visit.actor, correction_id, decision == "apply", reason
        )
    except InvalidInput as error:
        reasons = [str(item.get("reason", "")) for item in error.errors] or [error.message]
        message = field_message(visit.translator, visit._("Reason"), reasons[0])
        return _queue_page(visit, {correction_id: reason}, {correction_id: message}, 422)
    return redirect(
        f"/caseworker/corrections?decided={'applied' if decision == 'apply' else 'rejected'}"
    )
