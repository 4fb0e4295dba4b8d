"""Compile a checked rule to one SQL query, for DuckDB, PostgreSQL or Spark SQL.

The query is built as a sqlglot expression tree from the rule's whitelisted AST (rules.py),
never from its text; every value written in the rule travels as a named parameter
(`$p0` for DuckDB, `%(p0)s` for psycopg, `:p0` for Spark). It selects from the relations the
eligibility services build:

- `people(person_id, household_id, <declared person fields>, age INTEGER)`
- `households(household_id, <declared household fields>, size INTEGER,
  total_income DECIMAL(14,2), income_per_person DECIMAL(14,2))`
- `enrolments(programme VARCHAR, subject_id VARCHAR)`

and returns one row per subject: `subject_id`, `eligible` (never NULL) and, unless
with_facts=False, `facts`: JSON text that evaluate.facts_from_json() turns back into the facts
evaluate() reads, so both evaluators agree row by row.

NULL handling mirrors evaluate(): a comparison that reads NULL is false. Inside AND/OR chains
the SQL keeps three-valued logic, which is safe because only TRUE counts there (a monotone
formula is TRUE under Kleene logic exactly when it is true with every unknown read as false);
wherever a boolean is used as a value (under NOT, compared, as a branch) it is wrapped in
COALESCE(..., FALSE). Member macros become correlated subqueries on people.household_id,
`enrolled("x")` an EXISTS over enrolments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlglot import exp

from fairshare.eligibility.rules import (
    DIVISION_SCALE,
    Binary,
    Call,
    Comprehension,
    Conditional,
    Count,
    Enrolled,
    Field,
    Kind,
    ListLiteral,
    Literal,
    Logical,
    Members,
    Negate,
    Node,
    Not,
    Rule,
    Scope,
    Target,
    walk,
)

__all__ = ["DIALECTS", "CompiledQuery", "compile_rule"]

DIALECTS = ("duckdb", "postgres", "spark")

_COMPARISONS: dict[str, type[exp.Expr]] = {
    "==": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_ARITHMETIC: dict[str, type[exp.Expr]] = {
    "+": exp.Add,
    "-": exp.Sub,
    "*": exp.Mul,
    "%": exp.Mod,
}
# 128-bit integers for exact rounded division
_BIG_INTEGER = {"duckdb": "HUGEINT", "postgres": "NUMERIC", "spark": "DECIMAL(38, 0)"}
_TEXT = {"duckdb": "VARCHAR", "postgres": "TEXT", "spark": "STRING"}
# JSON building blocks per dialect: object, array, aggregate
_JSON = {
    "duckdb": ("json_object", "json_array", "json_group_array"),
    "postgres": ("json_build_object", "json_build_array", "json_agg"),
    "spark": ("named_struct", "array", "collect_list"),
}
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class CompiledQuery:
    """SQL text for one dialect and the parameters it binds by name."""

    sql: str
    parameters: dict[str, Any]
    dialect: str
    expression: exp.Expr | None = field(default=None, compare=False, repr=False)


def compile_rule(
    rule: Rule,
    dialect: str = "duckdb",
    *,
    with_facts: bool = True,
    eligible_only: bool = False,
) -> CompiledQuery:
    """Compile the rule to a query returning (subject_id, eligible[, facts]) per subject.

    with_facts=False leaves out the facts column (batch counting). eligible_only=True returns
    only the eligible subjects, with the rule as a WHERE condition the database can push
    down into its scans and joins (the fastest way to count or list who qualifies).
    Raises ValueError for a dialect other than duckdb, postgres or spark.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    compiler = _Compiler(rule, dialect)
    query = compiler.query(with_facts=with_facts, eligible_only=eligible_only)
    return CompiledQuery(
        sql=query.sql(dialect=dialect),
        parameters=dict(compiler.parameters),
        dialect=dialect,
        expression=query,
    )


def _paren(expression: exp.Expr) -> exp.Expr:
    atomic = (
        exp.Column,
        exp.Placeholder,
        exp.Cast,
        exp.Paren,
        exp.Boolean,
        exp.Literal,
        exp.Func,
        exp.Subquery,
    )
    if isinstance(expression, atomic):
        return expression
    return exp.Paren(this=expression)


