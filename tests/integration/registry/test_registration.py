"""Registering, reading and changing people and households through the registry service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from fairshare.audit import services as audit_services
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.catalogue.model import UnknownField
from fairshare.catalogue.redline import RedLineCategory, RefusedField
from fairshare.errors import Conflict, InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.keys import KeyDirectoryError
from fairshare.registry.model import ConsentRequired, UnknownHousehold, UnknownPerson
from fairshare.registry.orm import health_values, households, people, record_changes
from fairshare.registry.services import MemberInput
from tests.conftest import actor

HOUSEHOLD = {"region": "Sierra Central", "address": "Calle Los Álamos 12", "owns_vehicle": "no"}


def head(**overrides: Any) -> MemberInput:
    values = {
        "given_names": "María José",
        "family_names": "Pérez Quispe",
        "date_of_birth": "1958-07-21",
        "sex": "female",
        "relationship_to_head": "head",
        "monthly_income": "85.50",
        "national_id": "10203040",
    }
    consent = overrides.pop("health_consent", False)
    values.update(overrides)
    return MemberInput(values, health_consent=consent)


def child(**overrides: Any) -> MemberInput:
    values = {
        "given_names": "Lucía",
        "family_names": "Pérez Quispe",
        "date_of_birth": "2019-02-03",
        "sex": "female",
        "relationship_to_head": "grandchild",
    }
    values.update(overrides)
    return MemberInput(values)


def count(services: Services, table: Any) -> int:
    with services.uow() as uow:
        return int(uow.connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_register_household_stores_members_and_logs_each(
    services: Services, caseworker: Actor
) -> None:
    """A household and its members are stored together, each creation in the access log."""
    before = count(services, access_log)
    household = services.registry.register_household(caseworker, HOUSEHOLD, [head(), child()])
    assert len(household.members) == 2
    assert household.values["owns_vehicle"] is False
    assert count(services, access_log) == before + 3
    reader = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
    person = services.registry.get_person(reader, household.members[0].id)
    assert person.values["family_names"] == "Pérez Quispe"
    assert str(person.values["monthly_income"]) == "85.50"


def test_failed_registration_leaves_nothing(services: Services, caseworker: Actor) -> None:
    """A household whose second member is invalid is not stored at all, nor logged."""
    before = (count(services, households), count(services, people), count(services, access_log))
    with pytest.raises(InvalidInput) as error:
        services.registry.register_household(
            caseworker, HOUSEHOLD, [head(), child(date_of_birth="2999-01-01")]
        )
    assert "future" in str(error.value)
    assert error.value.errors[0]["field"] == "date_of_birth"
    after = (count(services, households), count(services, people), count(services, access_log))
    assert after == before


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"given_names": "A" * 101}, "given_names", "limit is 100"),
        ({"given_names": "Ana\x00"}, "given_names", "control characters"),
        ({"family_names": "Rojas\nDROP"}, "family_names", "control characters"),
        ({"date_of_birth": "21/07/1958"}, "date_of_birth", "YYYY-MM-DD"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "future"),
        ({"monthly_income": "-4"}, "monthly_income", "at least 0"),
        ({"monthly_income": "abc"}, "monthly_income", "number"),
        ({"monthly_income": True}, "monthly_income", "number"),
        ({"sex": "unknown"}, "sex", "not allowed"),
        ({"given_names": 12}, "given_names", "must be text"),
        ({"given_names": ""}, "given_names", "required"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(
    services: Services, caseworker: Actor, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    """Wrong types, oversize strings, control characters and future births name the field."""
    with pytest.raises(InvalidInput) as error:
        services.registry.register_household(caseworker, HOUSEHOLD, [head(**overrides)])
    problems = {e["field"]: e["reason"] for e in error.value.errors}
    assert field in problems
    assert fragment in problems[field]


def test_undeclared_field_is_refused(services: Services, caseworker: Actor) -> None:
    """A write that carries a field the catalogue does not declare is refused, not stored."""
    before = count(services, people)
    with pytest.raises(UnknownField) as error:
        services.registry.register_household(caseworker, HOUSEHOLD, [head(favourite_colour="blue")])
    assert "favourite_colour" in str(error.value)
    assert error.value.status == 422
    assert count(services, people) == before


def test_undeclared_red_line_field_names_its_category(
    services: Services, caseworker: Actor
) -> None:
    """A write carrying a refused-category field is refused naming the category."""
    before = count(services, people)
    with pytest.raises(RefusedField) as error:
        services.registry.register_household(caseworker, HOUSEHOLD, [head(religion="catholic")])
    assert error.value.category is RedLineCategory.RELIGION
    assert "religion" in str(error.value)
    assert count(services, people) == before


def test_household_needs_exactly_one_head(services: Services, caseworker: Actor) -> None:
    """Households with no head or two heads are refused."""
    with pytest.raises(InvalidInput, match="exactly one"):
        services.registry.register_household(caseworker, HOUSEHOLD, [child()])
    with pytest.raises(InvalidInput, match="exactly one"):
        services.registry.register_household(caseworker, HOUSEHOLD, [head(), head()])


def test_unknown_household_is_refused(services: Services, caseworker: Actor) -> None:
    """Adding a member to a household that does not exist says so."""
    with pytest.raises(UnknownHousehold):
        services.registry.add_member(caseworker, "no-such-household", child())


def test_health_values_need_consent_and_are_sealed(services: Services, caseworker: Actor) -> None:
    """Health values without consent are refused; with consent they are stored encrypted."""
    with pytest.raises(ConsentRequired):
        services.registry.register_household(caseworker, HOUSEHOLD, [head(disability="visual")])
    household = services.registry.register_household(
        caseworker, HOUSEHOLD, [head(disability="visual", health_consent=True)]
    )
    person_id = household.members[0].id
    with services.uow() as uow:
        sealed = uow.connection.execute(
            select(health_values.c.sealed).where(health_values.c.person_id == person_id)
        ).scalar_one()
    assert "visual" not in sealed
    assert sealed.startswith("v1.")


def test_health_values_shown_only_for_health_purposes(
    services: Services, caseworker: Actor
) -> None:
    """Case management sees no health data; health assessment and the person do."""
    household = services.registry.register_household(
        caseworker, HOUSEHOLD, [head(chronic_illness="diabetes", health_consent=True)]
    )
    person_id = household.members[0].id
    case = services.registry.get_person(actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), person_id)
    assert case.health == {}
    health = services.registry.get_person(
        actor(Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT), person_id
    )
    assert health.health == {"chronic_illness": "diabetes"}
    own = services.registry.get_person(
        actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id), person_id
    )
    assert own.health == {"chronic_illness": "diabetes"}


def test_withdrawing_consent_erases_health_values(services: Services, caseworker: Actor) -> None:
    """Withdrawn consent removes the health values and their old values from the history."""
    household = services.registry.register_household(
        caseworker, HOUSEHOLD, [head(disability="physical", health_consent=True)]
    )
    person_id = household.members[0].id
    nurse = actor(Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT)
    services.registry.update_person(
        nurse, person_id, {"disability": "multiple"}, "assessment visit"
    )
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id)
    assert services.registry.withdraw_consent(citizen, person_id) == 1
    assert services.registry.get_person(nurse, person_id).health == {}
    with services.uow() as uow:
        sealed_history = uow.connection.execute(
            select(record_changes).where(
                record_changes.c.subject_id == person_id, record_changes.c.sealed.is_(True)
            )
        ).all()
    assert sealed_history
    assert all(row.old_value is None and row.new_value is None for row in sealed_history)
    with pytest.raises(ConsentRequired):
        services.registry.update_person(nurse, person_id, {"disability": "visual"}, "again")


def test_update_keeps_history_with_reason(services: Services, caseworker: Actor) -> None:
    """A change records who changed what, when, why, and the old value."""
    household = services.registry.register_household(caseworker, HOUSEHOLD, [head()])
    person_id = household.members[0].id
    manager = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="ana.caseworker")
    with pytest.raises(InvalidInput, match="reason"):
        services.registry.update_person(manager, person_id, {"monthly_income": "90"}, "")
    updated = services.registry.update_person(
        manager, person_id, {"monthly_income": "90"}, "new payslip"
    )
    assert updated.version == 2
    entries = services.registry.history(manager, person_id)
    assert [(e.field, e.old, e.new, e.actor, e.reason) for e in entries] == [
        ("monthly_income", "85.50", "90.00", "ana.caseworker", "new payslip")
    ]
    with pytest.raises(Conflict, match="reload"):
        services.registry.update_person(
            manager, person_id, {"monthly_income": "95"}, "stale edit", expected_version=1
        )


def test_search_is_required_and_accent_insensitive(services: Services, caseworker: Actor) -> None:
    """Searching needs a criterion; 'perez' finds 'Pérez'; each result is logged."""
    services.registry.register_household(caseworker, HOUSEHOLD, [head()])
    manager = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
    with pytest.raises(InvalidInput, match="search"):
        services.registry.search(manager)
    before = count(services, access_log)
    results = services.registry.search(manager, name="perez quispe maria")
    assert [r.given_names for r in results] == ["María José"]
    assert count(services, access_log) == before + 1
    assert services.registry.search(manager, national_id="10203040")[0].id == results[0].id


def test_purpose_outside_role_is_refused_and_logged(services: Services, caseworker: Actor) -> None:
    """A merchant asking for case data gets 403, and the refusal is in the access log."""
    household = services.registry.register_household(caseworker, HOUSEHOLD, [head()])
    person_id = household.members[0].id
    merchant = actor(Role.MERCHANT, Purpose.CASE_MANAGEMENT)
    with pytest.raises(PurposeNotAllowed) as error:
        services.registry.get_person(merchant, person_id)
    assert error.value.status == 403
    with services.uow() as uow:
        denied = uow.connection.execute(
            select(access_log).where(
                access_log.c.subject_id == person_id, access_log.c.outcome == "denied"
            )
        ).all()
    assert [(d.actor, d.purpose) for d in denied] == [("test-merchant", "case_management")]


def test_citizen_sees_only_own_record(services: Services, caseworker: Actor) -> None:
    """A citizen can read their own record and household, not a neighbour's."""
    mine = services.registry.register_household(caseworker, HOUSEHOLD, [head(), child()])
    other = services.registry.register_household(caseworker, HOUSEHOLD, [head(national_id="999")])
    me = mine.members[0].id
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, me)
    assert services.registry.get_person(citizen, me).id == me
    _, members = services.registry.get_household(citizen, mine.id)
    assert {m.id for m in members} == {m.id for m in mine.members}
    with pytest.raises(PurposeNotAllowed):
        services.registry.get_person(citizen, other.members[0].id)
    with pytest.raises(PurposeNotAllowed):
        services.registry.get_household(citizen, other.id)


