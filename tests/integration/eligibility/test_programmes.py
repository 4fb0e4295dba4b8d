"""Defining programmes: validation before anything is stored, drafts, immutable versions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from fairshare.assets import UnknownAsset, format_amount, to_minor_units
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.catalogue.model import UnknownField
from fairshare.catalogue.redline import RefusedField
from fairshare.eligibility.model import (
    DeclaredField,
    NothingToPublish,
    NotPublished,
    ProgrammeExists,
    UnknownProgramme,
)
from fairshare.eligibility.orm import programmes, rule_versions
from fairshare.eligibility.rules import RuleError
from fairshare.eligibility.services import Eligibility
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from tests.conftest import actor
from tests.integration.eligibility.conftest import INCOME, PENSION_RULE, pension


def count(services: Services, table: Any) -> int:
    with services.uow() as uow:
        return int(uow.connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("asset", "amount", "minor"),
    [
        ("local_currency", "130.00", 13000),
        ("local_currency", "0.5", 50),
        ("fuel", "40", 40000),
        ("fuel", "12.345", 12345),
        ("food_basket", "1", 1),
        ("medicine_pack", 2, 2),
        ("local_currency", Decimal("7.25"), 725),
    ],
)
def test_amounts_become_integer_minor_units(asset: str, amount: Any, minor: int) -> None:
    """Amounts in the entry unit become exact integers of the asset's minor unit."""
    assert to_minor_units(asset, amount) == minor


@pytest.mark.parametrize(
    ("asset", "amount", "fragment"),
    [
        ("local_currency", "1.005", "2 decimal places"),
        ("food_basket", "1.5", "0 decimal places"),
        ("fuel", 40.0, "text or a whole number"),
        ("fuel", "forty", "not a number"),
    ],
)
def test_bad_amounts_are_refused(asset: str, amount: Any, fragment: str) -> None:
    """Floats, words and extra decimal places are refused with what to write instead."""
    with pytest.raises(InvalidInput, match=fragment):
        to_minor_units(asset, amount)


def test_unknown_asset_and_formatting() -> None:
    """An unknown asset names the known ones; amounts print in the entry unit."""
    with pytest.raises(UnknownAsset, match="local_currency"):
        to_minor_units("gold", "1")
    assert format_amount("fuel", 40000) == "40 litres of fuel"
    assert format_amount("fuel", 40000, "es") == "40 litros de combustible"
    assert format_amount("fuel", 40500) == "40.5 litres of fuel"
    assert format_amount("fuel", 1_250_000) == "1,250 litres of fuel"
    assert format_amount("local_currency", 13000) == "130.00 local currency"
    assert format_amount("food_basket", 1) == "1 food basket"
    assert format_amount("medicine_pack", 2, "es") == "2 paquetes de medicinas"


def test_create_programme_stores_a_draft_and_logs(
    services: Services, eligibility: Eligibility, officer: Actor
) -> None:
    """A valid programme is stored as a draft with its declared fields, and logged."""
    before = count(services, access_log)
    programme = eligibility.create_programme(officer, pension())
    assert programme.benefit == "130.00 local currency monthly"
    assert programme.field_names == ("date_of_birth", "monthly_income")
    assert programme.published_version is None
    assert not programme.needs_health
    overview = eligibility.get_programme("old_age_pension")
    assert overview.programme.declared[1].purpose == INCOME.purpose
    assert overview.versions == ()
    assert count(services, access_log) == before + 1


