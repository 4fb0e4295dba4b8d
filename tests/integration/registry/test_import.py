"""Bulk import of CSV and Parquet files through the importer, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from fairshare.audit import services as audit_services
from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.catalogue.redline import RedLineCategory, RefusedField
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.registry.importing import ImportRejected, read_table
from fairshare.registry.orm import consents, health_values, households, people
from fairshare.synth.generate import Population, generate, write
from tests.conftest import actor

FORMATS = ("csv", "parquet")
HEALTH_FIELDS = ("disability", "chronic_illness")


@pytest.fixture
def importer_actor() -> Actor:
    return actor(Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION, username="ana.importer")


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(people=500, seed=3)


def row(record_ref: str, household_ref: str, **overrides: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "record_ref": record_ref,
        "household_ref": household_ref,
        "region": "Sierra Central",
        "address": "Calle Los Álamos 12",
        "owns_vehicle": "no",
        "given_names": "María José",
        "family_names": "Pérez Quispe",
        "date_of_birth": "1958-07-21",
        "sex": "female",
        "relationship_to_head": "head",
        "monthly_income": "85.50",
        "disability": None,
        "health_consent": "false",
    }
    values.update(overrides)
    return values


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows by hand: CSV through the csv module, Parquet as all-string columns."""
    columns = list(rows[0])
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(
            pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in columns}), path
        )
    return path


def count(services: Services, table: Any) -> int:
    with services.uow() as uow:
        return int(uow.connection.execute(select(func.count()).select_from(table)).scalar_one())


def counts(services: Services) -> tuple[int, int, int, int]:
    return (
        count(services, people),
        count(services, households),
        count(services, health_values),
        count(services, access_log),
    )


VALID_ROWS = [
    row("R1", "H1"),
    row(
        "R2",
        "H1",
        given_names="Lucía",
        date_of_birth="2019-02-03",
        relationship_to_head="grandchild",
        monthly_income=None,
    ),
    row("R3", "H2", given_names="Jorge", sex="male", disability="hearing", health_consent="true"),
]