def _number(value: int | str) -> exp.Expr:
    return exp.Literal.number(value)


class _Compiler:
    def __init__(self, rule: Rule, dialect: str) -> None:
        self.rule = rule
        self.dialect = dialect
        self.parameters: dict[str, Any] = {}
        self.aliases = 0
        person = rule.target is Target.PERSON
        self.subject_alias = "p" if person else "h"
        self.subject_key = "person_id" if person else "household_id"
        self.household_key = exp.column("household_id", table=self.subject_alias, quoted=True)
        self.reads_household = person and any(
            isinstance(n, Field) and n.scope is Scope.HOUSEHOLD for n in walk(rule.expression)
        )

    # -- the query ----------------------------------------------------------------

    def query(self, *, with_facts: bool, eligible_only: bool) -> exp.Select:
        subject = exp.column(self.subject_key, table=self.subject_alias, quoted=True)
        condition = self.truth(self.rule.expression, {})
        eligible: exp.Expr = (
            exp.true() if eligible_only else exp.func("COALESCE", condition, exp.false())
        )
        columns: list[exp.Expr] = [
            exp.alias_(subject, "subject_id", quoted=True),
            exp.alias_(eligible, "eligible", quoted=True),
        ]
        if with_facts:
            columns.append(exp.alias_(self.facts(), "facts", quoted=True))
        table = "people" if self.rule.target is Target.PERSON else "households"
        select = exp.select(*columns).from_(self.table(table, self.subject_alias))
        if self.reads_household:
            select = select.join(
                self.table("households", "h"),
                on=exp.EQ(
                    this=exp.column("household_id", table="h", quoted=True),
                    expression=self.household_key,
                ),
                join_type="LEFT",
            )
        if eligible_only:
            # WHERE keeps the rows where the condition is TRUE: NULL counts as false, as in
            # evaluate(), without COALESCE hiding the conjuncts from the optimiser.
            select = select.where(condition)
        return select

    @staticmethod
    def table(name: str, alias: str) -> exp.Expr:
        return exp.alias_(exp.to_table(name, quoted=True), alias, table=True, quoted=True)

    # -- parameters ---------------------------------------------------------------

    def parameter(self, value: Any) -> exp.Expr:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return exp.Placeholder(this=name)

    def literal(self, node: Literal) -> exp.Expr:
        value = node.value
        if value is None:
            return exp.null()
        if isinstance(value, bool):
            return exp.cast(self.parameter(value), "BOOLEAN")
        if isinstance(value, int):
            return exp.cast(self.parameter(value), "BIGINT")
        if isinstance(value, Decimal):
            scale = max(0, -int(value.as_tuple().exponent))
            digits = len(value.as_tuple().digits)
            width = 18 if max(digits, scale + 1) <= 18 else 38
            return exp.cast(self.parameter(value), exp.DataType.build(f"DECIMAL({width}, {scale})"))
        if node.type.kind is Kind.DATE:
            return exp.cast(self.parameter(value), "DATE")
        return exp.cast(
            self.parameter(value), exp.DataType.build(_TEXT[self.dialect], dialect=self.dialect)
        )

    # -- names --------------------------------------------------------------------

    def column(self, node: Field, env: dict[str, str]) -> exp.Expr:
        if node.scope is Scope.MEMBER:
            alias = env[node.variable or ""]
        elif node.scope is Scope.HOUSEHOLD:
            alias = "h"
        else:
            alias = self.subject_alias
        return exp.column(node.name, table=alias, quoted=True)

    def members_from(self, env: dict[str, str], variable: str) -> tuple[exp.Expr, str]:
        self.aliases += 1
        alias = f"m{self.aliases}"
        condition = exp.EQ(
            this=exp.column("household_id", table=alias, quoted=True),
            expression=self.household_key,
        )
        return condition, alias

    # -- booleans -----------------------------------------------------------------

    def truth(self, node: Node, env: dict[str, str]) -> exp.Expr:
        """SQL that is TRUE exactly when the node is true (it may be NULL otherwise)."""
        if isinstance(node, Logical):
            operands = [_paren(self.truth(o, env)) for o in node.operands]
            combined = operands[0]
            for operand in operands[1:]:
                combined = (
                    exp.And(this=combined, expression=operand)
                    if node.op == "&&"
                    else exp.Or(this=combined, expression=operand)
                )
            return exp.Paren(this=combined)
        if isinstance(node, Not):
            return exp.Not(this=_paren(self.definite(node.operand, env)))
        if isinstance(node, Conditional):
            return self.case(node, env, self.truth)
        if isinstance(node, Binary) and node.op not in ("+", "-", "*", "/", "%"):
            return self.comparison(node, env)
        if isinstance(node, Call):
            return self.string_test(node, env)
        if isinstance(node, Comprehension):
            return self.comprehension(node, env)
        if isinstance(node, Enrolled):
            return self.enrolled(node)
        return self.raw(node, env)

    def definite(self, node: Node, env: dict[str, str]) -> exp.Expr:
        """SQL that is TRUE or FALSE, never NULL: false where evaluate() reads false."""
        if isinstance(node, Not | Comprehension | Enrolled):
            return self.truth(node, env)
        if isinstance(node, Literal):
            return self.literal(node)
        return exp.func("COALESCE", self.truth(node, env), exp.false())

    def case(self, node: Conditional, env: dict[str, str], branch: Any) -> exp.Expr:
        return exp.Case(
            ifs=[exp.If(this=self.truth(node.condition, env), true=branch(node.then, env))],
            default=branch(node.otherwise, env),
        )

    def comparison(self, node: Binary, env: dict[str, str]) -> exp.Expr:
        if node.op == "in":
            if not isinstance(node.right, ListLiteral) or not node.right.items:
                return exp.false()
            return exp.In(
                this=_paren(self.raw(node.left, env)),
                expressions=[self.literal(item) for item in node.right.items],
            )
        presence = self.presence(node, env)
        if presence is not None:
            return presence
        for this, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(other, Literal) and other.value is None:
                test = exp.Is(this=_paren(self.raw(this, env)), expression=exp.null())
                return test if node.op == "==" else exp.Not(this=test)
        return _COMPARISONS[node.op](
            this=_paren(self.raw(node.left, env)), expression=_paren(self.raw(node.right, env))
        )

    def presence(self, node: Binary, env: dict[str, str]) -> exp.Expr | None:
        """`count > 0` and friends as EXISTS / NOT EXISTS: a semi-join instead of a count."""
        op, count, limit = node.op, node.left, node.right
        if isinstance(count, Literal):
            op, count, limit = _MIRRORED.get(op, op), node.right, node.left
        if not isinstance(count, Count) or not isinstance(limit, Literal):
            return None
        value = limit.value
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return None
        if (op, value) in ((">", 0), (">=", 1), ("!=", 0)):
            negate = False
        elif (op, value) in (("==", 0), ("<", 1), ("<=", 0)):
            negate = True
        else:
            return None
        source = count.source
        variable = source.variable if isinstance(source, Comprehension) else "_"
        link, alias = self.members_from(env, variable)
        condition: exp.Expr = link
        if isinstance(source, Comprehension):
            inner = {**env, source.variable: alias}
            condition = exp.and_(link, _paren(self.truth(source.body, inner)))
        query = exp.select(_number(1)).from_(self.table("people", alias)).where(condition)
        exists = exp.Exists(this=query)
        return exp.Not(this=exists) if negate else exists

    def string_test(self, node: Call, env: dict[str, str]) -> exp.Expr:
        text, part = (self.raw(a, env) for a in node.arguments)
        if node.function == "contains":
            return exp.GT(this=exp.StrPosition(this=text, substr=part), expression=_number(0))
        length = exp.Length(this=part.copy())
        cut = exp.Left if node.function == "startsWith" else exp.Right
        return exp.EQ(this=cut(this=text, expression=length), expression=part)

    def comprehension(self, node: Comprehension, env: dict[str, str]) -> exp.Expr:
        link, alias = self.members_from(env, node.variable)
        inner = {**env, node.variable: alias}
        people = self.table("people", alias)
        if node.macro == "all":
            failing = exp.Not(this=_paren(self.definite(node.body, inner)))
            subquery = exp.select(_number(1)).from_(people).where(exp.and_(link, failing))
            return exp.Not(this=exp.Exists(this=subquery))
        condition = exp.and_(link, _paren(self.truth(node.body, inner)))
        if node.macro == "exists":
            return exp.Exists(this=exp.select(_number(1)).from_(people).where(condition))
        count = exp.select(exp.Count(this=exp.Star())).from_(people).where(condition)
        return exp.EQ(this=exp.Subquery(this=count), expression=_number(1))

    def count(self, node: Count, env: dict[str, str]) -> exp.Expr:
        source = node.source
        variable = source.variable if isinstance(source, Comprehension) else "_"
        link, alias = self.members_from(env, variable)
        condition: exp.Expr = link
        if isinstance(source, Comprehension):
            inner = {**env, source.variable: alias}
            condition = exp.and_(link, _paren(self.truth(source.body, inner)))
        query = (
            exp.select(exp.Count(this=exp.Star()))
            .from_(self.table("people", alias))
            .where(condition)
        )
        return exp.Subquery(this=query)

    def enrolled(self, node: Enrolled) -> exp.Expr:
        subject = exp.column(self.subject_key, table=self.subject_alias, quoted=True)
        condition = exp.and_(
            exp.EQ(
                this=exp.column("programme", table="e", quoted=True),
                expression=exp.cast(
                    self.parameter(node.programme),
                    exp.DataType.build(_TEXT[self.dialect], dialect=self.dialect),
                ),
            ),
            exp.EQ(
                this=exp.column("subject_id", table="e", quoted=True),
                expression=exp.cast(
                    subject, exp.DataType.build(_TEXT[self.dialect], dialect=self.dialect)
                ),
            ),
        )
        query = exp.select(_number(1)).from_(self.table("enrolments", "e")).where(condition)
        return exp.Exists(this=query)

    # -- values -------------------------------------------------------------------

    def raw(self, node: Node, env: dict[str, str]) -> exp.Expr:
        """SQL whose value is NULL exactly where evaluate() has None."""
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Field):
            return self.column(node, env)
        if isinstance(node, Conditional):
            return self.case(node, env, self.raw)
        if isinstance(node, Negate):
            return exp.Neg(this=_paren(self.operand(node.operand, env)))
        if isinstance(node, Binary) and node.op == "%" and self.dialect == "postgres":
            # psycopg reads a bare % as the start of a placeholder
            return exp.Anonymous(
                this="MOD",
                expressions=[self.operand(node.left, env), self.operand(node.right, env)],
            )
        if isinstance(node, Binary) and node.op in ("+", "-", "*", "%"):
            return _ARITHMETIC[node.op](
                this=_paren(self.operand(node.left, env)),
                expression=_paren(self.operand(node.right, env)),
            )
        if isinstance(node, Binary) and node.op == "/":
            return self.divide(node, env)
        if isinstance(node, Call) and node.function == "size":
            return exp.Length(this=self.raw(node.arguments[0], env))
        if isinstance(node, Call) and node.function == "lowerAscii":
            return exp.func(
                "TRANSLATE",
                self.raw(node.arguments[0], env),
                exp.Literal.string(_UPPER),
                exp.Literal.string(_UPPER.lower()),
            )
        if isinstance(node, Count):
            return self.count(node, env)
        if isinstance(node, Members):  # pragma: no cover - the checker never lets one through
            raise TypeError("household members are not a value")
        return self.definite(node, env)

    def operand(self, node: Node, env: dict[str, str]) -> exp.Expr:
        """An arithmetic operand, widened so sums and products never overflow or round."""
        value = self.raw(node, env)
        if isinstance(node, Literal):
            return value
        if node.type.kind is Kind.INT:
            return exp.cast(value, "BIGINT")
        if node.type.kind is Kind.DECIMAL and isinstance(node, Field):
            return exp.cast(value, exp.DataType.build(f"DECIMAL(38, {node.type.scale})"))
        return value

    def divide(self, node: Binary, env: dict[str, str]) -> exp.Expr:
        """left / k rounded half away from zero to DIVISION_SCALE places, in exact integers.

        With left = A / 10^s and k = K / 10^t, left / k * 10^R = X / Y where
        X = A * 10^(t+R) and Y = K * 10^s; round(X / Y) = sign(X) * ((2|X| + Y) div 2Y).
        """
        k = Decimal(node.right.value if isinstance(node.right, Literal) else 0)
        if not k:  # pragma: no cover - the checker only lets non-zero literal divisors in
            raise ValueError("division by anything but a non-zero literal")
        t = max(0, -int(k.as_tuple().exponent))
        whole = int(k.scaleb(t))
        s = node.left.type.scale if node.left.type.kind is Kind.DECIMAL else 0
        big = exp.DataType.build(_BIG_INTEGER[self.dialect], dialect=self.dialect)
        left = _paren(self.operand(node.left, env))
        scaled = exp.Mul(this=left, expression=_number(10**s)) if s else left
        multiplier = 10 ** (t + DIVISION_SCALE) * (1 if whole > 0 else -1)
        x = exp.Mul(this=exp.cast(scaled, big), expression=_number(multiplier))
        y = exp.cast(self.parameter(abs(whole) * 10**s), big)
        twice_x = exp.Mul(this=_number(2), expression=exp.Abs(this=x))
        numerator = exp.Paren(this=exp.Add(this=twice_x, expression=y.copy()))
        denominator = exp.Paren(this=exp.Mul(this=_number(2), expression=y))
        rounded = exp.Mul(
            this=exp.Sign(this=x.copy()),
            expression=exp.Paren(this=exp.IntDiv(this=numerator, expression=denominator)),
        )
        unit = exp.cast(
            exp.Literal.string(f"{Decimal(1).scaleb(-DIVISION_SCALE):f}"),
            exp.DataType.build(f"DECIMAL(38, {DIVISION_SCALE})"),
        )
        whole_number = exp.cast(rounded, exp.DataType.build("DECIMAL(38, 0)"))
        return exp.Mul(this=whole_number, expression=unit)

    # -- facts --------------------------------------------------------------------

    def json_object(self, pairs: list[tuple[str, exp.Expr]]) -> exp.Expr:
        arguments: list[exp.Expr] = []
        for key, value in pairs:
            arguments += [exp.Literal.string(key), value]
        return exp.Anonymous(this=_JSON[self.dialect][0], expressions=arguments)

    def facts(self) -> exp.Expr:
        """A JSON object with every value the rule reads, shaped like evaluate()'s Facts."""
        rule = self.rule
        subject: list[tuple[str, exp.Expr]] = []
        household: list[tuple[str, exp.Expr]] = []
        seen: set[str] = set()
        for node in walk(rule.expression):
            if not isinstance(node, Field) or node.scope is Scope.MEMBER or node.path in seen:
                continue
            seen.add(node.path)
            target = household if node.scope is Scope.HOUSEHOLD else subject
            target.append((node.name, self.column(node, {})))
        if any(isinstance(n, Members) for n in walk(rule.expression)):
            link, alias = self.members_from({}, "_")
            member = self.json_object(
                [(name, exp.column(name, table=alias, quoted=True)) for name in rule.member_fields]
            )
            aggregate = exp.Anonymous(this=_JSON[self.dialect][2], expressions=[member])
            listing = exp.Subquery(
                this=exp.select(aggregate).from_(self.table("people", alias)).where(link)
            )
            (household if rule.target is Target.PERSON else subject).append(("members", listing))
        if household:
            subject.append(("household", self.json_object(household)))
        if rule.programmes_used:
            flags = [
                self.enrolled(Enrolled(programme=code, type=rule.expression.type))
                for code in rule.programmes_used
            ]
            subject.append(
                ("enrolled", exp.Anonymous(this=_JSON[self.dialect][1], expressions=flags))
            )
        if not subject:  # a rule that reads nothing (`true`)
            return exp.Literal.string("{}")
        document = self.json_object(subject)
        if self.dialect == "spark":
            return exp.func("TO_JSON", document)
        return exp.cast(document, exp.DataType.build(_TEXT[self.dialect], dialect=self.dialect))
