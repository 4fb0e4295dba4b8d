"""The registration-time duplicate check through its service, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.cli import dedup as dedup_cli
from fairshare.cli import registry as registry_cli
from fairshare.cli.main import app
from fairshare.dedup.check import COMPARED_FIELDS, CheckModel, prepare, score
from fairshare.dedup.linkage import INPUT_COLUMNS, LinkageOptions, link
from fairshare.dedup.model import Thresholds
from fairshare.dedup.orm import dedup_check_confirmations
from fairshare.dedup.registration import UNTRAINED_NOTE, DuplicateCheck, LikelyDuplicates
from fairshare.dedup.services import Deduplication
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.registry.orm import people
from fairshare.registry.services import MemberInput
from fairshare.synth.generate import generate
from tests.conftest import actor

HOUSEHOLD = {"region": "Sierra Central", "municipality": "Huancayo", "address": "Jr. Puno 145"}
JOSE = {
    "given_names": "José Antonio",
    "family_names": "Pérez Quispe",
    "date_of_birth": "1984-03-11",
    "sex": "male",
    "national_id": "40123456",
    "relationship_to_head": "head",
}


@pytest.fixture
def check(services: Services) -> DuplicateCheck:
    return services.duplicate_check


def register(services: Services, values: dict[str, Any], household: dict[str, Any]) -> str:
    created = services.registry.register_household(
        actor(Role.CASEWORKER, Purpose.REGISTRATION), household, [MemberInput(values)]
    )
    return created.members[0].id


def entries(services: Services, tag: Tag) -> list[Any]:
    with services.uow() as uow:
        return list(
            uow.connection.execute(select(access_log).where(access_log.c.action == tag.value))
        )


def test_empty_registry_has_no_matches(check: DuplicateCheck, caseworker: Actor) -> None:
    """Against an empty registry the check answers, says it is untrained, and finds no one."""
    result = check.check(caseworker, JOSE, HOUSEHOLD)
    assert result.matches == ()
    assert result.candidates == 0
    assert not result.trained
    assert UNTRAINED_NOTE in result.notes


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"given_names": "Jose Antnio"}, id="typo"),
        pytest.param({"given_names": "JOSE ANTONIO", "family_names": "PEREZ QUISPE"}, id="accent"),
        pytest.param(
            {"given_names": "Pérez Quispe", "family_names": "José Antonio"}, id="names-swapped"
        ),
        pytest.param({"date_of_birth": "1984-11-03"}, id="day-month-swapped"),
        pytest.param({"date_of_birth": "1985-03-11", "national_id": None}, id="year-off"),
        pytest.param(
            {"given_names": "Pepe", "family_names": "Pérez", "national_id": None}, id="nickname"
        ),
    ],
)
def test_planted_duplicate_is_found(
    services: Services, check: DuplicateCheck, caseworker: Actor, changes: dict[str, Any]
) -> None:
    """A registration error of each common kind still names the registered person."""
    original = register(services, JOSE, HOUSEHOLD)
    result = check.check(caseworker, {**JOSE, **changes}, HOUSEHOLD)
    assert [m.person_id for m in result.matches] == [original]
    match = result.matches[0]
    assert match.match_probability >= result.threshold
    assert {e.field for e in match.evidence} == {
        "given_names",
        "family_names_and_address",
        "date_of_birth",
        "national_id",
        "phone",
        "sex",
    }


def test_clearly_different_person_is_not_a_match(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """Someone born the same day in the same town, with other names, is not flagged."""
    register(services, JOSE, HOUSEHOLD)
    other = {
        "given_names": "Rosa Elvira",
        "family_names": "Pérez Mamani",
        "date_of_birth": "1984-03-11",
        "sex": "female",
    }
    result = check.check(caseworker, other, {**HOUSEHOLD, "address": "Av. Real 9"})
    assert result.candidates == 1  # looked at (birth date, family name) and scored low
    assert result.matches == ()
    stranger = {**other, "family_names": "Mamani Huamán"}
    assert check.check(caseworker, stranger, HOUSEHOLD).candidates == 0


def test_household_of_an_existing_household_is_compared(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """Adding a member compares the household's address: the same person is found again."""
    original = register(services, JOSE, HOUSEHOLD)
    household_id = services.registry.get_person(
        actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), original
    ).household_id
    result = check.check(caseworker, {**JOSE, "national_id": None}, household_id=household_id)
    assert [m.person_id for m in result.matches] == [original]
    assert result.matches[0].evidence[1].level == "same family names, same address"


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"given_names": "José"}, id="given-name-only"),
        pytest.param({"family_names": "Pérez", "date_of_birth": "not a date"}, id="bad-date"),
        pytest.param({"given_names": "\x00", "family_names": "  "}, id="control-characters"),
    ],
)
def test_too_little_to_look_up_is_said(
    services: Services, check: DuplicateCheck, caseworker: Actor, values: dict[str, Any]
) -> None:
    """Missing names or dates give no matches and a note, never an error."""
    register(services, JOSE, HOUSEHOLD)
    result = check.check(caseworker, values)
    assert result.matches == ()
    assert any("to look for duplicates" in note for note in result.notes)


