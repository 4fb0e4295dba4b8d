"""The synthetic population: the bulk-import contract, realism rules and the CLI."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fairshare.catalogue.model import (
    CHRONIC_ILLNESS,
    CORE_FIELDS,
    DISABILITY,
    DWELLING,
    EMPLOYMENT,
    RELATIONSHIPS,
    SEX,
    TENURE,
)
from fairshare.cli.synth import app
from fairshare.synth import generate as generate_module
from fairshare.synth.generate import Population, generate, write

PEOPLE = 2_000
REFERENCE = date(2026, 1, 1)

RECORD_COLUMNS = [
    "record_ref",
    "household_ref",
    "region",
    "municipality",
    "address",
    "dwelling_type",
    "dwelling_tenure",
    "land_hectares",
    "owns_vehicle",
    "given_names",
    "family_names",
    "date_of_birth",
    "sex",
    "national_id",
    "phone",
    "relationship_to_head",
    "employment_status",
    "monthly_income",
    "disability",
    "chronic_illness",
    "health_consent",
]
TRUTH_COLUMNS = ["record_ref", "person_key", "duplicate_of", "errors"]
HOUSEHOLD_FIELDS = [
    "region",
    "municipality",
    "address",
    "dwelling_type",
    "dwelling_tenure",
    "land_hectares",
    "owns_vehicle",
]


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(people=PEOPLE, seed=42)


@pytest.fixture(scope="module")
def rows(population: Population) -> list[dict[str, str | None]]:
    return population.records.to_pylist()


@pytest.fixture(scope="module")
def truth(population: Population) -> dict[str, dict[str, str | None]]:
    return {t["record_ref"]: t for t in population.truth.to_pylist()}


def _originals(rows: list[dict], truth: dict[str, dict]) -> list[dict]:
    return [r for r in rows if truth[r["record_ref"]]["duplicate_of"] is None]


def _age(born: date, on: date = REFERENCE) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_same_seed_gives_identical_tables(population: Population) -> None:
    """Generating twice with the same seed yields byte-for-byte equal records and truth."""
    again = generate(people=PEOPLE, seed=42)
    assert again.records.equals(population.records)
    assert again.truth.equals(population.truth)


def test_different_seed_gives_different_tables(population: Population) -> None:
    """A different seed yields a different population."""
    other = generate(people=PEOPLE, seed=43)
    assert not other.records.equals(population.records)


@pytest.mark.parametrize("people", [1, 2, 7, 100, 2_001])
def test_row_count_equals_people_including_duplicates(people: int) -> None:
    """records and truth have exactly `people` rows, planted duplicates included."""
    result = generate(people=people, seed=1, duplicate_rate=0.1)
    assert result.records.num_rows == people
    assert result.truth.num_rows == people


def test_columns_are_exactly_the_contract(population: Population) -> None:
    """records and truth carry exactly the contracted columns, all plain strings."""
    assert population.records.column_names == RECORD_COLUMNS
    assert population.truth.column_names == TRUTH_COLUMNS
    for table in (population.records, population.truth):
        assert all(field.type == pa.string() for field in table.schema)


def test_record_refs_are_unique_and_shared_by_truth(population: Population) -> None:
    """Every record_ref is unique and truth lists the same refs in the same order."""
    refs = population.records["record_ref"].to_pylist()
    assert len(set(refs)) == len(refs)
    assert population.truth["record_ref"].to_pylist() == refs
    assert all(r is not None and r.startswith("R") for r in refs)


def test_one_head_per_household(rows: list[dict]) -> None:
    """Every household, original or planted, has exactly one head."""
    heads = Counter(r["household_ref"] for r in rows if r["relationship_to_head"] == "head")
    households = {r["household_ref"] for r in rows}
    assert set(heads) == households
    assert set(heads.values()) == {1}


def test_household_fields_are_shared_within_a_household(rows: list[dict]) -> None:
    """All rows of a household carry the same household field values."""
    seen: dict[str, tuple] = {}
    for row in rows:
        values = tuple(row[f] for f in HOUSEHOLD_FIELDS)
        assert seen.setdefault(row["household_ref"], values) == values


def test_household_sizes_are_realistic(rows: list[dict], truth: dict[str, dict]) -> None:
    """Original households average about 3.3 people and range from 1 to 10 or more."""
    sizes = Counter(r["household_ref"] for r in _originals(rows, truth)).values()
    mean = sum(sizes) / len(sizes)
    assert 2.9 <= mean <= 3.7
    assert min(sizes) == 1
    assert max(sizes) >= 8


def test_enumeration_values_are_catalogue_choices(rows: list[dict]) -> None:
    """Every enumeration value is one of the catalogue's choices (health fields may be null)."""
    choices = {
        "sex": SEX,
        "relationship_to_head": RELATIONSHIPS,
        "employment_status": EMPLOYMENT,
        "dwelling_type": DWELLING,
        "dwelling_tenure": TENURE,
        "disability": (*DISABILITY, None),
        "chronic_illness": (*CHRONIC_ILLNESS, None),
        "health_consent": ("true", "false"),
        "owns_vehicle": ("true", "false"),
    }
    for row in rows:
        for name, allowed in choices.items():
            assert row[name] in allowed, (name, row[name])