# Row numbers (1-based, header not counted) of deliberately bad rows: field and reason.
BAD_ROWS: dict[int, tuple[str, str]] = {
    3: ("date_of_birth", "YYYY-MM-DD"),
    4: ("date_of_birth", "future"),
    5: ("sex", "not allowed"),
    6: ("given_names", "control characters"),
    7: ("given_names", "limit is 100"),
    8: ("monthly_income", "at least 0"),
    9: ("disability", "health_consent"),
    10: ("record_ref", "row 1"),
    12: ("region", "differs from row 11"),
    14: ("relationship_to_head", "already has a head"),
    15: ("relationship_to_head", "no member whose relationship is 'head'"),
    16: ("relationship_to_head", "no member whose relationship is 'head'"),
}
CLEAN_ROWS = (1, 2, 11, 13, 17)  # row 13 is the first of two heads: it still stands
MIXED_ROWS = [
    row("R01", "H01"),
    row("R02", "H01", given_names="Lucía", relationship_to_head="grandchild"),
    row("R03", "H02", date_of_birth="21/07/1958"),
    row("R04", "H03", date_of_birth="2999-01-01"),
    row("R05", "H04", sex="unknown"),
    row("R06", "H05", given_names="Ana\tMaría"),
    row("R07", "H06", given_names="A" * 101),
    row("R08", "H07", monthly_income="-4"),
    row("R09", "H08", disability="visual", health_consent="false"),
    row("R01", "H09"),
    row("R11", "H10"),
    row("R12", "H10", relationship_to_head="spouse_partner", region="Costa Sur"),
    row("R13", "H11"),
    row("R14", "H11"),
    row("R15", "H12", relationship_to_head="child"),
    row("R16", "H12", relationship_to_head="spouse_partner"),
    row("R17", "H13", disability="physical", health_consent="true"),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_generated_file_imports_whole(
    services: Services, importer_actor: Actor, population: Population, tmp_path: Path, fmt: str
) -> None:
    """A generated CSV or Parquet file lands whole: people, households, shared household fields."""
    records_path, _ = write(population, tmp_path, fmt)
    before = counts(services)
    report = services.importer.import_table(
        importer_actor, read_table(records_path), source=records_path.name
    )
    assert (report.people, report.households) == (500, population.households)
    assert report.rejected_rows == 0
    assert count(services, people) == before[0] + 500
    assert count(services, households) == before[1] + population.households
    file_rows = population.records.to_pylist()
    expected_size = Counter(r["household_ref"] for r in file_rows)
    expected_region = {r["household_ref"]: (r["region"], r["address"]) for r in file_rows}
    with services.uow() as uow:
        stored = uow.connection.execute(
            select(
                households.c.household_ref,
                households.c.region,
                households.c.address,
                func.count(people.c.id),
            )
            .join(people, people.c.household_id == households.c.id)
            .group_by(households.c.household_ref, households.c.region, households.c.address)
        ).all()
    assert {r[0]: r[3] for r in stored} == expected_size
    assert {r[0]: (r[1], r[2]) for r in stored} == expected_region


@pytest.mark.parametrize("fmt", FORMATS)
def test_health_values_sealed_only_with_consent(
    services: Services, importer_actor: Actor, population: Population, tmp_path: Path, fmt: str
) -> None:
    """Health values are stored sealed for consenting people only, with a consent record."""
    records_path, _ = write(population, tmp_path, fmt)
    services.importer.import_table(importer_actor, read_table(records_path))
    file_rows = population.records.to_pylist()
    expected = {
        (r["record_ref"], name): r[name]
        for r in file_rows
        if r["health_consent"] == "true"
        for name in HEALTH_FIELDS
        if r[name] is not None
    }
    assert expected, "the generated file should carry consented health values"
    consenting = {r["record_ref"] for r in file_rows if r["health_consent"] == "true"}
    with services.uow() as uow:
        sealed = uow.connection.execute(
            select(
                people.c.id, people.c.record_ref, health_values.c.field, health_values.c.sealed
            ).join(people, people.c.id == health_values.c.person_id)
        ).all()
        consented = {
            r[0]
            for r in uow.connection.execute(
                select(people.c.record_ref).join(consents, consents.c.person_id == people.c.id)
            )
        }
    assert {(r.record_ref, r.field) for r in sealed} == set(expected)
    assert consented == consenting
    for person_id, record_ref, name, value in sealed:
        assert value.startswith("v1.")
        # The plaintext is not in what is stored. Compared as bytes against the decoded
        # ciphertext: as text, base64 once spelled "none" by chance.
        stored = base64.urlsafe_b64decode(value.rsplit(".", 1)[1] + "==")
        assert json.dumps(expected[(record_ref, name)]).encode() not in stored
        assert (
            json.loads(services.cipher.open(value, f"{person_id}:{name}"))
            == expected[(record_ref, name)]
        )


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_with_errors_imports_nothing_and_names_every_bad_row(
    services: Services, importer_actor: Actor, tmp_path: Path, fmt: str
) -> None:
    """One bad row refuses the whole file; the report names row, field and reason for each."""
    path = write_rows(tmp_path / f"mixed.{fmt}", MIXED_ROWS)
    before = counts(services)
    with pytest.raises(ImportRejected) as error:
        services.importer.import_table(importer_actor, read_table(path))
    reported = {(e.row, e.field): e.reason for e in error.value.row_errors}
    for number, (field, fragment) in BAD_ROWS.items():
        assert (number, field) in reported, f"row {number} {field} not reported"
        assert fragment in reported[(number, field)]
    bad = {number for number, _ in reported}
    assert set(BAD_ROWS) <= bad
    assert not bad & set(CLEAN_ROWS)
    assert {"row", "field", "reason"} <= set(error.value.errors[0])
    assert error.value.status == 422
    assert counts(services) == before


def test_unknown_column_is_named(services: Services, importer_actor: Actor, tmp_path: Path) -> None:
    """A column the catalogue does not declare refuses the file, naming the column."""
    path = write_rows(tmp_path / "extra.csv", [{**row("R1", "H1"), "favourite_colour": "blue"}])
    before = counts(services)
    with pytest.raises(InvalidInput, match="favourite_colour") as error:
        services.importer.import_table(importer_actor, read_table(path))
    assert error.value.errors == [
        {"field": "favourite_colour", "reason": "not declared in the data catalogue"}
    ]
    assert counts(services) == before


def test_red_line_column_names_its_category(
    services: Services, importer_actor: Actor, tmp_path: Path
) -> None:
    """A column about a refused category is refused naming the category, as in registration."""
    path = write_rows(tmp_path / "religion.csv", [{**row("R1", "H1"), "religion": "catholic"}])
    before = counts(services)
    with pytest.raises(RefusedField) as error:
        services.importer.import_table(importer_actor, read_table(path))
    assert error.value.category is RedLineCategory.RELIGION
    assert counts(services) == before


def test_missing_required_column_is_named(
    services: Services, importer_actor: Actor, tmp_path: Path
) -> None:
    """A file without a required column is refused, naming the column."""
    rows = [{k: v for k, v in r.items() if k != "date_of_birth"} for r in VALID_ROWS]
    path = write_rows(tmp_path / "no-birth-date.parquet", rows)
    before = counts(services)
    with pytest.raises(InvalidInput, match="date_of_birth") as error:
        services.importer.import_table(importer_actor, read_table(path))
    assert not isinstance(error.value, ImportRejected)
    assert error.value.errors == [{"field": "date_of_birth", "reason": "required column missing"}]
    assert counts(services) == before


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_skip_invalid_imports_valid_rows_and_writes_rejected(
    services: Services, importer_actor: Actor, tmp_path: Path, suffix: str
) -> None:
    """skip_invalid imports the valid rows and writes the rejected ones with row and errors."""
    path = write_rows(tmp_path / "mixed.csv", MIXED_ROWS)
    rejected_path = tmp_path / "out" / f"rejected.{suffix}"
    before = counts(services)
    report = services.importer.import_table(
        importer_actor, read_table(path), skip_invalid=True, rejected_path=rejected_path
    )
    assert report.rejected_path == rejected_path
    assert report.people == len(MIXED_ROWS) - report.rejected_rows
    rejected = (
        pacsv.read_csv(rejected_path) if suffix == "csv" else pq.read_table(rejected_path)
    ).to_pylist()
    rejected_rows = {r["source_row"]: r for r in rejected}
    assert len(rejected_rows) == report.rejected_rows
    assert set(BAD_ROWS) <= set(rejected_rows)
    assert not set(rejected_rows) & set(CLEAN_ROWS)
    for number, (field, fragment) in BAD_ROWS.items():
        assert f"{field}: " in rejected_rows[number]["errors"]
        assert fragment in rejected_rows[number]["errors"]
    assert rejected_rows[6]["given_names"] == "Ana\tMaría"  # kept as given, for fixing
    with services.uow() as uow:
        stored = Counter(uow.connection.execute(select(people.c.record_ref)).scalars())
    assert all(stored[f"R{n:02d}"] == 1 for n in CLEAN_ROWS)
    assert not any(stored[f"R{n:02d}"] for n in BAD_ROWS if n != 10)
    assert count(services, people) == before[0] + report.people
    assert audit_services.verify(services.uow()).ok


def test_reimport_is_refused_and_writes_nothing(
    services: Services, importer_actor: Actor, tmp_path: Path
) -> None:
    """Importing the same file again is refused row by row; nothing new is written or logged."""
    path = write_rows(tmp_path / "valid.csv", VALID_ROWS)
    services.importer.import_table(importer_actor, read_table(path))
    before = counts(services)
    with pytest.raises(ImportRejected) as error:
        services.importer.import_table(importer_actor, read_table(path))
    reported = {(e.row, e.field) for e in error.value.row_errors}
    assert {(n, "record_ref") for n in (1, 2, 3)} <= reported
    assert all("already registered" in e.reason for e in error.value.row_errors)
    assert counts(services) == before


def test_dry_run_writes_nothing(services: Services, importer_actor: Actor, tmp_path: Path) -> None:
    """A dry run validates and counts, but stores and logs nothing."""
    path = write_rows(tmp_path / "valid.parquet", VALID_ROWS)
    before = counts(services)
    report = services.importer.import_table(importer_actor, read_table(path), dry_run=True)
    assert (report.dry_run, report.people, report.households) == (True, 3, 2)
    assert counts(services) == before
    assert services.importer.import_table(importer_actor, read_table(path)).people == 3


def test_column_mapping_renames_source_columns(
    services: Services, importer_actor: Actor, tmp_path: Path
) -> None:
    """read_table's mapping lets a file with its own column names import into declared fields."""
    spanish = {
        "nombre": "given_names",
        "apellidos": "family_names",
        "fecha_nacimiento": "date_of_birth",
        "sexo": "sex",
        "direccion": "address",
        "parentesco": "relationship_to_head",
    }
    reverse = {field: source for source, field in spanish.items()}
    rows = [{reverse.get(k, k): v for k, v in r.items()} for r in VALID_ROWS]
    path = write_rows(tmp_path / "padron.csv", rows)
    with pytest.raises(InvalidInput, match="nombre"):
        services.importer.import_table(importer_actor, read_table(path))
    report = services.importer.import_table(importer_actor, read_table(path, spanish))
    assert report.people == 3
    with services.uow() as uow:
        names = set(uow.connection.execute(select(people.c.given_names)).scalars())
    assert {"María José", "Lucía", "Jorge"} <= names
    with pytest.raises(InvalidInput, match="apodo"):
        read_table(path, {"apodo": "given_names"})


@pytest.mark.parametrize("content", ["", "record_ref,given_names\n"], ids=["zero-bytes", "header"])
def test_empty_csv_is_refused(
    services: Services, importer_actor: Actor, tmp_path: Path, content: str
) -> None:
    """A CSV file without data rows is refused with InvalidInput."""
    path = tmp_path / "empty.csv"
    path.write_text(content)
    before = counts(services)
    with pytest.raises(InvalidInput):
        services.importer.import_table(importer_actor, read_table(path))
    assert counts(services) == before


def test_empty_parquet_is_refused(
    services: Services, importer_actor: Actor, tmp_path: Path
) -> None:
    """A Parquet file with no rows is refused with InvalidInput: nothing to import."""
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"record_ref": pa.array([], pa.string())}), path)
    with pytest.raises(InvalidInput, match="no rows"):
        services.importer.import_table(importer_actor, read_table(path))


