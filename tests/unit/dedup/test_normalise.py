"""Normalisation of registry values before comparison: folding, Spanish name parts, keys."""

from __future__ import annotations

import pytest

from fairshare.dedup.normalise import (
    address_tokens,
    fold,
    formal_names,
    identifier_key,
    name_parts,
    name_units,
    phone_key,
    phonetic_key,
    split_names,
)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("José  NÚÑEZ", "jose nunez"),
        ("García-Pérez", "garcia perez"),
        ("O'Higgins", "o higgins"),
        ("  ", ""),
        (None, ""),
        ("Дмитрий Шостакович", "дмитрии шостакович"),
        ("王小明", "王小明"),
    ],
)
def test_fold_lowercases_and_strips_accents_and_punctuation(raw: str | None, folded: str) -> None:
    """Folding removes case, accents and punctuation, and keeps letters of any script."""
    assert fold(raw) == folded


def test_particles_stay_with_their_name() -> None:
    """ "de la Cruz" is one family name; "María del Carmen" is two given names."""
    assert name_units("de la cruz rojas") == ["de la cruz", "rojas"]
    assert name_units("maria del carmen") == ["maria", "del carmen"]
    assert name_units("ponce de") == ["ponce", "de"]


def test_split_names_gives_first_and_rest() -> None:
    """Family names split into the first (paternal) and the rest; empty fields give None."""
    assert split_names("De la Cruz Rojas") == ("de la cruz rojas", "de la cruz", "rojas")
    assert split_names("Pérez") == ("perez", "perez", None)
    assert split_names("") == (None, None, None)


def test_name_parts_of_a_nickname() -> None:
    """A nickname carries the formal names it stands for."""
    parts = name_parts("Pepe")
    assert parts.whole == "pepe"
    assert parts.formal == ("jose",)
    assert parts.whole_and_first == ("pepe",)


def test_name_parts_of_two_given_names() -> None:
    """Two given names: whole and first both kept for comparison; no nickname."""
    parts = name_parts("José Luis")
    assert parts.whole_and_first == ("jose luis", "jose")
    assert parts.units == ("jose", "luis")
    assert parts.formal is None


def test_name_parts_of_an_empty_field() -> None:
    """A missing name has no parts at all."""
    assert name_parts(None).whole is None
    assert name_parts("  ").first_key is None


def test_formal_names_looks_up_whole_and_first_name() -> None:
    """ "Chema" is José María; an ambiguous nickname gives every formal name."""
    assert formal_names("chema", "chema") == ["jose maria"]
    assert formal_names("beto", "beto") == ["alberto", "roberto", "humberto"]
    assert formal_names("maria jose", "maria") == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("velasquez", "belazquez"),
        ("hernandez", "ernandez"),
        ("jimenez", "gimenez"),
        ("yolanda", "llolanda"),
        ("cecilia", "sesilia"),
        ("barrera", "barera"),
    ],
)
def test_sound_alike_spellings_share_a_phonetic_key(one: str, other: str) -> None:
    """Spanish spellings that sound the same (b/v, s/z/c, ll/y, silent h) share a key."""
    assert phonetic_key(one) == phonetic_key(other)


def test_different_names_have_different_phonetic_keys() -> None:
    """The key still tells different names apart."""
    assert phonetic_key("maria") != phonetic_key("mario")
    assert phonetic_key(None) is None


@pytest.mark.parametrize(
    ("raw", "key"),
    [("012.345.678-k", "12345678K"), ("V-12 345 678", "V12345678"), ("--", None), (None, None)],
)
def test_identifier_key(raw: str | None, key: str | None) -> None:
    """IDs compare on letters and digits only, uppercase, without leading zeros."""
    assert identifier_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("+58 412 5551234", "25551234"),
        ("0412-5551234", "25551234"),
        ("555-12", None),
        (None, None),
    ],
)
def test_phone_key_ignores_country_and_trunk_prefixes(raw: str | None, key: str | None) -> None:
    """Phones compare on their last eight digits; too short a number is unusable."""
    assert phone_key(raw) == key


def test_address_tokens_expand_abbreviations_and_drop_filler() -> None:
    """ "Cl 5 No. 3" and "Calle 5 # 3" agree once normalised."""
    assert address_tokens("Cl 5 No. 3") == address_tokens("Calle 5 # 3") == ["calle", "5", "3"]
    assert address_tokens(None) == []