@pytest.mark.parametrize(
    ("overrides", "error", "fragment"),
    [
        ({"rule": ""}, InvalidInput, "needs an eligibility rule"),
        ({"rule": "   "}, InvalidInput, "needs an eligibility rule"),
        ({"amount": -100}, InvalidInput, "positive amount"),
        ({"amount": 0}, InvalidInput, "positive amount"),
        ({"asset": "bitcoin"}, UnknownAsset, "not known"),
        ({"code": "Old Age!"}, InvalidInput, "lowercase"),
        ({"target": "village"}, InvalidInput, "person' or 'household"),
        ({"period": "weekly"}, InvalidInput, "monthly, quarterly or yearly"),
        ({"rule": "age >= 65 && household_size < 3"}, RuleError, "household_size"),
        ({"rule": "age >= 65 && owns_vehicle == false"}, RuleError, "not declared"),
        ({"rule": 'age > "abc"'}, RuleError, "line 1, column"),
        ({"rule": "age >= 65 &&"}, RuleError, "ends too early"),
        ({"rule": "religion == 'catholic'"}, RuleError, "religion"),
        (
            {"declared": (DeclaredField("voted_last_election", "checking turnout here"),)},
            RefusedField,
            "Refused",
        ),
        (
            {"declared": (DeclaredField("shoe_size", "no reason whatsoever given"),)},
            UnknownField,
            "shoe_size",
        ),
        (
            {"declared": (DeclaredField("monthly_income", "x"),)},
            InvalidInput,
            "purpose",
        ),
    ],
)
def test_invalid_programmes_are_refused_and_nothing_is_stored(
    services: Services,
    eligibility: Eligibility,
    officer: Actor,
    overrides: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    """No rule, a bad amount, asset or field, or a rule that does not check: a clear error."""
    before = count(services, programmes)
    with pytest.raises(error) as raised:
        eligibility.create_programme(officer, pension(**overrides))
    assert fragment in str(raised.value)
    assert count(services, programmes) == before


def test_rule_error_carries_the_position(eligibility: Eligibility, officer: Actor) -> None:
    """A type error in a rule names the line and column where it is."""
    with pytest.raises(RuleError) as raised:
        eligibility.create_programme(officer, pension(rule='age >= 65 &&\n  monthly_income > "x"'))
    assert raised.value.line == 2
    assert raised.value.column > 1
    assert raised.value.errors[0]["field"] == "rule"


def test_codes_are_unique(eligibility: Eligibility, officer: Actor) -> None:
    """A second programme with the same code is refused."""
    eligibility.create_programme(officer, pension())
    with pytest.raises(ProgrammeExists):
        eligibility.create_programme(officer, pension(name="Another pension"))


@pytest.mark.parametrize(
    ("role", "purpose"),
    [
        (Role.MERCHANT, Purpose.REDEMPTION),
        (Role.CASEWORKER, Purpose.CASE_MANAGEMENT),
        (Role.CITIZEN, Purpose.SELF_SERVICE),
    ],
)
def test_only_programme_officers_define_programmes(
    services: Services, eligibility: Eligibility, role: Role, purpose: Purpose
) -> None:
    """Other roles are refused, and the refusal is logged."""
    before = count(services, access_log)
    with pytest.raises(PurposeNotAllowed):
        eligibility.create_programme(actor(role, purpose), pension())
    assert count(services, access_log) == before + 1
    assert count(services, programmes) == 0


def test_published_versions_never_change(
    services: Services, eligibility: Eligibility, officer: Actor
) -> None:
    """A changed rule is a new version with a new hash; the old version stays as it was."""
    eligibility.create_programme(officer, pension())
    first = eligibility.publish(officer, "old_age_pension")
    assert first.version == 1
    assert first.source == PENSION_RULE
    assert first.fields_used == ("date_of_birth", "monthly_income")
    with pytest.raises(NothingToPublish):
        eligibility.publish(officer, "old_age_pension")
    eligibility.update_draft(officer, "old_age_pension", rule="age >= 60 && monthly_income < 150")
    overview = eligibility.get_programme("old_age_pension")
    assert overview.versions[-1] == first  # the draft changed, the published version did not
    second = eligibility.publish(officer, "old_age_pension")
    assert second.version == 2
    assert second.content_hash != first.content_hash
    versions = eligibility.get_programme("old_age_pension").versions
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].source == PENSION_RULE
    assert versions[0].content_hash == first.content_hash
    assert count(services, rule_versions) == 2


def test_same_rule_spelled_differently_has_the_same_hash(
    eligibility: Eligibility, officer: Actor
) -> None:
    """Spacing does not change a rule's content hash; a new amount is still a new version."""
    eligibility.create_programme(officer, pension())
    first = eligibility.publish(officer, "old_age_pension")
    eligibility.update_draft(officer, "old_age_pension", rule="age>=65 &&   monthly_income<150")
    with pytest.raises(NothingToPublish):
        eligibility.publish(officer, "old_age_pension")
    eligibility.update_draft(officer, "old_age_pension", amount=14000)
    second = eligibility.publish(officer, "old_age_pension")
    assert second.content_hash == first.content_hash
    assert (second.version, second.amount) == (2, 14000)


def test_a_bad_draft_change_leaves_the_draft_as_it_was(
    eligibility: Eligibility, officer: Actor
) -> None:
    """An update whose rule does not check is refused and the draft is unchanged."""
    eligibility.create_programme(officer, pension())
    with pytest.raises(RuleError):
        eligibility.update_draft(officer, "old_age_pension", rule="age >=")
    assert eligibility.get_programme("old_age_pension").programme.rule == PENSION_RULE


def test_dependencies_must_exist_and_be_published(eligibility: Eligibility, officer: Actor) -> None:
    """A rule may name another programme only if declared; publishing needs it published."""
    with pytest.raises(InvalidInput, match="do not exist"):
        eligibility.create_programme(
            officer,
            pension(
                code="top_up",
                rule='enrolled("old_age_pension") && age >= 70',
                depends_on=("old_age_pension",),
            ),
        )
    eligibility.create_programme(officer, pension())
    with pytest.raises(RuleError, match="may not depend"):
        eligibility.create_programme(
            officer, pension(code="top_up", rule='enrolled("old_age_pension") && age >= 70')
        )
    eligibility.create_programme(
        officer,
        pension(
            code="top_up",
            rule='!enrolled("old_age_pension") && age >= 70',
            depends_on=("old_age_pension",),
        ),
    )
    with pytest.raises(NotPublished, match="old_age_pension"):
        eligibility.publish(officer, "top_up")


def test_unknown_programme(eligibility: Eligibility, officer: Actor) -> None:
    """Asking for a programme that does not exist says so."""
    with pytest.raises(UnknownProgramme):
        eligibility.get_programme("no_such_programme")
    with pytest.raises(UnknownProgramme):
        eligibility.publish(officer, "no_such_programme")
