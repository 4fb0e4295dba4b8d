"""evaluate() on hand-made facts, and the explanations it renders in English and Spanish."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from fairshare.eligibility.evaluate import Evaluation, evaluate, facts_from_json
from fairshare.eligibility.explain import explain
from tests.unit.eligibility.test_rules import H, parse

FOOD = "household.members.filter(m, m.age < 5).size() > 0 && household.income_per_person < 120.00"
MARIA = {
    "age": 34,
    "monthly_income": Decimal("255.00"),
    "sex": "female",
    "household": {
        "region": "costa",
        "size": 3,
        "total_income": Decimal("255.00"),
        "income_per_person": Decimal("85.00"),
        "members": [{"age": 34}, {"age": 4}, {"age": 9}],
    },
}


def test_clauses_report_values_and_facts_read() -> None:
    """Each clause carries its text, its value and the facts it read, keyed by path."""
    result = evaluate(parse(FOOD), MARIA)
    assert result.eligible is True
    first, second = result.clauses
    assert first.text == "household.members.filter(m, m.age < 5).size() > 0"
    assert first.value is True
    assert first.facts == {"household.members[age<5].count": 1}
    assert second.facts == {"household.income_per_person": Decimal("85.00")}


def test_english_explanation() -> None:
    """The English explanation names each condition with its values, then the outcome."""
    rule = parse(FOOD)
    lines = explain(rule, evaluate(rule, MARIA))
    assert lines == [
        "the number of household members with age < 5 (1) is above 0 — met",
        "income per person 85.00 is below the limit 120.00 — met",
        "Eligible.",
    ]


def test_spanish_explanation_of_a_refusal() -> None:
    """The Spanish explanation says which condition failed, with the value and the limit."""
    rule = parse(FOOD)
    richer = {**MARIA, "household": {**MARIA["household"], "income_per_person": Decimal("130")}}
    lines = explain(rule, evaluate(rule, richer), "es")
    assert (
        lines[1] == "el ingreso por persona 130 no está por debajo del límite 120.00 — no se cumple"
    )
    assert lines[-1] == "No elegible: no se cumple: household.income_per_person < 120.00."
    english = explain(rule, evaluate(rule, richer), "en")
    assert english[1] == "income per person 130 is not below the limit 120.00 — not met"
    assert english[-1].startswith("Not eligible: not met: household.income_per_person")


def test_spanish_example_sentence() -> None:
    """The example sentence from the issue, word for word."""
    rule = parse("household.income_per_person < 120.00")
    lines = explain(rule, evaluate(rule, MARIA), "es")
    assert lines[0] == (
        "el ingreso por persona 85.00 está por debajo del límite 120.00 — se cumple"
    )
    assert lines[1] == "Elegible."


def test_labels_override_and_missing_values() -> None:
    """Catalogue labels replace field names; a missing value is said to be not recorded."""
    rule = parse("age >= 65 && monthly_income < 150")
    evaluation = evaluate(rule, {"age": 70})
    lines = explain(rule, evaluation, labels={"monthly_income": "income this month"})
    assert lines[0] == "age 70 is at least 65 — met"
    assert lines[1] == "income this month is not recorded — not met"
    assert lines[2] == "Not eligible: not met: monthly_income < 150."


def test_or_rules_summary_and_enrolment_sentences() -> None:
    """For || rules the summary says no condition was met; enrolment reads as a sentence."""
    rule = parse('!enrolled("pension") || age >= 65')
    evaluation = evaluate(rule, {"age": 30}, enrolled=["pension"])
    assert evaluation.eligible is False
    lines = explain(rule, evaluation)
    assert lines[0] == "enrolled in programme pension — not met"
    assert lines[-1] == "Not eligible: none of the conditions was met."
    spanish = explain(rule, evaluation, "es")
    assert spanish[0] == "inscrito en el programa pension — no se cumple"
    assert spanish[-1] == "No elegible: no se cumplió ninguna de las condiciones."


def test_member_macros_and_booleans_explained() -> None:
    """Macros say how many members matched; true/false fields say yes, no or not recorded."""
    rule = parse('members.all(m, m.age >= 18) && !owns_vehicle && region in ["costa"]', H)
    facts = {"owns_vehicle": None, "region": "costa", "members": [{"age": 40}, {"age": 12}]}
    lines = explain(rule, evaluate(rule, facts))
    assert lines[0] == "not all household members have age >= 18 (1 of 2) — not met"
    assert lines[1] == "owns a motor vehicle: not recorded — met"
    assert lines[2] == "region costa is one of costa — met"
    spanish = explain(rule, evaluate(rule, facts), "es")
    assert spanish[1] == "tiene vehículo: no registrado — se cumple"


def test_unknown_language_is_refused() -> None:
    """explain() only speaks English and Spanish."""
    rule = parse("age > 1")
    with pytest.raises(ValueError, match="en, es"):
        explain(rule, evaluate(rule, {"age": 3}), "fr")


def test_missing_values_make_comparisons_false() -> None:
    """A comparison reading a missing value is false, on either side of a negation."""
    assert evaluate(parse("monthly_income < 100"), {}).eligible is False
    assert evaluate(parse("monthly_income >= 100"), {}).eligible is False
    assert evaluate(parse("!(monthly_income < 100)"), {}).eligible is True
    assert evaluate(parse("monthly_income == null"), {}).eligible is True
    assert evaluate(parse("monthly_income + 1 != 5"), {"monthly_income": None}).eligible is False
    assert evaluate(parse("!household.owns_vehicle"), {"household": {}}).eligible is True
    assert evaluate(parse("household.owns_vehicle == false"), {"household": {}}).eligible is False
    assert evaluate(parse("household.members.all(m, m.age > 1)"), {}).eligible is True


def test_arithmetic_is_exact_decimal() -> None:
    """Decimals stay Decimal; division rounds half away from zero to six places."""
    rule = parse("monthly_income * 3 == 0.30 && monthly_income / 3 == 0.033333")
    assert evaluate(rule, {"monthly_income": Decimal("0.10")}).eligible is True
    assert evaluate(parse("years_schooling / 2000000 == 0.000001"), {"years_schooling": 1}).eligible
    assert evaluate(
        parse("-years_schooling / 2000000 == -0.000001"), {"years_schooling": 1}
    ).eligible
    assert evaluate(parse("years_schooling % 3 == -1"), {"years_schooling": -7}).eligible
    assert evaluate(parse("0.1 + 0.2 == 0.3"), {}).eligible


def test_conditional_dates_strings_and_enrolment() -> None:
    """Ternaries, dates, string functions and enrolment evaluate on one record."""
    rule = parse(
        '(sex == "female" ? age >= 60 : age >= 65) && date_of_birth < date("1970-01-01") && '
        'household.region.lowerAscii().startsWith("co") && enrolled("pension")'
    )
    facts = {
        "sex": "female",
        "age": 61,
        "date_of_birth": date(1963, 5, 1),
        "household": {"region": "COSTA"},
    }
    assert evaluate(rule, facts, enrolled={"pension"}).eligible is True
    assert evaluate(rule, {**facts, "enrolled": ["pension"]}).eligible is True
    assert evaluate(rule, facts).eligible is False


def test_facts_from_json_types_values() -> None:
    """Stored JSON facts come back as Decimal, date, lists and enrolment codes."""
    rule = parse(
        'household.members.exists(m, m.monthly_income > 10) && date_of_birth < date("1970-01-01")'
        ' && enrolled("pension") && enrolled("food_basket")'
    )
    text = json.dumps(
        {
            "date_of_birth": "1950-01-02",
            "household": {"members": [{"monthly_income": 12.5}, {"monthly_income": None}]},
            "enrolled": [False, True],  # in the order of rule.programmes_used
        }
    )
    facts = facts_from_json(rule, text)
    assert facts["date_of_birth"] == date(1950, 1, 2)
    assert facts["household"]["members"][0]["monthly_income"] == Decimal("12.50")
    assert facts["enrolled"] == ["pension"]
    evaluation = evaluate(rule, facts)
    assert isinstance(evaluation, Evaluation)
    assert [c.value for c in evaluation.clauses] == [True, True, True, False]