def test_corrections_flow_from_request_to_record(services: Services, caseworker: Actor) -> None:
    """A citizen asks for a correction; a caseworker applies it; history cites the request."""
    household = services.registry.register_household(caseworker, HOUSEHOLD, [head()])
    me = household.members[0].id
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, me)
    request = services.registry.request_correction(
        citizen, me, "given_names", "María Josefa", "my name is spelled wrong"
    )
    handler = actor(Role.CASEWORKER, Purpose.CORRECTION_HANDLING)
    queue = services.registry.corrections(handler)
    assert request.id in {c.id for c in queue}
    decided = services.registry.decide_correction(handler, request.id, True, "checked ID card")
    assert decided.status == "applied"
    assert services.registry.get_person(citizen, me).values["given_names"] == "María Josefa"
    assert services.registry.history(citizen, me)[-1].correction_id == request.id
    with pytest.raises(Conflict):
        services.registry.decide_correction(handler, request.id, False, "twice")


def test_export_holds_everything_and_access_report(services: Services, caseworker: Actor) -> None:
    """A person's export has every field with its purpose, and the accesses to the record."""
    household = services.registry.register_household(
        caseworker, HOUSEHOLD, [head(disability="hearing", health_consent=True), child()]
    )
    me = household.members[0].id
    services.registry.get_person(
        actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="luis.caseworker"), me
    )
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, me)
    data = services.registry.export(citizen, me)
    fields = {f["field"]: f for f in data["fields"]}
    assert fields["disability"]["value"] == "hearing"
    assert fields["disability"]["sensitivity"] == "health"
    assert fields["monthly_income"]["purpose"] == "means test"
    assert {m["relationship_to_head"] for m in data["household"]["members"]} == {
        "head",
        "grandchild",
    }
    assert data["consents"][0]["scope"] == "health"
    readers = {(line["actor"], line["purpose"]) for line in data["access_log"]}
    assert ("luis.caseworker", "case_management") in readers
    report = services.registry.access_report(citizen, me)
    assert report[0].action == "registry:person:export"


