"""The Splink model's definition: level numbering, blocking columns, input normalisation."""

from __future__ import annotations

import os
from datetime import date

import pyarrow as pa
import pytest
from splink import SettingsCreator

from fairshare.dedup.comparisons import (
    BLOCKING_RULES,
    TRAINING_RULES,
    level_labels,
    settings,
    with_m_floor,
)
from fairshare.dedup.linkage import INPUT_COLUMNS, STAGES, normalise
from fairshare.dedup.services import configured_linkage_options
from fairshare.dedup.spark import default_memory, spark_memory


def _table(**overrides: list[object]) -> pa.Table:
    columns: dict[str, list[object]] = {
        "person_id": ["p1", "p2"],
        "given_names": ["José Luis", "Pepe"],
        "family_names": ["De la Cruz Rojas", "García-Pérez"],
        "date_of_birth": ["1980-05-04", "not a date"],
        "sex": ["male", "male"],
        "national_id": ["012.345.678", None],
        "phone": ["+58 412 5551234", "0412-5551234"],
        "region": ["Capital", "Capital"],
        "municipality": [None, "Distrito Central"],
        "address": ["Cl 5 No. 3", "Calle 5 # 3"],
    }
    columns.update(overrides)
    return pa.table(columns)


def test_level_labels_follow_splink_numbering() -> None:
    """Evidence labels are looked up by Splink's comparison-vector values: they must agree."""
    built = SettingsCreator.from_path_or_dict(settings()).get_settings("duckdb")
    labels = level_labels()
    for comparison in built.comparisons:
        for level in comparison.comparison_levels:
            assert labels[comparison.output_column_name][level.comparison_vector_value] == (
                level.label_for_charts
            )


def test_blocking_rules_use_normalised_columns() -> None:
    """Every column a blocking or training rule names is produced by normalise()."""
    columns = set(normalise(_table()).column_names)
    for rule in (*BLOCKING_RULES, *(rule for _name, rule in TRAINING_RULES)):
        named = {word[2:] for word in rule.replace("(", " ").split() if word[:2] in ("l.", "r.")}
        assert named <= columns, rule


def test_normalise_folds_splits_and_keys() -> None:
    """Names are folded and split the Spanish way; IDs, phones and addresses are keyed."""
    rows = normalise(_table()).to_pylist()
    first, second = rows
    assert (first["given"], first["given1"], first["given2"]) == ("jose luis", "jose", "luis")
    assert (first["family1"], first["family2"]) == ("de la cruz", "rojas")
    assert second["given_aliases"] == ["jose"]
    assert (second["family1"], second["family2"]) == ("garcia", "perez")
    assert first["dob"] == date(1980, 5, 4)
    assert second["dob"] is None  # an unreadable date is missing, not an error
    assert first["nid"] == "12345678" and second["nid"] is None
    assert first["phone"] == second["phone"] == "25551234"
    assert first["address"] == second["address"] == "calle 5 3"
    assert first["area"] == "capital" and second["area"] == "distrito central"
    assert first["day_month"] == 405


def test_normalise_keeps_missing_values_missing() -> None:
    """Missing names and dates stay null; nothing is invented."""
    rows = normalise(
        _table(given_names=[None, "-"], family_names=[None, ""], date_of_birth=[None, None])
    ).to_pylist()
    for row in rows:
        assert row["given"] is None and row["family"] is None and row["dob"] is None
        assert row["given1_key"] is None and row["birth_year"] is None


def test_normalise_names_missing_columns() -> None:
    """A table without the expected columns is refused with their names."""
    with pytest.raises(ValueError, match="phone"):
        normalise(_table().drop_columns(["phone"]))


def test_input_columns_are_the_registry_fields() -> None:
    """The linkage reads the person id and nine registry fields."""
    assert INPUT_COLUMNS[0] == "person_id" and len(INPUT_COLUMNS) == 10


def test_each_training_rule_is_a_stage() -> None:
    """Progress names one stage per EM pass, between the u estimate and scoring."""
    assert STAGES[2:-2] == tuple(f"estimate m ({name})" for name, _rule in TRAINING_RULES)


def test_m_floor_caps_how_much_one_disagreement_counts() -> None:
    """Trained m values below the floor are raised to it; others are left alone."""
    model = {
        "comparisons": [
            {"comparison_levels": [{"m_probability": 1e-9}, {"m_probability": 0.5}, {}]}
        ]
    }
    floored = with_m_floor(model, 1e-3)
    levels = floored["comparisons"][0]["comparison_levels"]
    assert [level.get("m_probability") for level in levels] == [1e-3, 0.5, None]
    assert model["comparisons"][0]["comparison_levels"][0]["m_probability"] == 1e-9


def test_the_linkage_memory_is_configured_once_for_either_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAIRSHARE_DEDUP_MEMORY", "6GB")
    options = configured_linkage_options("spark")
    assert options.memory_limit == "6GB"  # DuckDB reads it as it is
    assert spark_memory(options.memory_limit) == "6g"  # Spark's form, for the driver
    assert spark_memory(None) == default_memory()
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert int(default_memory().removesuffix("g")) == max(2, total // 2**31)  # half of it
    monkeypatch.setenv("FAIRSHARE_DEDUP_MEMORY", "lots")
    with pytest.raises(ValueError, match="not a memory size; write it like 6GB"):
        configured_linkage_options()
