"""The `fairshare` command, run in-process with Typer's CliRunner against a SQLite file."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from fairshare.cli.main import app
from fairshare.settings import get_settings
from fairshare.synth.generate import generate, write

Run = Callable[..., Result]
SYNTHETIC_PEOPLE = 300
BAD_ROW = 4  # 1-based data row carrying a birth date in the future


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh FAIRSHARE_VAR_DIR, so the default SQLite database and keys live in tmp_path."""
    var = tmp_path / "var"
    for name in ("FAIRSHARE_DATABASE_URL", "FAIRSHARE_KEY_DIR", "FAIRSHARE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAIRSHARE_VAR_DIR", str(var))
    monkeypatch.setenv("FAIRSHARE_ENVIRONMENT", "test")
    monkeypatch.setenv("FAIRSHARE_ACTOR", "test-operator")
    get_settings.cache_clear()  # settings are read once per process; read ours
    yield var
    get_settings.cache_clear()


@pytest.fixture
def run(var_dir: Path) -> Run:
    """Run `fairshare ARGS...` on an upgraded database; returns the result."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), catch_exceptions=False)

    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    return invoke


def flat(result: Result) -> str:
    """The output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


def database(var_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(var_dir / "fairshare.sqlite3")


def people_count(var_dir: Path) -> int:
    with closing(database(var_dir)) as connection:
        return int(connection.execute("SELECT count(*) FROM people").fetchone()[0])


@pytest.fixture
def population_csv(tmp_path: Path) -> Path:
    records, _truth = write(generate(people=SYNTHETIC_PEOPLE, seed=1), tmp_path / "synth", "csv")
    return records


@pytest.fixture
def csv_with_a_bad_row(tmp_path: Path) -> Path:
    header = [
        "record_ref",
        "household_ref",
        "region",
        "address",
        "given_names",
        "family_names",
        "date_of_birth",
        "sex",
        "relationship_to_head",
        "monthly_income",
    ]
    rows = [
        [
            "R1",
            "H1",
            "Costa Norte",
            "Av. Grau 4",
            "Rosa",
            "Huamán Torres",
            "1950-03-02",
            "female",
            "head",
            "120.00",
        ],
        [
            "R2",
            "H1",
            "Costa Norte",
            "Av. Grau 4",
            "Pedro",
            "Huamán Torres",
            "1952-11-20",
            "male",
            "spouse_partner",
            "",
        ],
        [
            "R3",
            "H2",
            "Selva Baja",
            "Jr. Loreto 9",
            "Ana",
            "Mamani Ccori",
            "1990-06-15",
            "female",
            "head",
            "300",
        ],
        [
            "R4",
            "H3",
            "Selva Baja",
            "Jr. Loreto 10",
            "Luis",
            "Mamani",
            "2999-01-01",
            "male",
            "head",
            "10",
        ],
    ]
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def test_db_upgrade_then_check(run: Run) -> None:
    """After `db upgrade`, `db check` finds the schema current and exits 0."""
    result = run("db", "check")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_catalogue_declares_allowed_fields_and_refuses_red_lines(run: Run) -> None:
    """An allowed field is declared; a party-membership field exits 2 naming the category."""
    allowed = run(
        "catalogue",
        "add",
        "school_meals",
        "--label",
        "Receives school meals",
        "--type",
        "boolean",
        "--purpose",
        "avoid paying the same food basket twice",
    )
    assert allowed.exit_code == 0, allowed.output
    refused = run(
        "catalogue",
        "add",
        "partido_politico",
        "--label",
        "Partido",
        "--type",
        "text",
        "--purpose",
        "targeting",
    )
    assert refused.exit_code == 2, refused.output
    assert "party membership" in flat(refused)
    listed = run("catalogue", "list")
    assert listed.exit_code == 0
    assert "school_meals" in flat(listed)
    assert "partido" not in flat(listed)


def test_red_line_is_named_even_when_the_definition_is_also_malformed(run: Run) -> None:
    """A red-line field with a too-short purpose is still refused naming its category."""
    refused = run(
        "catalogue",
        "add",
        "partido_politico",
        "--label",
        "Partido",
        "--type",
        "text",
        "--purpose",
        "x",
    )
    assert refused.exit_code == 2, refused.output
    assert "party membership" in flat(refused)


def test_registry_import_of_a_synthetic_population(
    run: Run, var_dir: Path, population_csv: Path
) -> None:
    """A generated population imports whole and exits 0."""
    result = run("registry", "import", str(population_csv))
    assert result.exit_code == 0, result.output
    assert f"imported {SYNTHETIC_PEOPLE} people" in flat(result)
    assert people_count(var_dir) == SYNTHETIC_PEOPLE


def test_registry_import_with_an_invalid_row_imports_nothing(
    run: Run, var_dir: Path, csv_with_a_bad_row: Path
) -> None:
    """One invalid row: exit 2, the row and field are listed, and nothing is imported."""
    result = run("registry", "import", str(csv_with_a_bad_row))
    assert result.exit_code == 2, result.output
    assert f"row {BAD_ROW}, date_of_birth" in flat(result)
    assert "nothing was imported" in flat(result)
    assert people_count(var_dir) == 0


def test_registry_import_skipping_invalid_rows(
    run: Run, var_dir: Path, csv_with_a_bad_row: Path
) -> None:
    """With --skip-invalid the good rows land and the rejected one is written to a file."""
    result = run("registry", "import", str(csv_with_a_bad_row), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "imported 3 people" in flat(result)
    assert people_count(var_dir) == 3
    rejected = csv_with_a_bad_row.with_suffix(".rejected.csv")
    assert rejected.exists()
    assert "R4" in rejected.read_text(encoding="utf-8")


def test_audit_verify_detects_a_changed_entry(
    run: Run, var_dir: Path, csv_with_a_bad_row: Path
) -> None:
    """`audit verify` exits 0 on an intact log and 1 naming the entry after one is changed."""
    assert run("registry", "import", str(csv_with_a_bad_row), "--skip-invalid").exit_code == 0
    intact = run("audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert "intact" in flat(intact)
    with closing(database(var_dir)) as connection:
        changed = connection.execute("UPDATE access_log SET purpose='x' WHERE sequence=2")
        assert changed.rowcount == 1
        connection.commit()
    tampered = run("audit", "verify")
    assert tampered.exit_code == 1, tampered.output
    assert "TAMPERED at entry 2" in flat(tampered)
