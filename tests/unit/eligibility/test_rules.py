"""The rule language: what parses and checks, and the errors for what does not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fairshare.catalogue.model import CORE_FIELDS, Catalogue, Entity, FieldDefinition, FieldType
from fairshare.eligibility.rules import (
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_SOURCE_LENGTH,
    Binary,
    Comprehension,
    Count,
    Field,
    Literal,
    Logical,
    Rule,
    RuleError,
    Target,
    parse_rule,
    render,
)
from fairshare.errors import InvalidInput

P, H = Target.PERSON, Target.HOUSEHOLD

CUSTOM_FIELDS = (
    FieldDefinition(
        "years_schooling", "Years of schooling", FieldType.INTEGER, Entity.PERSON, "means test"
    ),
    FieldDefinition("rooms", "Rooms in the dwelling", FieldType.INTEGER, Entity.HOUSEHOLD, "need"),
    FieldDefinition(
        "registered_on", "Date registered", FieldType.DATE, Entity.HOUSEHOLD, "waiting lists"
    ),
    # Planted past the catalogue guard, to show the rule checker refuses them on its own.
    FieldDefinition("church_member", "Church member", FieldType.BOOLEAN, Entity.PERSON, "x"),
    FieldDefinition("group_code", "Political party", FieldType.TEXT, Entity.PERSON, "x"),
)
CATALOGUE = Catalogue.of(CORE_FIELDS + CUSTOM_FIELDS)
DECLARED = (
    "date_of_birth",
    "sex",
    "monthly_income",
    "disability",
    "chronic_illness",
    "employment_status",
    "relationship_to_head",
    "years_schooling",
    "region",
    "owns_vehicle",
    "dwelling_type",
    "rooms",
    "land_hectares",
    "registered_on",
    "church_member",
    "group_code",
)
PROGRAMMES = ("pension", "food_basket")


def parse(
    source: str,
    target: Target = P,
    declared: tuple[str, ...] = DECLARED,
    programmes: tuple[str, ...] = PROGRAMMES,
) -> Rule:
    return parse_rule(
        source, target=target, catalogue=CATALOGUE, declared=declared, programmes=programmes
    )


GOOD = [
    ("age >= 65 && monthly_income < 150", P),
    ('age >= 65 && monthly_income < 150.00 && !enrolled("pension")', P),
    ("household.members.filter(m, m.age < 5).size() > 0 && household.income_per_person < 120", P),
    ("members.filter(m, m.age < 5).size() > 0 && income_per_person < 120.00", H),
    ('members.exists(m, m.disability != "none")', H),
    ("members.all(m, m.age >= 18)", H),
    ('members.exists_one(m, m.relationship_to_head == "head")', H),
    ("!owns_vehicle && size >= 3", H),
    ('region in ["costa", "sierra", "oriente"]', H),
    ('dwelling_type in ["informal_settlement", "shelter"] || rooms <= 1', H),
    ('sex == "female" ? age >= 60 : age >= 65', P),
    ("household.total_income < 300 * household.size", P),
    ("monthly_income / 2 < 75.5", P),
    ("years_schooling % 2 == 0", P),
    ("-monthly_income < -10", P),
    ("monthly_income == null || monthly_income < 100", P),
    ("household.owns_vehicle != null && !household.owns_vehicle", P),
    ('region.startsWith("co") || region.endsWith("ra") || region.contains("ent")', H),
    ('region.lowerAscii() == "costa"', H),
    ("region.size() > 2 && size(region) < 40", H),
    ('date_of_birth < date("1960-01-01")', P),
    ('registered_on >= date("2024-01-31")', H),
    ("land_hectares < 1.5 && land_hectares >= 0", H),
    ('(age > 5 || age < 2) && (monthly_income < 100 || employment_status == "unemployed")', P),
    ('chronic_illness in ["diabetes", "hypertension"] && age >= 40', P),
    ("household.members.size() >= 5", P),
    ("members.exists(m, m.age > 60 && members.exists(n, n.age < 10))", H),
    ('enrolled("food_basket") || enrolled("pension")', H),
    ("age in [60, 61, 62.5]", P),
    ("true", P),
    ("age >= 65 // comments are ignored", P),
    ('\'single quotes\' == r"raw" || """triple""" != \'x\'', P),
    ("0x10 < age", P),
    ("owns_vehicle == false", H),
]


@pytest.mark.parametrize(("source", "target"), GOOD)
def test_good_rules_parse(source: str, target: Target) -> None:
    """Each rule in the good table parses, checks, and renders back to an equal AST."""
    rule = parse(source, target)
    assert rule.source == source
    assert rule.target is target
    assert len(rule.content_hash) == 64
    assert parse(render(rule.expression), target).expression == rule.expression


BAD = [
    # does not parse
    ("age >", "ends too early", 6),
    ("age = 65", "compare with `==`", 5),
    ("age >= 65 & monthly_income < 3", "`&&`", 11),
    ("sex == 'female", "closing quote", 8),
    ("age >= 65 &&", "ends too early", 13),
    ("(age > 5", "ends too early", 9),
    # unknown, undeclared and refused fields
    ('religion == "x"', "religion or belief", 1),
    ("church_member", "religion or belief", 1),
    ('group_code == "a"', "party membership", 1),
    ('household.members.exists(m, m.political_party == "x")', "party membership", 31),
    ("national_id == 1", "not declared by this programme", 1),
    ("age > 3 && phone_number == 1", "unknown name 'phone_number'", 12),
    ('region == "costa"', "household field; write household.region", 1),
    ("household.sex == 1", "person field", 11),
    ("size > 3", "household.size", 1),
    ("members.size() > 3", "write household.members", 1),
    ("household == 1", "`household` is not a value", 1),
    ('household.region == "costa"', "targets households", 1, H),
    ("household.members.exists(m, m > 1)", "stands for a household member", 29),
    # type errors
    ('age > "abc"', "cannot compare 'age' (a whole number) with '\"abc\"' (text)", 7),
    ('sex == "hombre"', "female, male, other", 8),
    ('sex in ["female", "mujer"]', "female, male, other", 19),
    ('disability != "blind"', "none, physical, visual", 15),
    ('sex + "x" == "y"', "`+` needs numbers", 1),
    ("monthly_income && age > 3", "must be true or false", 1),
    ("!age", "operand of `!`", 2),
    ("date_of_birth > 1960", "write a date as date(", 17),
    ("age in 5", "`in` needs a list", 8),
    ('age in [1, "a"]', "mixed types", 12),
    ("age in [1, age]", "values written out", 12),
    ("age", "must be true or false", 1),
    ("monthly_income * 2", "must be true or false", 1),
    ('age > 3 ? 1 : "x"', "same type", 15),
    ('sex < "male"', "no order", 1),
    ("owns_vehicle > true", "cannot be ordered", 16, H),
    ("age < null", "null can only be tested", 7),
    ('date("01/02/2024") < date_of_birth', "is not a date", 6),
    ("region.startsWith(1)", ".startsWith() needs text", 19, H),
    ('age.startsWith("1")', "works on text", 1),
    ("size(age) > 1", "size() counts text characters", 6),
    # division
    ("monthly_income / household.size < 3", "a field that can be zero", 18),
    ("total_income / size < 120", "income_per_person", 16, H),
    ("monthly_income / 0 > 1", "by zero", 18),
    ("monthly_income % 2 == 1", "whole numbers only", 18),
    ("age % years_schooling == 0", "a field that can be zero", 7),
    # unsupported constructs
    ('{"a": 1}.size() > 0', "maps and messages", 1),
    ("has(age)", "function 'has' is not available", 1),
    ('sex.matches("f.*")', "regular expressions", 5),
    ('timestamp("2020-01-01T00:00:00Z") > 1', "function 'timestamp'", 1),
    ("household.members[0].age > 3", "indexing", 1),
    ("age > 5u", "unsigned", 7),
    ('b"x" == b"y"', "bytes", 1),
    ("[1, 2].exists(x, x > 1)", "over the household members only", 1),
    ("household.members.exists(m)", "a variable and a condition", 1),
    ("household.members.exists(m.age, true)", "must be a variable name", 26),
    ("household.members.exists(age, true)", "already a name", 26),
    ("household.members.map(m, m.age).size() > 0", "function 'map'", 19),
    # enrolled
    ('enrolled("fuel")', "may not depend on", 10),
    ("enrolled(sex)", "takes text written in the rule", 10),
    # derived names need their source fields
    ("age > 3", "declare date_of_birth", 1, P, ("sex",)),
    ("household.income_per_person < 3", "declare monthly_income", 11, P, ("sex",)),
    # limits
    ("age > 1000000000000000000", "too large", 7),
    ("monthly_income < 1.1234567", "decimal places", 18),
]


@pytest.mark.parametrize("case", BAD, ids=[case[0][:40] for case in BAD])
def test_bad_rules_are_refused_with_position(case: tuple) -> None:  # type: ignore[type-arg]
    """Each rule in the bad table raises RuleError naming the problem at the right column."""
    source, fragment, column, *rest = case
    target = rest[0] if rest else P
    declared = rest[1] if len(rest) > 1 else DECLARED
    with pytest.raises(RuleError) as caught:
        parse(source, target, declared)
    error = caught.value
    assert fragment in str(error), str(error)
    assert error.column == column, str(error)
    assert error.line == 1
    assert str(error).startswith(f"line 1, column {column}: ")


def test_rule_error_is_invalid_input_with_details() -> None:
    """RuleError is an InvalidInput (HTTP 422, exit 2) carrying position, line and column."""
    with pytest.raises(InvalidInput) as caught:
        parse("age >= 65 &&\n  religion == 1")
    error = caught.value
    assert isinstance(error, RuleError)
    assert (error.status, error.exit_code) == (422, 2)
    assert (error.line, error.column, error.position) == (2, 3, 15)
    assert error.errors[0]["line"] == 2


def test_undeclared_field_message_lists_declared_fields() -> None:
    """The message for an undeclared field names it and lists what the programme declares."""
    with pytest.raises(RuleError) as caught:
        parse("age >= 65 && national_id == 1", declared=("date_of_birth", "region"))
    message = str(caught.value)
    assert "'national_id'" in message
    assert "date_of_birth, age, household.region" in message


def test_refused_field_is_refused_even_when_declared() -> None:
    """A red-line field planted in the catalogue and declared still cannot be used."""
    with pytest.raises(RuleError, match="religion or belief"):
        parse("church_member == true", declared=("church_member",))


def test_source_length_limit() -> None:
    """A rule over MAX_SOURCE_LENGTH characters is refused before parsing."""
    source = "age > 1 || " * (MAX_SOURCE_LENGTH // 11) + "age > 2"
    with pytest.raises(RuleError, match="characters long"):
        parse(source)


def test_nesting_limit() -> None:
    """Nesting deeper than MAX_DEPTH is refused; just under the limit is accepted."""
    deep = "(" * 40 + "age" + ")" * 40 + " > 1"
    with pytest.raises(RuleError, match="nests more than 32"):
        parse(deep)
    with pytest.raises(RuleError, match="nests more than"):
        parse("!" * 40 + "true")
    with pytest.raises(RuleError, match="nests more than"):
        parse(" + ".join(["age"] * 40) + " > 1")
    parse("(" * (MAX_DEPTH - 4) + "age" + ")" * (MAX_DEPTH - 4) + " > 1")


def test_deep_nesting_at_the_source_limit_does_not_crash() -> None:
    """Thousands of parentheses give a clean RuleError, not a RecursionError."""
    count = (MAX_SOURCE_LENGTH - 10) // 2
    with pytest.raises(RuleError, match="nests"):
        parse("(" * count + "age" + ")" * count + " > 1")


def test_list_limit() -> None:
    """List literals are limited to MAX_LIST_ITEMS items."""
    items = ", ".join(str(i) for i in range(MAX_LIST_ITEMS))
    parse(f"age in [{items}]")
    with pytest.raises(RuleError, match="the limit is 500"):
        parse(f"age in [{items}, 1000]")


def test_node_limit() -> None:
    """Many short clauses within the length limit run into the node limit."""
    source = " || ".join(["age in [1,2,3]"] * 400)
    with pytest.raises(RuleError, match="more than 2000 parts"):
        parse(source)


def test_member_aggregate_limit() -> None:
    """At most 20 member macros per rule."""
    source = " && ".join(["household.members.exists(m, m.age > 1)"] * 21)
    with pytest.raises(RuleError, match="more than 20"):
        parse(source)


def test_nested_division_limit() -> None:
    """Divisions nested more than three deep are refused."""
    parse("monthly_income / 2 / 2 / 2 > 1")
    with pytest.raises(RuleError, match="nested more than 3"):
        parse("monthly_income / 2 / 2 / 2 / 2 > 1")


def test_fields_used_include_sources_of_derived_facts() -> None:
    """fields_used lists catalogue fields read, including date_of_birth for age."""
    rule = parse(
        "household.members.exists(m, m.age < 5) && household.income_per_person < 120 && "
        'household.region == "costa"'
    )
    assert rule.fields_used == ("date_of_birth", "monthly_income", "region")
    assert rule.programmes_used == ()
    assert parse('!enrolled("pension") && enrolled("food_basket")').programmes_used == (
        "food_basket",
        "pension",
    )
    assert parse("household.size > 2").fields_used == ()


def test_content_hash_ignores_layout_but_not_meaning() -> None:
    """Whitespace, comments and redundant parentheses keep the hash; content changes it."""
    base = parse("age >= 65 && monthly_income < 150")
    assert parse("(age>=65)   &&\n monthly_income < 150 // pension").content_hash == (
        base.content_hash
    )
    assert parse("age >= 66 && monthly_income < 150").content_hash != base.content_hash
    assert parse("age >= 65 && monthly_income < 150", declared=DECLARED[:5]).content_hash != (
        base.content_hash
    )


def test_clauses_flatten_the_top_level_chain() -> None:
    """clauses() gives the && operands in order, each with its source text."""
    rule = parse('age >= 65 && (monthly_income < 150 && sex == "female") && (age < 3 || age > 4)')
    texts = [clause.text for clause in rule.clauses()]
    assert texts == ["age >= 65", "monthly_income < 150", 'sex == "female"', "age < 3 || age > 4"]
    assert rule.connective == "&&"
    single = parse("age >= 65")
    assert [c.text for c in single.clauses()] == ["age >= 65"]
    assert single.connective is None


def test_ast_is_typed_and_whitelisted() -> None:
    """The AST holds typed nodes: decimals as Decimal, members macros as Count/Comprehension."""
    rule = parse("household.members.filter(m, m.age < 5).size() > 0 && monthly_income < 85.50")
    root = rule.expression
    assert isinstance(root, Logical)
    first, second = root.operands
    assert isinstance(first, Binary) and isinstance(first.left, Count)
    assert isinstance(first.left.source, Comprehension)
    assert isinstance(second, Binary) and isinstance(second.right, Literal)
    assert second.right.value == Decimal("85.50")
    assert isinstance(second.left, Field) and second.left.type.scale == 2


def test_negative_literals_fold() -> None:
    """-5 is a literal, and strings decode CEL escapes."""
    rule = parse('age > -5 && sex != "\\u0066emale"')
    assert isinstance(rule.expression, Logical)
    comparison = rule.expression.operands[0]
    assert isinstance(comparison, Binary) and isinstance(comparison.right, Literal)
    assert comparison.right.value == -5
    with pytest.raises(RuleError, match="choices"):
        parse('sex != "female\\n"')


def test_rule_error_survives_pickling() -> None:
    """RuleError can cross process boundaries (batch workers) with its position intact."""
    import pickle

    with pytest.raises(RuleError) as caught:
        parse("age > ")
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own object
    assert (copy.line, copy.column, str(copy)) == (1, 6, str(caught.value))
