"""Administrator pages: the field catalogue (declare a custom field, behind the red-line
guard) and user accounts (create, unlock, deactivate, reactivate)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import FieldType
from fairshare.catalogue.redline import RefusedField
from fairshare.errors import Conflict, InvalidInput, NotFound
from fairshare.identity import services as identity
from fairshare.identity.guard import authorize
from fairshare.identity.model import Purpose, Role
from fairshare.web import sessions
from fairshare.web.forms import FormErrors, FormField, field_message
from fairshare.web.i18n import N_
from fairshare.web.labels import ROLE_LABELS
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()
ADMINISTRATION = frozenset({Purpose.ADMINISTRATION})
LIST_SEPARATORS = re.compile(r"[\s,;]+")

TYPE_LABELS: dict[FieldType, str] = {
    FieldType.TEXT: N_("Text"),
    FieldType.INTEGER: N_("Whole number"),
    FieldType.DECIMAL: N_("Decimal number"),
    FieldType.DATE: N_("Date"),
    FieldType.BOOLEAN: N_("Yes or no"),
    FieldType.ENUMERATION: N_("List of choices"),
}
WHERE_LABELS: dict[str, str] = {
    "name": N_("its name"),
    "label": N_("its label"),
    "description": N_("its description"),
    "purpose": N_("its purpose"),
    "choices": N_("one of its choices"),
}


# ---- the catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A red-line refusal, in words: the category, the word that matched, and where."""

    category: str
    term: str
    where: str


def _declare_fields(visit: Visit, errors: FormErrors, fresh: bool) -> list[FormField]:
    def value(name: str, default: str = "") -> str:
        return default if fresh else visit.field(name, 1000)

    def item(name: str, label: str, **options: object) -> FormField:
        return FormField(name, label, error=errors.by_name.get(name, ""), **options)  # type: ignore[arg-type]

    return [
        item(
            "name",
            visit._("Name"),
            value=value("name"),
            required=True,
            max_length=63,
            hint=visit._("Lowercase letters, digits and underscores, e.g. school_attendance"),
        ),
        item("label", visit._("Label"), value=value("label"), required=True, max_length=300),
        item(
            "type",
            visit._("Type"),
            kind="select",
            value=value("type", FieldType.TEXT.value),
            choices=[(t.value, visit.translator.gettext(TYPE_LABELS[t])) for t in FieldType],
            required=True,
        ),
        item(
            "entity",
            visit._("About"),
            kind="select",
            value=value("entity", "person"),
            choices=[("person", visit._("Each person")), ("household", visit._("Each household"))],
            required=True,
        ),
        item(
            "purpose",
            visit._("Why it is needed"),
            value=value("purpose"),
            required=True,
            max_length=300,
            hint=visit._("Shown to everyone on the transparency page, and to each person."),
        ),
        item(
            "sensitivity",
            visit._("Sensitivity"),
            kind="select",
            value=value("sensitivity", "personal"),
            choices=[
                ("personal", visit._("Personal")),
                ("health", visit._("Health (only with consent, encrypted)")),
            ],
            required=True,
        ),
        item(
            "description",
            visit._("Description"),
            kind="textarea",
            value=value("description"),
            max_length=1000,
        ),
        item(
            "choices",
            visit._("Choices"),
            kind="textarea",
            value=value("choices"),
            hint=visit._("For a list of choices: lowercase codes, one per line."),
        ),
        item(
            "programmes",
            visit._("Programmes that use it"),
            value=value("programmes"),
            hint=visit._("Programme codes, separated by commas."),
        ),
        item(
            "required",
            visit._("Every registration must fill it in"),
            kind="checkbox",
            value="" if fresh else ("yes" if visit.checked("required") else ""),
        ),
    ]


