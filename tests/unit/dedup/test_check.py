"""The registration check's pure parts: string similarity, lookup keys, scoring."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairshare.dedup.check import (
    CheckModel,
    jaro_winkler,
    lookup_keys,
    prepare,
    score,
    within_one_edit,
)
from fairshare.registry.model import name_key

NAMES = st.text(alphabet="abcdeijlmnorsuñ дм", min_size=0, max_size=12)
JOSE = {
    "given_names": "José Antonio",
    "family_names": "Pérez Quispe",
    "date_of_birth": "1984-03-11",
    "sex": "male",
    "municipality": "Huancayo",
    "address": "Jr. Puno 145",
}


@settings(max_examples=300, deadline=None)
@given(NAMES, NAMES)
def test_similarities_are_duckdbs(left: str, right: str) -> None:
    """Jaro-Winkler and the one-edit checks give what DuckDB gives the batch model."""
    [(jw, damerau, plain)] = duckdb.execute(
        "SELECT jaro_winkler_similarity($1, $2), damerau_levenshtein($1, $2), levenshtein($1, $2)",
        [left, right],
    ).fetchall()
    assert jaro_winkler(left, right) == pytest.approx(jw, abs=1e-12)
    assert within_one_edit(left, right) == (damerau <= 1)
    assert within_one_edit(left, right, transpose=False) == (plain <= 1)


def test_lookup_dates_cover_swapped_day_month_and_year_off() -> None:
    """The birth date, day and month swapped, and a year either way of both."""
    keys = lookup_keys({"date_of_birth": "1984-03-11"}, name_key)
    assert set(keys.dates_of_birth) == {
        date(1984, 3, 11),
        date(1983, 3, 11),
        date(1985, 3, 11),
        date(1984, 11, 3),
        date(1983, 11, 3),
        date(1985, 11, 3),
    }
    leap = lookup_keys({"date_of_birth": "2000-02-29"}, name_key)
    assert date(1999, 2, 28) in leap.dates_of_birth


def test_lookup_names_both_ways_and_ids_as_typed_and_keyed() -> None:
    """Given-family and family-given name keys; the ID as typed and without punctuation."""
    keys = lookup_keys({**JOSE, "national_id": "040.123.456-k"}, name_key)
    assert keys.name_keys == ("jose antonio perez quispe", "perez quispe jose antonio")
    assert keys.national_ids == ("040.123.456-k", "40123456K")
    assert not lookup_keys({"given_names": "José"}, name_key)


@pytest.mark.parametrize(
    ("changes", "level"),
    [
        ({"given_names": "Jose Antnio"}, ("given_names", "misspelt")),
        ({"given_names": "PEPE"}, ("given_names", "nickname")),
        (
            {"given_names": "Pérez Quispe", "family_names": "José Antonio"},
            ("family_names_and_address", "swapped with given names, same address"),
        ),
        ({"date_of_birth": "1984-11-03"}, ("date_of_birth", "day and month swapped")),
        (
            {"family_names": "Perez"},
            ("family_names_and_address", "second family name left out, same municipality"),
        ),
    ],
)
def test_untrained_model_links_common_registration_errors(
    changes: dict[str, str], level: tuple[str, str]
) -> None:
    """With the default parameters each common error still scores as a likely match."""
    result = score(CheckModel.untrained(), prepare({**JOSE, **changes}), prepare(JOSE))
    assert result.match_probability > 0.8
    assert level in {(e.field, e.level) for e in result.evidence}


def test_different_person_scores_low_and_empty_values_count_for_nothing() -> None:
    """Other names on the same birthday score low; a blank record has only the prior."""
    model = CheckModel.untrained()
    other = prepare(
        {**JOSE, "given_names": "Rosa", "family_names": "Mamani", "address": "Av. Real 9"}
    )
    assert score(model, other, prepare(JOSE)).match_probability < 0.01
    blank = score(model, prepare({}), prepare(JOSE))
    assert all(e.level == "missing" and e.match_weight == 0 for e in blank.evidence)
    assert blank.match_weight == pytest.approx(model.prior_weight)
