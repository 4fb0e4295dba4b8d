"""The Splink model for Spanish-language registries: comparisons, blocking, training rules.

Fellegi-Sunter: each compared field reaches one level (exact, nickname, typo, swapped, …)
and each level has an m probability (how often two records of one person reach it) and a u
probability (how often records of two different people do); a pair's match weight is the
sum of log2(m/u) over the fields. The comparisons run on the columns `linkage.normalise`
makes (folded names split the Spanish way, keys for IDs, phones, addresses).

Blocking decides which pairs are scored at all. A duplicate that escapes every blocking rule
is never found; every other pair is never compared, which is what makes a million records
take minutes rather than days. The rules below pair records that agree on the national ID,
the phone, the birth date and the sound of one name, the sound of both names and part of the
birth date, or given and family names the other way round.
"""

from __future__ import annotations

import json
from typing import Any


def _level(
    sql: str, label: str, m: float, u: float, *, null: bool = False, tf: str | None = None
) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    else:
        level["m_probability"] = m
        level["u_probability"] = u
    if tf:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


def _neutral(sql: str, label: str) -> dict[str, Any]:
    """A level that neither adds nor takes away: m = u, fixed through training."""
    return {
        **_level(sql, label, 0.001, 0.001),
        "fix_m_probability": True,
        "fix_u_probability": True,
    }


def _jw(column: str, at_least: float) -> str:
    return f"jaro_winkler_similarity({column}_l, {column}_r) >= {at_least}"


def _misspelt(left: str, right: str) -> str:
    """One character typed wrong, left out, doubled or two swapped; or close by Jaro-Winkler.

    The edit distance catches typos in short names that Jaro-Winkler scores low ("juab",
    "juan"). It is slow in DuckDB, so a CASE (which DuckDB evaluates branch by branch)
    computes it only for pairs that Jaro-Winkler already finds somewhat alike, as a single
    typo always is.
    """
    return (
        f"CASE WHEN jaro_winkler_similarity({left}, {right}) >= 0.92 THEN true "
        f"WHEN jaro_winkler_similarity({left}, {right}) >= 0.75 "
        f"AND abs(length({left}) - length({right})) <= 1 "
        f"THEN damerau_levenshtein({left}, {right}) <= 1 ELSE false END"
    )


def _nearly(left: str, right: str) -> str:
    """Equal, one a word-prefix of the other (a name left out), or misspelt."""
    return (
        f"CASE WHEN {left} = {right} THEN true "
        f"WHEN jaro_winkler_similarity({left}, {right}) < 0.75 THEN false "
        f"WHEN starts_with({left} || ' ', {right} || ' ') "
        f"OR starts_with({right} || ' ', {left} || ' ') THEN true "
        f"ELSE {_misspelt(left, right)} END"
    )


# Given and family names the other way round ("Pérez García, José" registered as given name
# "Pérez García", family name "José"), allowing a name left out or misspelt on each side.
_SWAPPED = (
    f"CASE WHEN {_nearly('given_l', 'family_r')} THEN {_nearly('family_l', 'given_r')} "
    "ELSE false END"
)
_SAME_ADDRESS = "address_l = address_r AND area_l = area_r"
_SAME_AREA = "area_l = area_r"