def _catalogue_page(
    visit: Visit,
    errors: FormErrors,
    fresh: bool,
    refusal: Refusal | None = None,
    declared: str = "",
    status: int = 200,
) -> Response:
    fields = _declare_fields(visit, errors, fresh)
    return render(
        visit,
        "admin/catalogue.html",
        status,
        catalogue=catalogue_services.list_fields(visit.services.uow()),
        type_labels=TYPE_LABELS,
        fields=fields,
        errors=errors,
        refusal=refusal,
        declared=declared,
    )


@page(router, "GET", "/admin/catalogue")
def catalogue_page(visit: Visit) -> Response:
    visit.require_purpose(ADMINISTRATION)
    return _catalogue_page(
        visit,
        FormErrors(),
        fresh=True,
        declared=visit.request.query_params.get("declared", "")[:63],
    )


@page(router, "POST", "/admin/catalogue")
def declare_field(visit: Visit) -> Response:
    """Declare a custom field; a red-line category is refused, named, and nothing is stored."""
    visit.require_purpose(ADMINISTRATION)
    raw = {
        "name": visit.field("name", 63).strip(),
        "label": visit.field("label", 300).strip(),
        "type": visit.field("type", 20),
        "entity": visit.field("entity", 20),
        "purpose": visit.field("purpose", 300).strip(),
        "sensitivity": visit.field("sensitivity", 20),
        "description": visit.field("description", 1000).strip(),
        "choices": [c for c in LIST_SEPARATORS.split(visit.field("choices", 5000)) if c],
        "programmes": [p for p in LIST_SEPARATORS.split(visit.field("programmes", 2000)) if p],
        "required": visit.checked("required"),
    }
    errors = FormErrors()
    try:
        definition = catalogue_services.definition_from_json(raw)
        catalogue_services.declare_field(visit.services.uow(), visit.actor, definition)
    except RefusedField as refused:
        translator = visit.translator
        category = translator.gettext(refused.category.label)
        errors.add(
            refused.where,
            visit._("Refused: this is about %(category)s", category=category),
        )
        refusal = Refusal(category, refused.term, translator.gettext(WHERE_LABELS[refused.where]))
        return _catalogue_page(visit, errors, fresh=False, refusal=refusal, status=422)
    except InvalidInput as error:
        labels = {f.name: f.label for f in _declare_fields(visit, FormErrors(), fresh=True)}
        for item in error.errors:
            name = str(item.get("field", ""))
            errors.add(
                name if name in labels else "name",
                field_message(
                    visit.translator, labels.get(name, name), str(item.get("reason", ""))
                ),
            )
        if not errors.by_name:
            errors.general.append(error.message)
        return _catalogue_page(visit, errors, fresh=False, status=422)
    return redirect(f"/admin/catalogue?declared={definition.name}")


# ---- users -----------------------------------------------------------------------------------


def _user_fields(visit: Visit, errors: FormErrors, fresh: bool) -> list[FormField]:
    def value(name: str) -> str:
        return "" if fresh else visit.field(name, 120)

    return [
        FormField(
            "username",
            visit._("Username"),
            value=value("username"),
            required=True,
            error=errors.by_name.get("username", ""),
            max_length=80,
            hint=visit._("3-80 lowercase letters, digits, dots, underscores or hyphens"),
        ),
        FormField(
            "display_name",
            visit._("Name shown"),
            value=value("display_name"),
            error=errors.by_name.get("display_name", ""),
            max_length=120,
        ),
        FormField(
            "role",
            visit._("Role"),
            kind="select",
            value=value("role"),
            choices=[(r.value, visit.translator.gettext(ROLE_LABELS[r])) for r in Role],
            required=True,
            error=errors.by_name.get("role", ""),
        ),
        FormField(
            "password",
            visit._("First password"),
            kind="password",
            required=True,
            error=errors.by_name.get("password", ""),
            autocomplete="new-password",
            max_length=200,
            hint=visit._("At least 12 characters. Give it to the person in private."),
        ),
        FormField(
            "person_id",
            visit._("Person id (citizens only)"),
            value=value("person_id"),
            error=errors.by_name.get("person_id", ""),
            max_length=36,
            hint=visit._("The id of the person's record, from the caseworker's search."),
        ),
    ]


