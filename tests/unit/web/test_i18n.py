"""English and Spanish: language negotiation, reason translation, and a Spanish entry for
every message the pages can show."""

from __future__ import annotations

import re

import pytest

from fairshare.web.i18n import Translator, catalogue, negotiate
from tests.unit.web.messages import all_messages


def test_every_message_has_a_spanish_translation() -> None:
    """Templates, page modules, core catalogue labels and purposes, red-line categories."""
    spanish = catalogue("es")
    missing = sorted(m for m in all_messages() if not spanish.get(m))
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    """A translation uses exactly the placeholders of its English message."""
    placeholder = re.compile(r"%\((\w+)\)s")
    for english, spanish in catalogue("es").items():
        assert set(placeholder.findall(english)) == set(placeholder.findall(spanish)), english


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "en"),
        (None, "es-VE,es;q=0.9,en;q=0.5", "es"),
        (None, "fr-FR, en;q=0.3, es;q=0.8", "es"),
        (None, "de, *;q=0.1", "en"),
        ("en", "es", "en"),
        ("es", "en-GB", "es"),
        ("xx", "es;q=0", "en"),
    ],
)
def test_language_negotiation(cookie: str | None, header: str | None, expected: str) -> None:
    """The visitor's choice wins; otherwise the browser's best-ranked known language."""
    assert negotiate(cookie, header) == expected


def test_service_reasons_are_translated_by_pattern() -> None:
    """Field errors from the catalogue read in Spanish; unknown ones stay as written."""
    spanish = Translator("es")
    assert spanish.reason("is required") == "es obligatorio"
    assert spanish.reason("must be a number like 120.50, got 'abc'") == (
        "debe ser un número como 120.50, no 'abc'"
    )
    assert spanish.reason("refused category: party membership") == (
        "categoría rechazada: afiliación a partidos"
    )
    assert spanish.reason("something new") == "something new"