# Given names, date of birth, ID, phone and sex are compared field by field. Family names and
# address are compared together: members of one household share both, so counting them as
# two independent agreements would make siblings look like one person registered twice.
#
# The m and u values here are defaults, used where a registry is too small to estimate them
# (rough shares for Latin American registries); training replaces them.
COMPARISONS: tuple[dict[str, Any], ...] = (
    {
        "output_column_name": "given_names",
        "comparison_description": "given names",
        "comparison_levels": [
            _level("given_l IS NULL OR given_r IS NULL", "missing", 0, 0, null=True),
            _level("given_l = given_r", "exact", 0.70, 0.004, tf="given"),
            # Counted once, with the family names and address (where the address tells how
            # strongly): here it neither adds nor takes away.
            _neutral(_SWAPPED, "swapped with family names (counted there)"),
            # The CASE guards below skip costly checks that cannot succeed (DuckDB evaluates
            # a CASE lazily): a name left out needs two names on one side, a nickname needs
            # one on either side.
            _level(
                "CASE WHEN given2_l IS NULL AND given2_r IS NULL THEN false "
                "ELSE starts_with(given_l || ' ', given_r || ' ') "
                "OR starts_with(given_r || ' ', given_l || ' ') "
                "OR ends_with(' ' || given_l, ' ' || given_r) "
                "OR ends_with(' ' || given_r, ' ' || given_l) END",
                "one name left out",
                0.07,
                0.002,
            ),
            _level(
                "CASE WHEN given_aliases_l IS NULL AND given_aliases_r IS NULL THEN false "
                "ELSE list_has_any(given_aliases_l, given_names_r) "
                "OR list_has_any(given_names_l, given_aliases_r) "
                "OR list_has_any(given_aliases_l, given_aliases_r) END",
                "nickname",
                0.04,
                0.0005,
            ),
            _level(_misspelt("given_l", "given_r"), "misspelt", 0.08, 0.005),
            _level(
                "CASE WHEN given2_l IS NULL AND given2_r IS NULL THEN false "
                "ELSE list_has_any(given_units_l, given_units_r) END",
                "one name shared",
                0.02,
                0.03,
            ),
            _level(
                f"given1_key_l = given1_key_r OR {_jw('given1', 0.88)}",
                "first name similar",
                0.03,
                0.02,
            ),
            _level("ELSE", "different", 0.01, 0.94),
        ],
    },
    {
        "output_column_name": "family_names_and_address",
        "comparison_description": "family names, and whether the address agrees",
        "comparison_levels": [
            _level("family_l IS NULL OR family_r IS NULL", "missing", 0, 0, null=True),
            _level(
                f"family_l = family_r AND {_SAME_ADDRESS}",
                "same family names, same address",
                0.50,
                0.00003,
            ),
            _level(
                f"family_l = family_r AND {_SAME_AREA}",
                "same family names, same municipality",
                0.10,
                0.00005,
            ),
            _level("family_l = family_r", "same family names, elsewhere", 0.05, 0.0004),
            _level(
                f"{_SAME_ADDRESS} AND {_SWAPPED}",
                "swapped with given names, same address",
                0.03,
                0.0000001,
            ),
            _level(
                f"{_SAME_AREA} AND {_SWAPPED}",
                "swapped with given names, same municipality",
                0.01,
                0.0000005,
            ),
            _level(_SWAPPED, "swapped with given names, elsewhere", 0.005, 0.000005),
            _level(
                f"{_SAME_AREA} AND length(family_l) <> length(family_r) "
                "AND (starts_with(family_l || ' ', family_r || ' ') "
                "OR starts_with(family_r || ' ', family_l || ' '))",
                "second family name left out, same municipality",
                0.10,
                0.0001,
            ),
            _level(
                "length(family_l) <> length(family_r) "
                "AND (starts_with(family_l || ' ', family_r || ' ') "
                "OR starts_with(family_r || ' ', family_l || ' '))",
                "second family name left out, elsewhere",
                0.02,
                0.002,
            ),
            _level(
                f"{_SAME_AREA} AND ({_misspelt('family_l', 'family_r')})",
                "family names misspelt, same municipality",
                0.10,
                0.0001,
            ),
            _level(
                _misspelt("family_l", "family_r"), "family names misspelt, elsewhere", 0.02, 0.002
            ),
            _level(
                f"family1_l = family1_r AND {_SAME_ADDRESS}",
                "first family name shared, same address",
                0.01,
                0.00005,
            ),
            _level("family1_l = family1_r", "first family name shared", 0.01, 0.01),
            _level(
                f"{_SAME_AREA} AND (family1_key_l = family1_key_r OR {_jw('family1', 0.88)})",
                "first family name similar, same municipality",
                0.02,
                0.001,
            ),
            _level(
                f"family1_key_l = family1_key_r OR {_jw('family1', 0.88)}",
                "first family name similar",
                0.01,
                0.02,
            ),
            _level(_SAME_ADDRESS, "different family names, same address", 0.005, 0.00005),
            _level("ELSE", "different", 0.005, 0.97),
        ],
    },
    {
        "output_column_name": "date_of_birth",
        "comparison_description": "date of birth",
        "comparison_levels": [
            _level("dob_l IS NULL OR dob_r IS NULL", "missing", 0, 0, null=True),
            _level("dob_l = dob_r", "exact", 0.85, 0.00005),
            _level(
                "year(dob_l) = year(dob_r) AND month(dob_l) = day(dob_r) "
                "AND day(dob_l) = month(dob_r)",
                "day and month swapped",
                0.05,
                0.00001,
            ),
            _level(
                "abs(year(dob_l) - year(dob_r)) = 1 AND month(dob_l) = month(dob_r) "
                "AND day(dob_l) = day(dob_r)",
                "year off by one",
                0.05,
                0.00005,
            ),
            _level(
                "levenshtein(CAST(dob_l AS VARCHAR), CAST(dob_r AS VARCHAR)) <= 1",
                "one digit different",
                0.02,
                0.001,
            ),
            _level(
                "year(dob_l) = year(dob_r) AND month(dob_l) = month(dob_r)",
                "same year and month",
                0.005,
                0.001,
            ),
            _level("year(dob_l) = year(dob_r)", "same year", 0.002, 0.012),
            _level("ELSE", "different", 0.01, 0.987),
        ],
    },
    {
        "output_column_name": "national_id",
        "comparison_description": "national ID number",
        "comparison_levels": [
            _level("nid_l IS NULL OR nid_r IS NULL", "missing", 0, 0, null=True),
            _level("nid_l = nid_r", "exact", 0.97, 0.000001),
            # One typed character wrong leaves the first or the last three characters alone
            # (for IDs of seven or more); checking that first spares most edit distances.
            _level(
                "(left(nid_l, 3) = left(nid_r, 3) OR right(nid_l, 3) = right(nid_r, 3)) "
                "AND damerau_levenshtein(nid_l, nid_r) <= 1",
                "one character different",
                0.02,
                0.0001,
            ),
            _level("ELSE", "different", 0.01, 0.9999),
        ],
    },
    {
        "output_column_name": "phone",
        "comparison_description": "phone number (last 8 digits)",
        "comparison_levels": [
            _level("phone_l IS NULL OR phone_r IS NULL", "missing", 0, 0, null=True),
            _level("phone_l = phone_r", "exact", 0.8, 0.0001),
            _level("ELSE", "different", 0.2, 0.9999),
        ],
    },
    {
        "output_column_name": "sex",
        "comparison_description": "sex",
        "comparison_levels": [
            _level("sex_l IS NULL OR sex_r IS NULL", "missing", 0, 0, null=True),
            _level("sex_l = sex_r", "same", 0.98, 0.5),
            _level("ELSE", "different", 0.02, 0.5),
        ],
    },
)