def test_records_parse_through_the_catalogue(rows: list[dict]) -> None:
    """Every value parses with its catalogue field definition, as the bulk importer does."""
    definitions = {d.name: d for d in CORE_FIELDS}
    for row in rows:
        for name, definition in definitions.items():
            definition.parse(row[name])


def test_dates_of_birth_never_after_reference_date(rows: list[dict]) -> None:
    """Dates of birth are ISO dates no later than the reference date."""
    later = generate(people=300, seed=5, reference_date=date(2020, 6, 30))
    for row in later.records.to_pylist():
        assert date.fromisoformat(row["date_of_birth"]) <= date(2020, 6, 30)
    for row in rows:
        born = date.fromisoformat(row["date_of_birth"])
        assert born.isoformat() == row["date_of_birth"]
        assert date(1890, 1, 1) <= born <= REFERENCE


def test_children_are_younger_than_heads(rows: list[dict], truth: dict[str, dict]) -> None:
    """Children, stepchildren and grandchildren are born after their head; heads are adults."""
    head_born = {
        r["household_ref"]: date.fromisoformat(r["date_of_birth"])
        for r in _originals(rows, truth)
        if r["relationship_to_head"] == "head"
    }
    assert all(_age(born) >= 18 for born in head_born.values())
    checked = 0
    for row in _originals(rows, truth):
        if row["relationship_to_head"] in ("child", "stepchild", "grandchild"):
            assert date.fromisoformat(row["date_of_birth"]) > head_born[row["household_ref"]]
            checked += 1
        elif row["relationship_to_head"] == "parent":
            assert date.fromisoformat(row["date_of_birth"]) < head_born[row["household_ref"]]
    assert checked > PEOPLE // 4


def test_employment_is_consistent_with_age(rows: list[dict], truth: dict[str, dict]) -> None:
    """Under-15s are 'child' and only they are; many 15-24 are students, many 65+ retired."""
    by_band: dict[str, Counter] = defaultdict(Counter)
    for row in _originals(rows, truth):
        age = _age(date.fromisoformat(row["date_of_birth"]))
        status = row["employment_status"]
        assert (status == "child") == (age < 15), (age, status)
        band = "young" if 15 <= age <= 24 else "old" if age >= 65 else "other"
        by_band[band][status] += 1
    assert by_band["young"]["student"] / sum(by_band["young"].values()) > 0.3
    assert by_band["old"]["retired"] / sum(by_band["old"].values()) > 0.3


def test_identity_and_contact_fields(rows: list[dict], truth: dict[str, dict]) -> None:
    """National IDs are unique digit strings held mostly by adults; children have no phone."""
    originals = _originals(rows, truth)
    ids = [r["national_id"] for r in originals if r["national_id"] is not None]
    assert len(ids) == len(set(ids))
    assert all(i.isdigit() for i in ids)
    adults = [r for r in originals if _age(date.fromisoformat(r["date_of_birth"])) >= 18]
    minors = [r for r in originals if _age(date.fromisoformat(r["date_of_birth"])) < 18]
    assert 0.78 < sum(r["national_id"] is not None for r in adults) / len(adults) < 0.92
    assert sum(r["national_id"] is not None for r in minors) / len(minors) < 0.15
    assert 0.5 < sum(r["phone"] is not None for r in adults) / len(adults) < 0.7
    assert all(r["phone"] is None for r in minors)


