"""The citizen's portal: my data with each field's purpose, my household, my entitlements and
their balances, who accessed my record and why, corrections, withdrawing health consent, and
downloading everything.

A citizen acts for `self_service` on their own record only; the registry enforces that and
logs each view, so the person's own visits appear in their access report too.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Catalogue, Entity, FieldDefinition
from fairshare.errors import InvalidInput
from fairshare.identity.model import Purpose, Role
from fairshare.registry.model import HEALTH_SCOPE
from fairshare.web.forms import FormErrors, FormField, display_value, field_message
from fairshare.web.labels import ACTION_LABELS, LOGGED_NAMES, PURPOSE_LABELS, ROLE_LABELS
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()


def _own_id(visit: Visit) -> str:
    """The citizen's person id; the account was created for that person."""
    if visit.user is None or not visit.user.person_id:
        raise InvalidInput("this account is not linked to a person record")
    return visit.user.person_id


def _catalogue(visit: Visit) -> Catalogue:
    return Catalogue.of(catalogue_services.list_fields(visit.services.uow()))


def _described(
    visit: Visit, definitions: list[FieldDefinition], values: dict[str, Any]
) -> list[dict[str, str]]:
    translator = visit.translator
    return [
        {
            "label": translator.gettext(d.label),
            "value": display_value(d, values.get(d.name), translator),
            "purpose": translator.gettext(d.purpose),
            "health": "yes" if d.is_health else "",
        }
        for d in definitions
        if d.name in values
    ]


@page(router, "GET", "/me")
def my_data(visit: Visit) -> Response:
    """Everything held about me, each field with why it is held."""
    catalogue = _catalogue(visit)
    person = visit.services.registry.get_person(visit.actor, _own_id(visit))
    return render(
        visit,
        "citizen/data.html",
        rows=_described(
            visit, catalogue.for_entity(Entity.PERSON), {**person.values, **person.health}
        ),
    )


@page(router, "GET", "/me/household")
def my_household(visit: Visit) -> Response:
    catalogue = _catalogue(visit)
    registry = visit.services.registry
    person = registry.get_person(visit.actor, _own_id(visit))
    household, members = registry.get_household(visit.actor, person.household_id)
    relationship = catalogue.get(Entity.PERSON, "relationship_to_head")
    return render(
        visit,
        "citizen/household.html",
        rows=_described(visit, catalogue.for_entity(Entity.HOUSEHOLD), household.values),
        members=[
            {
                "name": f"{m.values.get('given_names', '')} {m.values.get('family_names', '')}",
                "relationship": display_value(
                    relationship, m.values.get("relationship_to_head"), visit.translator
                )
                if relationship
                else "",
                "me": m.id == person.id,
            }
            for m in members
        ],
    )


@page(router, "GET", "/me/entitlements")
def my_entitlements(visit: Visit) -> Response:
    """My entitlements and my household's: programme, balance, period and until when."""
    accounts = visit.services.ledger.person_entitlements(visit.actor, _own_id(visit))
    today = date.today()
    return render(
        visit,
        "citizen/entitlements.html",
        rows=[
            {
                "programme": account.programme or "",
                "household": account.owner_type == "household",
                "balance": account.text(visit.language),
                "period": account.period,
                "valid_until": account.expires_on.isoformat() if account.expires_on else "",
                "ended": account.expires_on is not None and account.expires_on < today,
            }
            for account in accounts
        ],
    )


@page(router, "GET", "/me/access")
def who_accessed(visit: Visit) -> Response:
    """Who read or changed my record or my household, when, and for what purpose."""
    lines = visit.services.registry.access_report(visit.actor, _own_id(visit))
    catalogue = _catalogue(visit)
    translator = visit.translator

    def field_names(names: tuple[str, ...]) -> str:
        labels = []
        for name in names:
            definition = catalogue.get(Entity.PERSON, name) or catalogue.get(Entity.HOUSEHOLD, name)
            if definition is not None:
                labels.append(translator.gettext(definition.label))
            else:
                labels.append(translator.gettext(LOGGED_NAMES.get(name, name)))
        return ", ".join(labels)

    def purpose(code: str) -> str:
        try:
            return translator.gettext(PURPOSE_LABELS[Purpose(code)])
        except ValueError:
            return code

    def role(code: str) -> str:
        try:
            return translator.gettext(ROLE_LABELS[Role(code)])
        except ValueError:
            return code

    return render(
        visit,
        "citizen/access.html",
        lines=[
            {
                "at": line.at[:19].replace("T", " "),
                "actor": line.actor,
                "role": role(line.role),
                "purpose": purpose(line.purpose),
                "action": translator.gettext(ACTION_LABELS.get(line.action, line.action)),
                "fields": field_names(line.fields),
                "denied": line.outcome == "denied",
                "is_me": line.actor == visit.actor.username,
            }
            for line in lines
        ],
    )


