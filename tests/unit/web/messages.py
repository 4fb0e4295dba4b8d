"""Every message the pages can show, gathered from the templates and the web modules.

Used by the translation test: each must have a Spanish entry in web/locales/es.json.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from fairshare.catalogue.model import CORE_FIELDS
from fairshare.catalogue.redline import RedLineCategory
from fairshare.web import rendering

WEB = Path(rendering.__file__).parent
# Calls whose first argument is a message: visit._("…"), N_("…"), translator.gettext("…").
MESSAGE_CALLS = {"_", "N_", "gettext", "ngettext"}


def template_messages() -> Iterator[str]:
    environment = rendering.environment
    for path in sorted(rendering.TEMPLATES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        for _line, _function, message in environment.extract_translations(source):  # type: ignore[attr-defined]
            if isinstance(message, str):
                yield message
            else:
                yield from (m for m in message if isinstance(m, str))


def code_messages() -> Iterator[str]:
    for path in sorted(WEB.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            if name not in MESSAGE_CALLS:
                continue
            for argument in node.args[: 2 if name == "ngettext" else 1]:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    yield argument.value


def data_messages() -> Iterator[str]:
    for definition in CORE_FIELDS:
        yield definition.label
        yield definition.purpose
    for category in RedLineCategory:
        yield category.label


def all_messages() -> set[str]:
    return {*template_messages(), *code_messages(), *data_messages()}