def test_duplicate_count_is_close_to_rate(population: Population) -> None:
    """About duplicate_rate x people records are planted duplicates; rate 0 plants none."""
    assert population.duplicates == round(0.03 * PEOPLE)
    assert generate(people=500, seed=3, duplicate_rate=0.0).duplicates == 0
    assert generate(people=1_000, seed=3, duplicate_rate=0.2).duplicates == 200


def test_truth_links_duplicates_to_their_original(rows: list[dict], truth: dict[str, dict]) -> None:
    """Each duplicate shares its original's person_key; originals have unique keys and no errors."""
    originals = [t for t in truth.values() if t["duplicate_of"] is None]
    keys = [t["person_key"] for t in originals]
    assert len(keys) == len(set(keys))
    assert all(t["errors"] is None for t in originals)
    duplicates = [t for t in truth.values() if t["duplicate_of"] is not None]
    assert duplicates
    for dup in duplicates:
        original = truth[dup["duplicate_of"]]
        assert original["duplicate_of"] is None
        assert dup["person_key"] == original["person_key"]
        assert dup["errors"]
        assert set(dup["errors"].split(",")) <= {*generate_module.ERROR_WEIGHTS, "none"}


def test_duplicates_are_new_single_person_households(
    rows: list[dict], truth: dict[str, dict]
) -> None:
    """A duplicate is the head of its own new household, registered after its original."""
    by_ref = {r["record_ref"]: r for r in rows}
    sizes = Counter(r["household_ref"] for r in rows)
    position = {r["record_ref"]: i for i, r in enumerate(rows)}
    for ref, entry in truth.items():
        if entry["duplicate_of"] is None:
            continue
        dup, original = by_ref[ref], by_ref[entry["duplicate_of"]]
        assert dup["relationship_to_head"] == "head"
        assert sizes[dup["household_ref"]] == 1
        assert dup["household_ref"] != original["household_ref"]
        assert position[ref] > position[entry["duplicate_of"]]


def test_duplicates_carry_the_errors_recorded(rows: list[dict], truth: dict[str, dict]) -> None:
    """Exact duplicates match their original; recorded errors are visible in the record."""
    population = generate(people=6_000, seed=11, duplicate_rate=0.1)
    records = {r["record_ref"]: r for r in population.records.to_pylist()}
    person = ["given_names", "family_names", "date_of_birth", "national_id", "phone", "sex"]
    kinds: Counter = Counter()
    for entry in population.truth.to_pylist():
        if entry["duplicate_of"] is None:
            continue
        dup, original = records[entry["record_ref"]], records[entry["duplicate_of"]]
        errors = set(entry["errors"].split(","))
        kinds.update(errors)
        if errors == {"none"}:
            assert [dup[f] for f in person] == [original[f] for f in person]
        if "national_id_missing" in errors:
            assert original["national_id"] is not None and dup["national_id"] is None
        if "dob_day_month_swapped" in errors or "dob_year_off_by_one" in errors:
            assert dup["date_of_birth"] != original["date_of_birth"]
        else:
            assert dup["date_of_birth"] == original["date_of_birth"]
        if "first_family_name_only" in errors and "names_swapped" not in errors:
            assert len(dup["family_names"]) < len(original["family_names"])
        if "address_changed" in errors:
            assert dup["address"] != original["address"]
    assert kinds["none"] > 0
    assert len(kinds) >= 12


def test_health_values_null_without_consent(rows: list[dict]) -> None:
    """Records without health consent have no health values; any health value implies consent."""
    for row in rows:
        has_health = row["disability"] is not None or row["chronic_illness"] is not None
        if row["health_consent"] == "false":
            assert not has_health
        if has_health:
            assert row["health_consent"] == "true"
    assert any(r["health_consent"] == "false" for r in rows)