@pytest.mark.parametrize("name", ["people.xlsx", "people.json", "people"])
def test_other_file_types_are_refused(tmp_path: Path, name: str) -> None:
    """Only .csv and .parquet files are read; anything else is InvalidInput naming the fix."""
    path = tmp_path / name
    path.write_text("record_ref\nR1\n")
    with pytest.raises(InvalidInput, match=r"\.csv or \.parquet"):
        read_table(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    """A path that does not exist is InvalidInput, not a traceback."""
    with pytest.raises(InvalidInput, match="does not exist"):
        read_table(tmp_path / "missing.csv")


def test_csv_null_words_stay_text(
    services: Services, importer_actor: Actor, tmp_path: Path
) -> None:
    """Only an empty CSV cell is missing: 'NA' or 'null' are kept as text, as from Parquet."""
    path = write_rows(
        tmp_path / "words.csv",
        [row("R1", "H1", given_names="NA", family_names="null", address="N/A")],
    )
    assert read_table(path).to_pylist()[0]["given_names"] == "NA"
    services.importer.import_table(importer_actor, read_table(path))
    with services.uow() as uow:
        stored = uow.connection.execute(select(people.c.given_names, people.c.family_names)).one()
    assert tuple(stored) == ("NA", "null")


def test_every_imported_person_is_logged_and_chain_verifies(
    services: Services, importer_actor: Actor, population: Population, tmp_path: Path
) -> None:
    """Each person and household created by an import has its access-log entry; the chain holds."""
    records_path, _ = write(population, tmp_path, "parquet")
    with services.uow() as uow:
        before = set(uow.connection.execute(select(people.c.id)).scalars())
    services.importer.import_table(
        importer_actor, read_table(records_path), source=records_path.name
    )
    with services.uow() as uow:
        person_ids = set(uow.connection.execute(select(people.c.id)).scalars()) - before
        entries = uow.connection.execute(
            select(
                access_log.c.action,
                access_log.c.subject_id,
                access_log.c.actor,
                access_log.c.purpose,
            ).where(access_log.c.actor == importer_actor.username)
        ).all()
    created = Counter(e.subject_id for e in entries if e.action == Tag.REGISTRY_PERSON_CREATE)
    assert len(person_ids) == 500
    assert set(created) == person_ids
    assert set(created.values()) == {1}
    households_logged = [e for e in entries if e.action == Tag.REGISTRY_HOUSEHOLD_CREATE]
    assert len(households_logged) == population.households
    imports = [e for e in entries if e.action == Tag.REGISTRY_IMPORT_CREATE]
    assert [e.subject_id for e in imports] == [records_path.name]
    assert {e.purpose for e in entries} == {Purpose.BULK_REGISTRATION.value}
    assert audit_services.verify(services.uow()).ok


def test_purpose_without_registration_is_refused(
    services: Services, population: Population, tmp_path: Path
) -> None:
    """An administrator acting for administration may not import; the refusal alone is logged."""
    records_path, _ = write(population, tmp_path, "parquet")
    before = counts(services)
    administrator = actor(Role.ADMINISTRATOR, Purpose.ADMINISTRATION)
    with pytest.raises(PurposeNotAllowed):
        services.importer.import_table(administrator, read_table(records_path))
    after = counts(services)
    assert after[:3] == before[:3]
    assert after[3] == before[3] + 1


def test_bad_household_value_is_reported_once(
    services: Services, importer_actor: Actor, tmp_path: Path
) -> None:
    """An invalid household value in the first row is not repeated as a disagreement."""
    rows = [
        row("R1", "H1", dwelling_type="castle"),
        row("R2", "H1", dwelling_type="castle", relationship_to_head="child"),
    ]
    path = write_rows(tmp_path / "castle.csv", rows)
    with pytest.raises(ImportRejected) as error:
        services.importer.import_table(importer_actor, read_table(path))
    reasons = [(e.row, e.field, e.reason) for e in error.value.row_errors]
    assert not any("differs" in reason for _, _, reason in reasons)
    assert [(r, f) for r, f, _ in reasons if f == "dwelling_type"] == [
        (1, "dwelling_type"),
        (2, "dwelling_type"),
    ]
