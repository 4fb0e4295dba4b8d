"""Form fields for the pages: what each input looks like, its kept value and its error.

Pages build a list of `FormField`s and the `fields.html` macros render them with a label, a
hint and the error next to the input; a form that fails validation is rendered again from
the submitted values, so nothing the user typed is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fairshare.catalogue.model import FieldDefinition, FieldType
from fairshare.web.i18n import Translator
from fairshare.web.labels import CHOICE_LABELS

YES, NO = "yes", "no"


@dataclass
class FormField:
    name: str  # the form key
    label: str  # translated
    kind: str = "text"  # text | date | select | textarea | checkbox | password
    value: str = ""
    error: str = ""
    summary: str = ""  # the error as the summary at the top names it, when the label is not enough
    hint: str = ""
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    input_mode: str = ""
    max_length: int | None = None
    autocomplete: str = "off"

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")


@dataclass
class FormErrors:
    """Errors by form key, in the order they were found (for the summary at the top)."""

    by_name: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.by_name.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.by_name or self.general)


def choice_label(translator: Translator, code: str) -> str:
    return translator.gettext(CHOICE_LABELS.get(code, code.replace("_", " ").capitalize()))


def shown_value(value: Any) -> str:
    """A stored value as a form shows it (dates ISO, decimals as written, booleans yes/no)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def display_value(definition: FieldDefinition, value: Any, translator: Translator) -> str:
    """A stored value as a page shows it to people; '' when nothing is recorded."""
    if value is None or value == "":
        return ""
    if definition.type is FieldType.BOOLEAN:
        return translator.gettext("Yes" if value else "No")
    if definition.type is FieldType.ENUMERATION:
        return choice_label(translator, str(value))
    return shown_value(value)


def catalogue_field(
    definition: FieldDefinition,
    key: str,
    value: str,
    error: str,
    translator: Translator,
) -> FormField:
    """The input for one catalogue field: its type decides the widget."""
    label = translator.gettext(definition.label)
    common: dict[str, Any] = {
        "name": key,
        "label": label,
        "value": value,
        "error": error,
        "required": definition.required,
        "hint": translator.gettext(definition.description) if definition.description else "",
    }
    if definition.type is FieldType.ENUMERATION:
        choices = [(code, choice_label(translator, code)) for code in definition.choices]
        return FormField(kind="select", choices=choices, **common)
    if definition.type is FieldType.BOOLEAN:
        choices = [(YES, translator.gettext("Yes")), (NO, translator.gettext("No"))]
        return FormField(kind="select", choices=choices, **common)
    if definition.type is FieldType.DATE:
        return FormField(kind="date", **common)
    if definition.type is FieldType.INTEGER:
        return FormField(input_mode="numeric", **common)
    if definition.type is FieldType.DECIMAL:
        return FormField(input_mode="decimal", **common)
    return FormField(max_length=definition.max_length, **common)


def field_message(translator: Translator, label: str, reason: str) -> str:
    """`Label: reason`, the reason translated where the translations know it."""
    return translator.gettext(
        "%(label)s: %(reason)s", label=label, reason=translator.reason(reason)
    )