BLOCKING_RULES: tuple[str, ...] = (
    "l.nid = r.nid",
    # Same birth date and the sound of one of the names: a typo or nickname in the other.
    "l.dob = r.dob AND l.family1_key = r.family1_key",
    "l.dob = r.dob AND l.given1_key = r.given1_key",
    # Same birth date, given and family names the other way round (one of them misspelt).
    "l.dob = r.dob AND l.given1_key = r.family1_key",
    "l.dob = r.dob AND l.family1_key = r.given1_key",
    # Names sound alike and the birth date has the same day and month numbers, in either
    # order (day and month swapped, or the year wrong), or the same year (a day typo).
    "l.given1_key = r.given1_key AND l.family1_key = r.family1_key AND l.day_month = r.day_month",
    "l.given1_key = r.given1_key AND l.family1_key = r.family1_key AND l.birth_year = r.birth_year",
    # A wrong birth date and one name misspelt or a nickname: the other name, the day and
    # month, and the municipality.
    "l.given1_key = r.given1_key AND l.day_month = r.day_month AND l.area = r.area",
    "l.family1_key = r.family1_key AND l.day_month = r.day_month AND l.area = r.area",
    # Given and family names the other way round.
    "l.given1_key = r.family1_key AND l.family1_key = r.given1_key",
    "l.phone = r.phone",
    # Records without a birth date are blocked on names alone.
    "l.given1_key = r.given1_key AND l.family1_key = r.family1_key "
    "AND (l.dob IS NULL OR r.dob IS NULL)",
)
# Training passes: each estimates m for every comparison except those its rule uses. The
# shared-ID pass learns names, birth dates, phones and addresses; the birth-date-and-family-
# name pass learns the ID, given names, phones and addresses.
TRAINING_RULES: tuple[tuple[str, str], ...] = (
    ("shared national ID", "l.nid = r.nid"),
    ("shared birth date and family name", "l.dob = r.dob AND l.family1 = r.family1"),
)


def settings(probability_two_random_records_match: float = 1e-4) -> dict[str, Any]:
    """The Splink settings: comparisons, prediction blocking rules, default parameters."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "person_id",
        "comparisons": json.loads(json.dumps(COMPARISONS)),
        "blocking_rules_to_generate_predictions": list(BLOCKING_RULES),
        "probability_two_random_records_match": probability_two_random_records_match,
        # Splink keeps the comparison levels (gamma_*) only with the matching columns.
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "em_convergence": 0.001,
        "max_iterations": 20,
    }


M_FLOOR = 1e-3


def with_m_floor(model: dict[str, Any], floor: float) -> dict[str, Any]:
    """The model with every level's m probability raised to at least `floor`.

    Caps how strongly any single disagreement counts against a match (about -10 in match
    weight for a level that nearly all pairs of different people reach).
    """
    floored: dict[str, Any] = json.loads(json.dumps(model))
    for comparison in floored["comparisons"]:
        for level in comparison["comparison_levels"]:
            m = level.get("m_probability")
            if isinstance(m, int | float) and m < floor:
                level["m_probability"] = floor
    return floored


def level_labels() -> dict[str, dict[int, str]]:
    """For each comparison, its Splink comparison-vector value -> level label.

    Splink numbers a comparison's levels from the most similar (highest) down to 0 for the
    last; the null level is -1.
    """
    labels: dict[str, dict[int, str]] = {}
    for comparison in COMPARISONS:
        levels = comparison["comparison_levels"]
        value = sum(1 for level in levels if not level.get("is_null_level")) - 1
        by_value: dict[int, str] = {}
        for level in levels:
            if level.get("is_null_level"):
                by_value[-1] = level["label_for_charts"]
            else:
                by_value[value] = level["label_for_charts"]
                value -= 1
        labels[comparison["output_column_name"]] = by_value
    return labels