def test_health_prevalence_rises_with_age() -> None:
    """Disability is rarer among the young (a few per cent) than among over-75s (about a fifth)."""
    result = generate(people=20_000, seed=9).records.to_pylist()
    young, old = [], []
    for row in result:
        if row["disability"] is None:
            continue
        age = _age(date.fromisoformat(row["date_of_birth"]))
        (young if age < 18 else old if age >= 75 else []).append(row["disability"] != "none")
    assert sum(young) / len(young) < 0.06
    assert 0.12 < sum(old) / len(old) < 0.3


def test_money_and_land_are_two_decimal_places(rows: list[dict]) -> None:
    """Income and land parse as non-negative decimals with exactly two decimal places."""
    for row in rows:
        for name in ("monthly_income", "land_hectares"):
            value = Decimal(row[name])
            assert value >= 0
            assert value.as_tuple().exponent == -2, row[name]
        if row["employment_status"] == "child":
            assert row["monthly_income"] == "0.00"
    earners = sorted(
        Decimal(r["monthly_income"])
        for r in rows
        if r["employment_status"] in ("employed", "self_employed", "informal_worker")
    )
    assert Decimal(120) < earners[len(earners) // 2] < Decimal(260)


def test_chunked_rendering_equals_single_pass(
    population: Population, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendering in small chunks (as for millions of rows) gives the same tables."""
    monkeypatch.setattr(generate_module, "_CHUNK_ROWS", 333)
    chunked = generate(people=PEOPLE, seed=42)
    assert chunked.records.num_rows == PEOPLE
    assert chunked.records.equals(population.records)
    assert chunked.truth.equals(population.truth)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"people": 0},
        {"people": 50_000_001},
        {"duplicate_rate": -0.1},
        {"duplicate_rate": 0.51},
        {"people": 2.5},
    ],
)
def test_generate_rejects_bad_arguments(kwargs: dict) -> None:
    """generate() refuses out-of-range people or duplicate_rate with a ValueError."""
    with pytest.raises(ValueError, match="must be"):
        generate(**kwargs)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_round_trips(population: Population, tmp_path: Path, fmt: str) -> None:
    """write() stores people and truth files that read back as the same tables (nulls empty)."""
    records_path, truth_path = write(population, tmp_path / "out", fmt)
    assert records_path == tmp_path / "out" / f"people.{fmt}"
    assert truth_path == tmp_path / "out" / f"truth.{fmt}"
    for path, table in ((records_path, population.records), (truth_path, population.truth)):
        if fmt == "parquet":
            back = pq.read_table(path)
        else:
            text = path.read_text(encoding="utf-8")
            assert text.splitlines()[0].replace('"', "").split(",") == table.column_names
            assert '"null"' not in text
            back = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(table.column_names, pa.string()),
                    strings_can_be_null=True,
                ),
            )
        assert back.equals(table.combine_chunks())


runner = CliRunner()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cli_writes_files(tmp_path: Path, fmt: str) -> None:
    """`synth generate` writes people and truth files and reports the counts and paths."""
    out = tmp_path / "synth"
    result = runner.invoke(
        app,
        [
            "generate",
            "--people",
            "300",
            "--seed",
            "7",
            "--duplicate-rate",
            "0.1",
            "--out",
            str(out),
            "--format",
            fmt,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / f"people.{fmt}").is_file()
    assert (out / f"truth.{fmt}").is_file()
    assert "300 people" in result.output
    assert "30 planted duplicates" in result.output
    assert str(out / f"people.{fmt}") in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--people", "0"],
        ["--people", "50000001"],
        ["--duplicate-rate", "0.6"],
        ["--duplicate-rate", "-0.01"],
        ["--format", "xlsx"],
        ["--people", "many"],
    ],
)
def test_cli_rejects_bad_input(tmp_path: Path, args: list[str]) -> None:
    """Out-of-range counts or rates and unknown formats exit with code 2 and write nothing."""
    out = tmp_path / "synth"
    result = runner.invoke(app, ["generate", "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert not out.exists()