def test_missing_date_still_finds_by_name_and_id(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """Without a birth date the ID and the full name still find the registered person."""
    original = register(services, JOSE, HOUSEHOLD)
    result = check.check(caseworker, {**JOSE, "date_of_birth": None}, HOUSEHOLD)
    assert [m.person_id for m in result.matches] == [original]
    assert result.matches[0].evidence[2].level == "missing"


def test_non_latin_scripts_do_not_crash(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """Cyrillic, Arabic and Chinese names are compared like any other."""
    person = {
        "given_names": "Дмитрий",
        "family_names": "Иванов",
        "date_of_birth": "1990-05-06",
        "sex": "male",
        "relationship_to_head": "head",
    }
    original = register(services, person, HOUSEHOLD)
    assert [m.person_id for m in check.check(caseworker, person, HOUSEHOLD).matches] == [original]
    typo = check.check(caseworker, {**person, "given_names": "Дмитри"}, HOUSEHOLD)
    assert [m.person_id for m in typo.matches] == [original]
    for given, family in (("محمد", "علي"), ("伟", "王")):
        result = check.check(caseworker, {**person, "given_names": given, "family_names": family})
        assert result.matches == ()


def test_each_match_shown_is_logged_as_a_read_of_that_person(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """The check is logged, and so is each match shown, in the matched person's name."""
    original = register(services, JOSE, HOUSEHOLD)
    check.check(caseworker, JOSE, HOUSEHOLD)
    [checked] = entries(services, Tag.DEDUP_REGISTRY_CHECK)
    assert checked.subject_type == "registry" and checked.actor == caseworker.username
    [shown] = entries(services, Tag.DEDUP_CANDIDATE_READ)
    assert shown.subject_id == original and shown.purpose == "registration"
    assert set(json.loads(shown.fields)) == set(COMPARED_FIELDS)


def test_purpose_without_registration_is_refused(services: Services, check: DuplicateCheck) -> None:
    """Only registration purposes may check; a refusal is logged."""
    with pytest.raises(PurposeNotAllowed):
        check.check(actor(Role.CASEWORKER, Purpose.APPEAL_REVIEW), JOSE, HOUSEHOLD)
    assert entries(services, Tag.DEDUP_REGISTRY_CHECK)[0].outcome == "denied"


def test_registering_a_likely_duplicate_needs_a_confirmation(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """409 with the matches; registered with a reason, which is stored and logged."""
    original = register(services, JOSE, HOUSEHOLD)
    member = MemberInput({**JOSE, "national_id": None})
    with pytest.raises(LikelyDuplicates) as refused:
        check.register_household(caseworker, HOUSEHOLD, [member])
    assert refused.value.status == 409
    assert refused.value.details["matches"][0]["person_id"] == original
    with pytest.raises(InvalidInput):
        check.register_household(caseworker, HOUSEHOLD, [member], not_duplicate_reason="x")

    household, flagged = check.register_household(
        caseworker, HOUSEHOLD, [member], not_duplicate_reason="twin brother, seen in person"
    )
    [(index, result)] = flagged
    assert index == 0 and result.matches[0].person_id == original
    [confirmation] = check.confirmations(household.members[0].id)
    assert confirmation["matched_person_id"] == original
    assert confirmation["reason"] == "twin brother, seen in person"
    assert entries(services, Tag.DEDUP_CANDIDATE_DISMISS)[0].subject_id == original


def test_a_new_person_registers_without_confirmation(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """No likely match: the household is registered and nothing is confirmed."""
    register(services, JOSE, HOUSEHOLD)
    other = {**JOSE, "given_names": "Rosa", "family_names": "Mamani", "sex": "female"}
    other["date_of_birth"], other["national_id"] = "1990-01-02", "71000000"
    household, flagged = check.register_household(caseworker, HOUSEHOLD, [MemberInput(other)])
    assert flagged == []
    assert check.confirmations(household.members[0].id) == []
    with services.uow() as uow:
        assert uow.connection.execute(select(dedup_check_confirmations)).first() is None


def test_add_member_checks_against_the_household(
    services: Services, check: DuplicateCheck, caseworker: Actor
) -> None:
    """Adding the head again as a member is refused until confirmed."""
    original = register(services, JOSE, HOUSEHOLD)
    household_id = services.registry.get_person(
        actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), original
    ).household_id
    again = MemberInput({**JOSE, "relationship_to_head": "sibling", "national_id": None})
    with pytest.raises(LikelyDuplicates):
        check.add_member(caseworker, household_id, again)
    person, result = check.add_member(
        caseworker, household_id, again, not_duplicate_reason="twins, both present"
    )
    assert result.matches[0].person_id == original and person.id != original


def test_import_rows_that_look_like_registered_people_are_listed(
    services: Services, check: DuplicateCheck
) -> None:
    """check_table names the file rows (1-based) that look like someone registered."""
    administrator = actor(Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION)
    assert check.check_table(administrator, pa.table({"given_names": ["José"]})) == []
    original = register(services, JOSE, HOUSEHOLD)
    rows = [
        {**JOSE, **HOUSEHOLD, "given_names": "Rosa", "date_of_birth": "1999-09-09"}
        | {
            "national_id": None,
            "sex": "female",
        },
        {**JOSE, **HOUSEHOLD, "given_names": "JOSE ANTONIO"},
    ]
    [found] = check.check_table(administrator, pa.Table.from_pylist(rows))
    assert found.row == 2 and found.matches[0].person_id == original


def test_trained_model_of_the_latest_run_is_used(services: Services, caseworker: Actor) -> None:
    """After a run the check scores with that run's model and finds a held-back duplicate."""
    population = generate(people=1500, seed=31)
    truth = population.truth.to_pylist()
    held = next(i for i, t in enumerate(truth) if t["duplicate_of"] and t["errors"] != "none")
    keep = pa.array([i != held for i in range(population.people)])
    services.importer.import_table(
        actor(Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION), population.records.filter(keep)
    )
    summary = Deduplication(services.uow()).run(
        actor(Role.CASEWORKER, Purpose.DUPLICATE_REVIEW),
        options=LinkageOptions(u_max_pairs=2e5, em_max_pairs=1e5, threads=2),
    )
    with services.uow() as uow:
        original = uow.connection.execute(
            select(people.c.id).where(people.c.record_ref == truth[held]["duplicate_of"])
        ).scalar_one()
    row = population.records.slice(held, 1).to_pylist()[0]
    result = services.duplicate_check.check(caseworker, row, row)
    assert result.run_id == summary.id and result.trained
    assert original in [m.person_id for m in result.matches]


def test_python_scores_agree_with_splink() -> None:
    """Levels, weights and probabilities match Splink's for every pair it scores."""
    population = generate(people=1500, seed=37)
    records = population.records
    table = pa.table(
        {"person_id": records["record_ref"], **{c: records[c] for c in INPUT_COLUMNS[1:]}}
    )
    result = link(
        table,
        Thresholds(upper=0.99, lower=1e-300),
        LinkageOptions(u_max_pairs=2e5, em_max_pairs=1e5, threads=2),
    )
    model = CheckModel.from_settings(result.model, "run", result.term_frequencies)
    prepared = {row["person_id"]: prepare(row) for row in table.to_pylist()}
    pairs = result.pairs.to_pylist()
    assert len(pairs) > 40
    levels_seen = set()
    for pair in pairs:
        scored = score(model, prepared[pair["person_a"]], prepared[pair["person_b"]])
        evidence = json.loads(pair["evidence"])
        for item in scored.evidence:
            assert item.level == evidence[item.field]["level"], (pair, item)
            assert item.match_weight == pytest.approx(
                evidence[item.field]["match_weight"], abs=1e-3
            )
            levels_seen.add((item.field, item.level))
        assert scored.match_weight == pytest.approx(pair["match_weight"], abs=1e-6)
        assert scored.match_probability == pytest.approx(pair["match_probability"], abs=1e-9)
    assert len(levels_seen) > 15, levels_seen  # many levels, not only exact matches


def test_cli_check_and_import_list_likely_matches(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`dedup check` prints the match; `registry import` lists the row; a bad date exits 2."""
    monkeypatch.setattr(dedup_cli, "services", lambda: services)
    monkeypatch.setattr(registry_cli, "services", lambda: services)
    monkeypatch.setenv("FAIRSHARE_ACTOR", "test-operator")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    register(services, JOSE, HOUSEHOLD)
    checked = runner.invoke(
        app,
        ["dedup", "check", "--given-names", "JOSE ANTONIO", "--family-names", "Perez Quispe",
         "--date-of-birth", "1984-03-11", "--municipality", "Huancayo"],
    )  # fmt: skip
    assert checked.exit_code == 0, checked.output
    assert "Pérez Quispe" in checked.output and "untrained defaults" in checked.output
    bad = runner.invoke(app, ["dedup", "check", "--family-names", "P", "--date-of-birth", "84"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output

    path = tmp_path / "people.csv"
    pa_csv.write_csv(
        pa.Table.from_pylist([{**JOSE, **HOUSEHOLD, "national_id": None, "sex": "male"}]), path
    )
    imported = runner.invoke(app, ["registry", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    assert "1 rows look like people registered before the import" in imported.output
