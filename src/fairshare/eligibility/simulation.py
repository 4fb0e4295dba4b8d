"""Counting a rule's eligible subjects in DuckDB, and breaking the count down.

Breakdowns are by region, age band, sex and household size: of the person for a person
programme, of the household (its head's age and sex) for a household programme.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from fairshare.eligibility.facts import RegistryFacts
from fairshare.eligibility.model import BreakdownCell, Target, age_band, breakdown_cells

_BY_PERSON = """
    SELECT h.region, p.sex, p.age, h.size, count(*) AS eligible
    FROM eligible_subjects e
    JOIN person_profiles p ON p.person_id = e.subject_id
    JOIN household_profiles h ON h.household_id = p.household_id
    GROUP BY ALL
"""
_BY_HOUSEHOLD = """
    SELECT h.region, h.head_sex, h.head_age, h.size, count(*) AS eligible
    FROM eligible_subjects e
    JOIN household_profiles h ON h.household_id = e.subject_id
    GROUP BY ALL
"""


def eligible_subjects(facts: RegistryFacts, sql: str, parameters: Any) -> set[str]:
    """The ids of the subjects a compiled rule finds eligible."""
    wrapped = f"SELECT subject_id FROM ({sql}) AS evaluated WHERE eligible"  # noqa: S608 - compiled, parameterised SQL
    return {row[0] for row in facts.rows(wrapped, parameters)}


def population(facts: RegistryFacts, target: Target) -> int:
    return facts.people if target is Target.PERSON else facts.households


def breakdowns(
    facts: RegistryFacts, target: Target, subjects: set[str], *, suppress: bool
) -> dict[str, tuple[BreakdownCell, ...]]:
    """Eligible counts per region, age band, sex and household size."""
    facts.connection.register(
        "eligible_subject_ids", pa.table({"subject_id": pa.array(sorted(subjects), pa.string())})
    )
    try:
        facts.connection.execute(
            "CREATE OR REPLACE TEMP TABLE eligible_subjects AS SELECT * FROM eligible_subject_ids"
        )
    finally:
        facts.connection.unregister("eligible_subject_ids")
    counts: dict[str, Counter[str]] = {
        "region": Counter(),
        "age_band": Counter(),
        "sex": Counter(),
        "household_size": Counter(),
    }
    query = _BY_PERSON if target is Target.PERSON else _BY_HOUSEHOLD
    for region, sex, age, size, eligible in facts.rows(query):
        counts["region"][region or "unknown"] += eligible
        counts["age_band"][age_band(age)] += eligible
        counts["sex"][sex or "unknown"] += eligible
        counts["household_size"][str(size)] += eligible
    return {name: breakdown_cells(dict(c), suppress=suppress) for name, c in counts.items()}
