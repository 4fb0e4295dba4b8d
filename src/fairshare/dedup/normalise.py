"""How registry values are normalised before two records are compared. Plain Python.

Registration clerks write the same name in many ways: with or without accents, in capitals,
with hyphens, with the second given or family name left out. Comparisons run on folded text
(lowercase, accents and punctuation removed) split the Spanish way: the first given name and
the rest, the first (paternal) family name and the second. Particles ("de", "del", "de la",
"san") stay with the name they introduce, so "de la Cruz" is one family name.

These functions are applied to each distinct value once (names repeat a lot), so they may be
written for clarity rather than speed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from fairshare.dedup.nicknames import NICKNAMES

# Words that begin a compound name: they belong to the word that follows them.
PARTICLES = frozenset(
    {"de", "del", "la", "las", "los", "y", "e", "san", "santa", "da", "do", "dos"}
)

# Common abbreviations in Spanish-language addresses, expanded so that "Cl 5" and "Calle 5"
# agree; the filler words are dropped because every address has them.
ADDRESS_ABBREVIATIONS: Mapping[str, str] = {
    "av": "avenida",
    "avda": "avenida",
    "cl": "calle",
    "cll": "calle",
    "c": "calle",
    "cra": "carrera",
    "kr": "carrera",
    "kra": "carrera",
    "cr": "carrera",
    "dg": "diagonal",
    "tv": "transversal",
    "trans": "transversal",
    "bo": "barrio",
    "br": "barrio",
    "urb": "urbanizacion",
    "col": "colonia",
    "vda": "vereda",
    "kilometro": "km",
}
ADDRESS_FILLER = frozenset(
    {"de", "del", "la", "las", "los", "el", "no", "n", "nro", "num", "numero"}
)

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def fold(text: str | None) -> str:
    """Lowercase, accents removed, punctuation turned into spaces, single spaces.

    Letters of any script are kept ("Дмитрий" stays Cyrillic); only combining marks go.
    Returns "" for None or text without letters or digits.
    """
    if not text:
        return ""
    return " ".join(folded for folded in map(_fold_word, text.split()) if folded)


@lru_cache(maxsize=1 << 18)
def _fold_word(word: str) -> str:
    # Words repeat far more than whole names or addresses do, so each is folded once.
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def name_units(folded: str) -> list[str]:
    """Split folded names into names, keeping particles with the name that follows them.

    "maria del carmen" -> ["maria", "del carmen"]; "de la cruz rojas" -> ["de la cruz", "rojas"].
    Trailing particles (a name cut short) are kept as their own unit.
    """
    units: list[str] = []
    pending: list[str] = []
    for word in folded.split():
        pending.append(word)
        if word not in PARTICLES:
            units.append(" ".join(pending))
            pending = []
    if pending:
        units.append(" ".join(pending))
    return units


def split_names(text: str | None) -> tuple[str | None, str | None, str | None]:
    """(whole, first, rest) of a folded name field; None for parts that are absent.

    Used both for given names (first given name, other given names) and family names
    (first family name, second family name).
    """
    folded = fold(text)
    if not folded:
        return None, None, None
    units = name_units(folded)
    rest = " ".join(units[1:]) or None
    return folded, units[0], rest


@dataclass(frozen=True)
class NameParts:
    """A name field as the comparisons see it (every part None when the field is empty)."""

    whole: str | None = None  # folded: "maria del carmen"
    first: str | None = None  # "maria"
    rest: str | None = None  # "del carmen"
    units: tuple[str, ...] | None = None  # ("maria", "del carmen")
    whole_and_first: tuple[str, ...] | None = None  # ("maria del carmen", "maria")
    formal: tuple[str, ...] | None = None  # what a nickname stands for: "pepe" -> ("jose",)
    first_key: str | None = None  # phonetic key of the first name


def name_parts(text: str | None) -> NameParts:
    """Split and key a given-names or family-names field; see NameParts."""
    whole = fold(text)
    if not whole:
        return NameParts()
    units = name_units(whole)
    first, rest = units[0], " ".join(units[1:]) or None
    return NameParts(
        whole=whole,
        first=first,
        rest=rest,
        units=tuple(units),
        whole_and_first=(whole,) if whole == first else (whole, first or whole),
        formal=tuple(formal_names(whole, first)) or None,
        first_key=phonetic_key(first),
    )


def formal_names(
    whole: str | None, first: str | None, nicknames: Mapping[str, tuple[str, ...]] = NICKNAMES
) -> list[str]:
    """The formal names a given name may be short for: "pepe" -> ["jose"], "chema" ->
    ["jose maria"], "jose luis" -> [] (not a nickname).

    Both the whole given name and its first name are looked up, so "Pepe Luis" -> ["jose"].
    """
    found: list[str] = []
    for value in (whole, first):
        for formal in nicknames.get(value or "", ()):
            if formal not in found:
                found.append(formal)
    return found


# Spanish spellings that sound alike: betacismo (b/v), seseo (s/z/c before e, i), yeísmo
# (ll/y), silent h, j and g before e/i, qu/k/c before a, o, u.
_PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"ch", "X"),
        (r"h", ""),
        (r"qu", "k"),
        (r"c(?=[ei])", "s"),
        (r"g(?=[ei])", "j"),
        (r"gu(?=[ei])", "g"),
        (r"c", "k"),
        (r"z", "s"),
        (r"x", "s"),
        (r"v", "b"),
        (r"w", "u"),
        (r"ll", "y"),
        (r"y(?=[^aeiou]|$)", "i"),
        (r"(.)\1+", r"\1"),
    )
)


@lru_cache(maxsize=1 << 16)
def phonetic_key(folded: str | None) -> str | None:
    """A sound-alike key for Spanish names: "Velásquez", "Belazquez" -> "belaskes".

    Applied to folded text; spaces are removed so "de la cruz" gives one key. Returns None
    for empty input.
    """
    if not folded:
        return None
    key = folded.replace(" ", "")
    for pattern, replacement in _PHONETIC_RULES:
        key = pattern.sub(replacement, key)
    return key.lower() or None


def identifier_key(text: str | None) -> str | None:
    """A national ID as letters and digits only, uppercase, leading zeros dropped.

    "012.345.678-K" -> "12345678K". None when nothing is left.
    """
    if not text:
        return None
    key = "".join(c for c in unicodedata.normalize("NFKC", text).upper() if c.isalnum())
    key = key.lstrip("0")
    return key or None


PHONE_DIGITS = 8


def phone_key(text: str | None) -> str | None:
    """The last 8 digits of a phone number, so "+58 412 5551234" and "0412-5551234" agree.

    Country and trunk prefixes differ in how clerks write them; the subscriber number does
    not. Numbers with fewer than 7 digits are not usable and give None.
    """
    if not text:
        return None
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) < 7:
        return None
    return digits[-PHONE_DIGITS:]


def address_tokens(text: str | None) -> list[str]:
    """Folded address words with abbreviations expanded and filler dropped, in order."""
    tokens = []
    for word in fold(text).split():
        word = ADDRESS_ABBREVIATIONS.get(word, word)
        if word not in ADDRESS_FILLER and word not in tokens:
            tokens.append(word)
    return tokens
