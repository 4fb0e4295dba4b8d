"""The SQL compiler: DuckDB results equal evaluate() row by row; other dialects parse back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import duckdb
import pytest
import sqlglot

from fairshare.catalogue.model import Entity, FieldType
from fairshare.eligibility.compile import DIALECTS, compile_rule
from fairshare.eligibility.evaluate import evaluate, facts_from_json
from fairshare.eligibility.rules import Rule, Target
from tests.unit.eligibility.test_rules import CATALOGUE, DECLARED, H, P, parse

_SQL_TYPES = {
    FieldType.TEXT: "VARCHAR",
    FieldType.ENUMERATION: "VARCHAR",
    FieldType.INTEGER: "INTEGER",
    FieldType.DECIMAL: "DECIMAL(14, 2)",
    FieldType.DATE: "DATE",
    FieldType.BOOLEAN: "BOOLEAN",
}
PERSON_FIELDS = tuple(n for n in DECLARED if CATALOGUE.get(Entity.PERSON, n))
HOUSEHOLD_FIELDS = tuple(n for n in DECLARED if CATALOGUE.get(Entity.HOUSEHOLD, n))
CENT = Decimal("0.01")


def _columns(entity: Entity, names: Sequence[str]) -> list[str]:
    columns = []
    for name in names:
        definition = CATALOGUE.get(entity, name)
        assert definition is not None
        columns.append(f'"{name}" {_SQL_TYPES[definition.type]}')
    return columns


def with_derived(
    households: Sequence[Mapping[str, Any]], people: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Households with size, total_income and income_per_person worked out from members."""
    result = []
    for household in households:
        members = [p for p in people if p["household_id"] == household["household_id"]]
        size = len(members)
        total = sum((p.get("monthly_income") or Decimal(0) for p in members), Decimal(0))
        total = total.quantize(CENT)
        per_person = (total / size).quantize(CENT, ROUND_HALF_EVEN) if size else None
        result.append(
            {**household, "size": size, "total_income": total, "income_per_person": per_person}
        )
    return result


def load(
    connection: duckdb.DuckDBPyConnection,
    people: Sequence[Mapping[str, Any]],
    households: Sequence[Mapping[str, Any]],
    enrolments: Iterable[tuple[str, str]] = (),
) -> None:
    """(Re)create the people, households and enrolments relations compiled rules read."""
    person_columns = ", ".join(_columns(Entity.PERSON, PERSON_FIELDS))
    household_columns = ", ".join(_columns(Entity.HOUSEHOLD, HOUSEHOLD_FIELDS))
    connection.execute(
        f"CREATE OR REPLACE TABLE people (person_id VARCHAR, household_id VARCHAR, "
        f"{person_columns}, age INTEGER)"
    )
    connection.execute(
        f"CREATE OR REPLACE TABLE households (household_id VARCHAR, {household_columns}, "
        "size INTEGER, total_income DECIMAL(14, 2), income_per_person DECIMAL(14, 2))"
    )
    connection.execute("CREATE OR REPLACE TABLE enrolments (programme VARCHAR, subject_id VARCHAR)")
    person_keys = ("person_id", "household_id", *PERSON_FIELDS, "age")
    household_keys = (
        "household_id",
        *HOUSEHOLD_FIELDS,
        "size",
        "total_income",
        "income_per_person",
    )
    marks = ", ".join("?" * len(person_keys))
    if people:
        connection.executemany(
            f"INSERT INTO people VALUES ({marks})",  # noqa: S608 - placeholders only
            [[p.get(k) for k in person_keys] for p in people],
        )
    marks = ", ".join("?" * len(household_keys))
    if households:
        connection.executemany(
            f"INSERT INTO households VALUES ({marks})",  # noqa: S608 - placeholders only
            [[h.get(k) for k in household_keys] for h in households],
        )
    pairs = list(enrolments)
    if pairs:
        connection.executemany("INSERT INTO enrolments VALUES (?, ?)", pairs)