def test_unknown_person(services: Services) -> None:
    """Reading a person who does not exist says so (404)."""
    with pytest.raises(UnknownPerson) as error:
        services.registry.get_person(actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), "nobody")
    assert error.value.status == 404


def test_operations_keep_the_chain_valid(services: Services, caseworker: Actor) -> None:
    """After a mix of operations, the access-log chain verifies."""
    household = services.registry.register_household(caseworker, HOUSEHOLD, [head()])
    services.registry.get_person(
        actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT), household.members[0].id
    )
    result = audit_services.verify(services.uow())
    assert result.ok, result.describe()


def test_missing_key_directory_is_not_silently_replaced(
    services: Services, caseworker: Actor, tmp_path: Path
) -> None:
    """With sealed values stored, an empty key directory is an error, not a fresh key."""
    services.registry.register_household(
        caseworker, HOUSEHOLD, [head(disability="visual", health_consent=True)]
    )
    elsewhere = Services(
        services.settings.model_copy(update={"key_dir": tmp_path / "empty"}), services.bind
    )
    with pytest.raises(KeyDirectoryError, match="FAIRSHARE_KEY_DIR"):
        _ = elsewhere.cipher
    assert not list((tmp_path / "empty").glob("*.key"))


def test_unchanged_update_shows_health_only_per_purpose(
    services: Services, caseworker: Actor
) -> None:
    """An edit that changes nothing returns the record as a read would: no health for case work."""
    household = services.registry.register_household(
        caseworker, HOUSEHOLD, [head(chronic_illness="hiv", health_consent=True)]
    )
    person_id = household.members[0].id
    manager = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
    before = count(services, access_log)
    same = services.registry.update_person(
        manager, person_id, {"monthly_income": "85.50"}, "no change"
    )
    assert same.health == {}
    assert count(services, access_log) == before + 1


def test_withdrawing_an_unknown_scope_erases_nothing(services: Services, caseworker: Actor) -> None:
    """Only the health scope exists; another scope is refused and the values stay."""
    household = services.registry.register_household(
        caseworker, HOUSEHOLD, [head(disability="visual", health_consent=True)]
    )
    person_id = household.members[0].id
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id)
    with pytest.raises(InvalidInput, match="scope"):
        services.registry.withdraw_consent(citizen, person_id, "marketing")
    assert services.registry.get_person(citizen, person_id).health == {"disability": "visual"}


def test_withdrawal_clears_health_values_in_corrections(
    services: Services, caseworker: Actor
) -> None:
    """A pending correction carrying a health value loses it when consent is withdrawn."""
    household = services.registry.register_household(
        caseworker, HOUSEHOLD, [head(disability="visual", health_consent=True)]
    )
    person_id = household.members[0].id
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id)
    request = services.registry.request_correction(
        citizen, person_id, "disability", "hearing", "wrong type recorded"
    )
    services.registry.withdraw_consent(citizen, person_id)
    mine = services.registry.corrections(citizen, person_id=person_id, status=None)
    assert [(c.id, c.status, c.requested_value) for c in mine] == [(request.id, "rejected", None)]