def _users_page(
    visit: Visit, errors: FormErrors, fresh: bool, message: str = "", status: int = 200
) -> Response:
    return render(
        visit,
        "admin/users.html",
        status,
        accounts=identity.list_users(visit.services.uow()),
        fields=_user_fields(visit, errors, fresh),
        errors=errors,
        message=message,
    )


def _check_administration(visit: Visit, subject: str) -> None:
    """User management is not a service with its own check yet: authorise (and log a refusal)."""
    visit.require_purpose(ADMINISTRATION)
    authorize(visit.services.uow(), visit.actor, ADMINISTRATION, "user", subject)


@page(router, "GET", "/admin/users")
def users_page(visit: Visit) -> Response:
    _check_administration(visit, "list")
    done = visit.request.query_params.get("done", "")
    messages = {
        "created": visit._("The account was created."),
        "unlocked": visit._("The account was unlocked."),
        "deactivated": visit._("The account was deactivated and its sessions ended."),
        "activated": visit._("The account was reactivated."),
    }
    return _users_page(visit, FormErrors(), fresh=True, message=messages.get(done, ""))


@page(router, "POST", "/admin/users")
def create_user(visit: Visit) -> Response:
    _check_administration(visit, "new")
    errors = FormErrors()
    labels = {f.name: f.label for f in _user_fields(visit, FormErrors(), fresh=True)}
    try:
        identity.create_user(
            visit.services.uow(),
            visit.field("username", 80),
            visit.field("password", 200),
            visit.field("role", 40),
            visit.field("display_name", 120).strip(),
            visit.field("person_id", 36).strip() or None,
            created_by=visit.actor,
        )
    except InvalidInput as error:
        for item in error.errors:
            name = str(item.get("field", ""))
            errors.add(
                name,
                field_message(
                    visit.translator, labels.get(name, name), str(item.get("reason", ""))
                ),
            )
    except Conflict:
        errors.add("username", visit._("Username: already taken; choose another"))
    except NotFound:
        errors.add("person_id", visit._("Person id: no person has this id"))
    if errors:
        return _users_page(visit, errors, fresh=False, status=422)
    return redirect("/admin/users?done=created")


def _account_action(visit: Visit, done: str, action: str) -> Response:
    username = visit.field("username", 80)
    _check_administration(visit, username or "unknown")
    if action == "deactivate" and visit.user and username.strip().lower() == visit.user.username:
        errors = FormErrors(general=[visit._("You cannot deactivate your own account.")])
        return _users_page(visit, errors, fresh=True, status=422)
    try:
        if action == "unlock":
            identity.unlock(visit.services.uow(), username)
        else:
            identity.set_active(visit.services.uow(), username, action == "activate")
            account = identity.find_user(visit.services.uow(), username.strip().lower())
            if action == "deactivate" and account is not None:
                sessions.revoke_for_user(visit.services.uow(), account.id)
    except NotFound:
        errors = FormErrors(general=[visit._("There is no account with that username.")])
        return _users_page(visit, errors, fresh=True, status=404)
    return redirect(f"/admin/users?done={done}")


@page(router, "POST", "/admin/users/unlock")
def unlock_user(visit: Visit) -> Response:
    return _account_action(visit, "unlocked", "unlock")


@page(router, "POST", "/admin/users/deactivate")
def deactivate_user(visit: Visit) -> Response:
    """Deactivate an account: it can no longer log in, and its sessions and tokens end."""
    return _account_action(visit, "deactivated", "deactivate")


@page(router, "POST", "/admin/users/activate")
def activate_user(visit: Visit) -> Response:
    return _account_action(visit, "activated", "activate")