def facts_for(
    target: Target,
    subject: Mapping[str, Any],
    people: Sequence[Mapping[str, Any]],
    households: Sequence[Mapping[str, Any]],
    enrolments: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """The Facts evaluate() reads for one subject, built straight from the records."""
    household_id = subject["household_id"]
    household = next(h for h in households if h["household_id"] == household_id)
    members = [
        {k: v for k, v in p.items() if k not in ("person_id", "household_id")}
        for p in people
        if p["household_id"] == household_id
    ]
    subject_id = subject["person_id"] if target is Target.PERSON else household_id
    enrolled = sorted({code for code, who in enrolments if who == subject_id})
    household_facts = {k: v for k, v in household.items() if k != "household_id"}
    household_facts["members"] = members
    if target is Target.HOUSEHOLD:
        return {**household_facts, "enrolled": enrolled}
    own = {k: v for k, v in subject.items() if k not in ("person_id", "household_id")}
    return {**own, "household": household_facts, "enrolled": enrolled}


def run_both(
    connection: duckdb.DuckDBPyConnection,
    rule: Rule,
    people: Sequence[Mapping[str, Any]],
    households: Sequence[Mapping[str, Any]],
    enrolments: Sequence[tuple[str, str]],
) -> dict[str, bool]:
    """Run the compiled rule and evaluate() on every subject; assert they agree; return SQL's."""
    query = compile_rule(rule)
    rows = connection.execute(query.sql, query.parameters).fetchall()
    subjects = people if rule.target is Target.PERSON else households
    key = "person_id" if rule.target is Target.PERSON else "household_id"
    assert len(rows) == len(subjects)
    by_id = {s[key]: s for s in subjects}
    results = {}
    for subject_id, eligible, facts_json in rows:
        assert isinstance(eligible, bool), f"eligible is {eligible!r} for {subject_id}"
        facts = facts_for(rule.target, by_id[subject_id], people, households, enrolments)
        direct = evaluate(rule, facts)
        assert direct.eligible == eligible, (rule.source, subject_id, facts, query.sql)
        stored = facts_from_json(rule, facts_json)
        again = evaluate(rule, stored)
        assert again.eligible == eligible, (rule.source, subject_id, stored, facts_json)
        assert again.clauses == direct.clauses or _same_values(again, direct)
        results[subject_id] = eligible
    quick = compile_rule(rule, with_facts=False)
    counted = dict(connection.execute(quick.sql, quick.parameters).fetchall())
    assert counted == results
    only = compile_rule(rule, with_facts=False, eligible_only=True)
    listed = connection.execute(only.sql, only.parameters).fetchall()
    assert sorted(subject for subject, _ in listed) == sorted(k for k, v in results.items() if v)
    return results


def _same_values(one: Any, other: Any) -> bool:
    return [c.value for c in one.clauses] == [c.value for c in other.clauses]


PEOPLE = [
    {
        "person_id": "p1",
        "household_id": "h1",
        "sex": "female",
        "date_of_birth": date(1950, 3, 1),
        "age": 74,
        "monthly_income": Decimal("85.00"),
        "disability": "none",
        "relationship_to_head": "head",
        "years_schooling": 6,
    },
    {
        "person_id": "p2",
        "household_id": "h1",
        "sex": "male",
        "date_of_birth": date(2021, 6, 1),
        "age": 3,
        "monthly_income": None,
        "disability": "visual",
        "relationship_to_head": "grandchild",
        "years_schooling": 0,
    },
    {
        "person_id": "p3",
        "household_id": "h2",
        "sex": None,
        "date_of_birth": None,
        "age": None,
        "monthly_income": Decimal("200.50"),
        "disability": None,
        "relationship_to_head": "head",
        "years_schooling": None,
    },
    {
        "person_id": "p4",
        "household_id": "h3",
        "sex": "other",
        "date_of_birth": date(1958, 1, 1),
        "age": 66,
        "monthly_income": Decimal("149.99"),
        "disability": "none",
        "relationship_to_head": "head",
        "years_schooling": 12,
    },
    {
        "person_id": "p5",
        "household_id": "h3",
        "sex": "female",
        "date_of_birth": date(2020, 1, 1),
        "age": 4,
        "monthly_income": Decimal("0.00"),
        "disability": "multiple",
        "relationship_to_head": "child",
        "years_schooling": 1,
    },
]
HOUSEHOLDS = with_derived(
    [
        {
            "household_id": "h1",
            "region": "Costa",
            "owns_vehicle": False,
            "rooms": 2,
            "land_hectares": Decimal("0.50"),
            "dwelling_type": "house",
            "registered_on": date(2024, 2, 1),
        },
        {
            "household_id": "h2",
            "region": None,
            "owns_vehicle": None,
            "rooms": None,
            "land_hectares": None,
            "dwelling_type": None,
            "registered_on": None,
        },
        {
            "household_id": "h3",
            "region": "Sierra Norte",
            "owns_vehicle": True,
            "rooms": 1,
            "land_hectares": Decimal("3.25"),
            "dwelling_type": "informal_settlement",
            "registered_on": date(2023, 12, 31),
        },
    ],
    PEOPLE,
)
ENROLMENTS = [("pension", "p1"), ("food_basket", "h3"), ("food_basket", "p2")]

CASES = [
    ("age >= 65 && monthly_income < 150", P, {"p1": True, "p4": True}),
    (
        "household.members.filter(m, m.age < 5).size() > 0 && household.income_per_person < 120",
        P,
        {"p1": True, "p2": True, "p4": True, "p5": True},
    ),
    (
        "members.filter(m, m.age < 5).size() > 0 && income_per_person < 120",
        H,
        {"h1": True, "h3": True},
    ),
    ('members.exists(m, m.disability != "none")', H, {"h1": True, "h3": True}),
    ("members.all(m, m.age >= 4)", H, {"h3": True}),
    (
        'members.exists_one(m, m.relationship_to_head == "head")',
        H,
        {"h1": True, "h2": True, "h3": True},
    ),
    ("!owns_vehicle", H, {"h1": True, "h2": True}),
    ("owns_vehicle == false", H, {"h1": True}),
    ("!(owns_vehicle == true)", H, {"h1": True, "h2": True}),
    ('!enrolled("food_basket") && size >= 2', H, {"h1": True}),
    ('enrolled("pension") || enrolled("food_basket")', P, {"p1": True, "p2": True}),
    ('region.lowerAscii().startsWith("sierra")', H, {"h3": True}),
    ('region in ["Costa", "Oriente"] || rooms <= 1', H, {"h1": True, "h3": True}),
    ("monthly_income == null", P, {"p2": True}),
    (
        "monthly_income != null && monthly_income / 3 >= 28.33",
        P,
        {"p1": True, "p3": True, "p4": True},
    ),
    ('sex == "female" ? age >= 60 : age >= 65', P, {"p1": True, "p4": True}),
    ('date_of_birth < date("1960-01-01")', P, {"p1": True, "p4": True}),
    ('registered_on >= date("2024-01-01")', H, {"h1": True}),
    (
        "household.total_income < 100 * household.size",
        P,
        {"p1": True, "p2": True, "p4": True, "p5": True},
    ),
    ("years_schooling % 4 == 2", P, {"p1": True}),
    ("members.size() == 2 && -land_hectares < -1", H, {"h3": True}),
    ("members.exists(m, m.age > 60 && members.exists(n, n.age < 5))", H, {"h1": True, "h3": True}),
    ("land_hectares * 1.5 + rooms > 5", H, {"h3": True}),
    # division rounds half away from zero at 6 places, on both paths
    ("years_schooling / 2000000 > 0", P, {"p1": True, "p4": True, "p5": True}),
    ("-years_schooling / 2000000 == -0.000001", P, {"p5": True}),
    ("land_hectares / 1000000 == 0.000001", H, {"h1": True}),
    ("land_hectares / -0.3 == -10.833333", H, {"h3": True}),
]


@pytest.fixture(scope="module")
def connection() -> Any:
    con = duckdb.connect()
    load(con, PEOPLE, HOUSEHOLDS, ENROLMENTS)
    yield con
    con.close()


@pytest.mark.parametrize(("source", "target", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_duckdb_matches_evaluate(
    connection: duckdb.DuckDBPyConnection, source: str, target: Target, expected: dict[str, bool]
) -> None:
    """Each rule gives, on DuckDB, the expected eligible subjects and the same as evaluate()."""
    rule = parse(source, target)
    results = run_both(connection, rule, PEOPLE, HOUSEHOLDS, ENROLMENTS)
    assert {k for k, v in results.items() if v} == set(expected)


def test_values_travel_as_parameters() -> None:
    """Values written in a rule are bound as parameters, never pasted into the SQL text."""
    rule = parse('household.region == "Costa\'; DROP TABLE people; --" && monthly_income < 123.45')
    for dialect in DIALECTS:
        query = compile_rule(rule, dialect)
        assert "DROP" not in query.sql
        assert "123.45" not in query.sql
        assert "Costa'; DROP TABLE people; --" in query.parameters.values()
        assert Decimal("123.45") in query.parameters.values()


def test_parameter_styles_per_dialect() -> None:
    """DuckDB uses $p0, psycopg %(p0)s and Spark :p0."""
    rule = parse("age >= 65")
    assert "$p0" in compile_rule(rule, "duckdb").sql
    assert "%(p0)s" in compile_rule(rule, "postgres").sql
    assert ":p0" in compile_rule(rule, "spark").sql


SAMPLE_RULES = [c[0] for c in CASES]


@pytest.mark.parametrize("dialect", ["postgres", "spark"])
@pytest.mark.parametrize("source", SAMPLE_RULES, ids=[s[:40] for s in SAMPLE_RULES])
def test_other_dialects_parse_back(dialect: str, source: str) -> None:
    """PostgreSQL and Spark SQL are produced, with and without facts, and parse back."""
    target = next(c[1] for c in CASES if c[0] == source)
    rule = parse(source, target)
    for with_facts in (True, False):
        query = compile_rule(rule, dialect, with_facts=with_facts)
        assert query.dialect == dialect
        if dialect == "postgres":  # psycopg would read a bare % as a placeholder
            assert "%" not in query.sql.replace("%(", "")
        parsed = sqlglot.parse_one(query.sql, read=dialect)
        assert parsed.find(sqlglot.exp.Select) is not None
        assert {p.name for p in parsed.find_all(sqlglot.exp.Placeholder)} == set(query.parameters)


def test_unknown_dialect_is_refused() -> None:
    """compile_rule names the dialects it knows."""
    with pytest.raises(ValueError, match="duckdb, postgres, spark"):
        compile_rule(parse("age > 1"), "oracle")


def test_facts_column_round_trips(connection: duckdb.DuckDBPyConnection) -> None:
    """facts_from_json gives the facts the rule reads, typed: Decimal, date, member lists."""
    rule = parse(
        'household.members.exists(m, m.age < 5) && date_of_birth < date("1960-01-01") && '
        'household.income_per_person < 120 && enrolled("pension")'
    )
    query = compile_rule(rule)
    rows = {r[0]: r for r in connection.execute(query.sql, query.parameters).fetchall()}
    facts = facts_from_json(rule, rows["p1"][2])
    assert facts["date_of_birth"] == date(1950, 3, 1)
    assert facts["household"]["income_per_person"] == Decimal("42.50")
    assert str(facts["household"]["income_per_person"]) == "42.50"
    assert facts["household"]["members"] == [{"age": 74}, {"age": 3}]
    assert facts["enrolled"] == ["pension"]
    assert rows["p1"][1] is True


def test_eligible_is_never_null(connection: duckdb.DuckDBPyConnection) -> None:
    """A rule over missing values yields FALSE, not NULL, in the eligible column."""
    rule = parse("!(monthly_income > 1) || monthly_income > 1")
    query = compile_rule(rule, with_facts=False)
    values = [r[1] for r in connection.execute(query.sql, query.parameters).fetchall()]
    assert None not in values
    assert values.count(True) == len(values)
