"""English and Spanish for every page: message catalogues, language choice, error reasons.

Messages are written in English in the templates and the code, and looked up in a catalogue
per language (`locales/<code>.json`, English text → translation); a missing entry falls back
to the English text, and a test fails when any message has no Spanish entry. The services
speak English: the field-error reasons they produce are translated here by pattern, and any
reason without a pattern is shown as the service wrote it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "fairshare-language"
LOCALES = Path(__file__).parent / "locales"


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; it is translated when shown."""
    return message


@cache
def catalogue(language: str) -> dict[str, str]:
    """The translations of one language (empty for English, the source language)."""
    path = LOCALES / f"{language}.json"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return {}
    loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True)
class Translator:
    language: str

    def gettext(self, message: str, /, **values: Any) -> str:
        text = catalogue(self.language).get(message, message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, /, **values: Any) -> str:
        message = singular if count == 1 else plural
        return self.gettext(message, **{"num": count, **values})

    def reason(self, english: str) -> str:
        """A field-error reason from a service, in this language where a pattern knows it."""
        if self.language == DEFAULT_LANGUAGE:
            return english
        for pattern, template in REASON_PATTERNS:
            match = pattern.fullmatch(english)
            if match:
                # A matched part may itself be a known message (a red-line category's label).
                values = {name: self.gettext(part) for name, part in match.groupdict().items()}
                return self.gettext(template, **values)
        return english


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in: the visitor's choice (cookie), else their browser's."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = tag.strip().lower().split("-")[0]
        if code in LANGUAGES and quality > 0:
            ranked.append((-quality, position, code))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


# The reasons the catalogue, the registry and identity services give, as patterns over the
# English text; the named groups are carried into the translated message.
REASON_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"is required", N_("is required")),
        (r"needs recorded health consent", N_("needs the person's recorded health consent")),
        (r"not declared in the data catalogue", N_("is not declared in the data catalogue")),
        (r"must be a whole number, got (?P<got>.*)", N_("must be a whole number, not %(got)s")),
        (
            r"must be a number like 120\.50, got (?P<got>.*)",
            N_("must be a number like 120.50, not %(got)s"),
        ),
        (r"must be a finite number", N_("must be a finite number")),
        (
            r"has more than (?P<scale>\d+) decimal places",
            N_("has more than %(scale)s decimal places"),
        ),
        (r"must be at least (?P<bound>\S+), got (?P<got>.*)", N_("must be at least %(bound)s")),
        (r"must be at most (?P<bound>\S+), got (?P<got>.*)", N_("must be at most %(bound)s")),
        (
            r"must be a date as YYYY-MM-DD, got (?P<got>.*)",
            N_("must be a date as YYYY-MM-DD, not %(got)s"),
        ),
        (r"(?P<day>\S+) is in the future", N_("%(day)s is in the future")),
        (r"(?P<day>\S+) is before (?P<oldest>\S+)", N_("%(day)s is before %(oldest)s")),
        (r"must be true or false, got (?P<got>.*)", N_("must be yes or no")),
        (
            r"(?P<got>.*) is not allowed; use one of (?P<choices>.*)",
            N_("is not one of the choices"),
        ),
        (r"must be one of (?P<choices>.*)", N_("is not one of the choices")),
        (
            r"is (?P<length>\d+) characters long; the limit is (?P<limit>\d+)",
            N_("is %(length)s characters long; the limit is %(limit)s"),
        ),
        (
            r"contains control characters .*",
            N_("contains line breaks, tabs or other control characters; remove them"),
        ),
        (r"must be text, not .*", N_("must be text")),
        (
            r"3-80 lowercase letters, digits, \. _ -",
            N_("use 3-80 lowercase letters, digits, dots, underscores or hyphens"),
        ),
        (
            r"must be at least (?P<length>\d+) characters",
            N_("must be at least %(length)s characters"),
        ),
        (r"a citizen account belongs to a person", N_("a citizen account needs the person's id")),
        (
            r"use 2-63 lowercase letters, digits and underscores, starting with a letter .*",
            N_("use 2-63 lowercase letters, digits and underscores, starting with a letter"),
        ),
        (r"must say what it is \(3\+ characters\)", N_("say what it is (3 characters or more)")),
        (r"an enumeration needs 1-100 choices", N_("a list of choices needs 1 to 100 choices")),
        (r"choices must be lowercase codes: .*", N_("choices must be lowercase codes")),
        (r"choices repeat", N_("a choice is listed twice")),
        (r"only enumeration fields take choices", N_("only a list of choices takes choices")),
        (r"programme codes are lowercase words", N_("programme codes are lowercase words")),
        (r"already declared", N_("a field with this name is already declared")),
        (r"refused category: (?P<category>.*)", N_("refused category: %(category)s")),
        (r"exactly one head", N_("a household needs exactly one head")),
    )
)