def _correction_fields(
    visit: Visit, catalogue: Catalogue, errors: FormErrors | None = None
) -> list[FormField]:
    errors = errors or FormErrors()
    choices = [
        (d.name, visit.translator.gettext(d.label)) for d in catalogue.for_entity(Entity.PERSON)
    ]
    return [
        FormField(
            "field",
            visit._("What is wrong?"),
            kind="select",
            choices=choices,
            value=visit.field("field", 63),
            error=errors.by_name.get("field", ""),
            required=True,
        ),
        FormField(
            "value",
            visit._("What it should say"),
            value=visit.field("value", 200),
            hint=visit._("Leave empty to ask for the value to be removed. Dates as YYYY-MM-DD."),
            error=errors.by_name.get("value", ""),
            max_length=200,
        ),
        FormField(
            "reason",
            visit._("Why"),
            kind="textarea",
            value=visit.field("reason", 500),
            error=errors.by_name.get("reason", ""),
            required=True,
            max_length=500,
        ),
    ]


def _corrections_page(
    visit: Visit, catalogue: Catalogue, fields: list[FormField], errors: FormErrors, status: int
) -> Response:
    requests = visit.services.registry.corrections(
        visit.actor, person_id=_own_id(visit), status=None
    )

    def shown(name: str, value: Any) -> str:
        definition = catalogue.get(Entity.PERSON, name)
        return display_value(definition, value, visit.translator) if definition else str(value)

    def label(name: str) -> str:
        definition = catalogue.get(Entity.PERSON, name)
        return visit.translator.gettext(definition.label) if definition else name

    return render(
        visit,
        "citizen/corrections.html",
        status,
        fields=fields,
        errors=errors,
        requests=requests,
        shown=shown,
        label=label,
        sent="sent" in visit.request.query_params,
    )


@page(router, "GET", "/me/corrections")
def correction_form(visit: Visit) -> Response:
    catalogue = _catalogue(visit)
    return _corrections_page(
        visit, catalogue, _correction_fields(visit, catalogue), FormErrors(), 200
    )


@page(router, "POST", "/me/corrections")
def request_correction(visit: Visit) -> Response:
    catalogue = _catalogue(visit)
    name = visit.field("field", 63)
    errors = FormErrors()
    definition = catalogue.get(Entity.PERSON, name)
    if definition is None:
        errors.add("field", visit._("What is wrong?: choose the information to correct"))
    else:
        try:
            visit.services.registry.request_correction(
                visit.actor,
                _own_id(visit),
                name,
                visit.field("value", 200),
                visit.field("reason", 500),
            )
        except InvalidInput as error:
            for item in error.errors:
                target = "reason" if item.get("field") == "reason" else "value"
                label = (
                    visit._("Why")
                    if target == "reason"
                    else visit.translator.gettext(definition.label)
                )
                errors.add(
                    target, field_message(visit.translator, label, str(item.get("reason", "")))
                )
            if not errors.by_name:
                errors.add("value", error.message)
        else:
            return redirect("/me/corrections?sent=1")
    return _corrections_page(
        visit, catalogue, _correction_fields(visit, catalogue, errors), errors, 422
    )


@page(router, "GET", "/me/consent")
def consent_page(visit: Visit) -> Response:
    return render(visit, "citizen/consent.html", error="", erased=None)


@page(router, "POST", "/me/consent/withdraw")
def withdraw_consent(visit: Visit) -> Response:
    """Withdraw consent to health data, after the person confirms; the values are erased."""
    if not visit.checked("confirm"):
        return render(
            visit,
            "citizen/consent.html",
            status=422,
            error=visit._("Tick the box to confirm that your health information will be erased"),
            erased=None,
        )
    erased = visit.services.registry.withdraw_consent(visit.actor, _own_id(visit), HEALTH_SCOPE)
    return render(visit, "citizen/consent.html", error="", erased=erased)


@page(router, "GET", "/me/export")
def download_my_data(visit: Visit) -> Response:
    """Everything held about me as a JSON file."""
    data = visit.services.registry.export(visit.actor, _own_id(visit))
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="fairshare-my-data.json"'},
    )
