"""Evaluate a rule on one record in Python, clause by clause, keeping the facts each read.

This is the second evaluator next to the SQL compiler (compile.py); the two agree on every
record (tests/unit/eligibility/test_agreement.py proves it with random rules and records).
The semantics are those documented in rules.py: a comparison that reads a missing value is
false, a missing true/false field used as a condition is false, arithmetic on a missing value
is missing, `/` rounds to DIVISION_SCALE places half away from zero.

Facts for a person target look like
    {"age": 72, "monthly_income": Decimal("85.00"), "sex": "female",
     "household": {"region": "costa", "size": 3, "total_income": Decimal("255.00"),
                   "income_per_person": Decimal("85.00"),
                   "members": [{"age": 4, "sex": "male"}, ...]},
     "enrolled": ["pension"]}
and for a household target the household's keys sit at the top level. Only the fields a rule
reads need be present. "enrolled" lists the programmes (among those the rule names) the
subject is enrolled in; evaluate() also takes them as an argument.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from fractions import Fraction
from typing import Any

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
    Type,
    render,
)

__all__ = [
    "ClauseResult",
    "Evaluation",
    "Facts",
    "evaluate",
    "facts_from_json",
    "member_fact_key",
]

Facts = Mapping[str, Any]
ENROLLED_KEY = "enrolled"

_EXACT = Context(prec=200, traps=[Inexact, Overflow, InvalidOperation])
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class ClauseResult:
    """One clause: its source text, whether it held, and the values it read by path."""

    text: str
    value: bool
    facts: dict[str, Any]


@dataclass(frozen=True)
class Evaluation:
    eligible: bool
    clauses: tuple[ClauseResult, ...]


def evaluate(rule: Rule, facts: Facts, enrolled: Collection[str] = ()) -> Evaluation:
    """Evaluate the rule on one subject's facts.

    Returns whether the subject is eligible and, per clause (see Rule.clauses), its value and
    the facts it read. Never raises for missing facts: a missing value reads as null.
    """
    programmes = set(enrolled)
    programmes.update(facts.get(ENROLLED_KEY) or ())
    interpreter = _Interpreter(rule, facts, programmes)
    results = []
    values = []
    for clause in rule.clauses():
        reads: dict[str, Any] = {}
        interpreter.reads = reads
        value = interpreter.truth(clause.expression, {})
        values.append(value)
        results.append(ClauseResult(clause.text, value, reads))
    eligible = any(values) if rule.connective == "||" else all(values)
    return Evaluation(eligible, tuple(results))


def member_fact_key(rule: Rule, node: Comprehension | Members) -> str:
    """The fact key of a member aggregate, e.g. "household.members[age<5].count"."""
    if isinstance(node, Members):
        return f"{node.path}.count"
    predicate = render(node.body, compact=True, bare=node.variable)
    return f"{node.source.path}[{predicate}].count"


class _Interpreter:
    def __init__(self, rule: Rule, facts: Facts, enrolled: set[str]) -> None:
        self.rule = rule
        self.facts = facts
        self.enrolled = enrolled
        household = facts.get("household") if rule.target is Target.PERSON else facts
        self.household: Mapping[str, Any] = household or {}
        self.reads: dict[str, Any] = {}

    def truth(self, node: Node, env: dict[str, Mapping[str, Any]]) -> bool:
        return self.value(node, env) is True

    def members(self) -> list[Mapping[str, Any]]:
        return list(self.household.get("members") or ())

    def value(self, node: Node, env: dict[str, Mapping[str, Any]]) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Field):
            return self.field(node, env)
        if isinstance(node, Logical):
            if node.op == "&&":
                return all([self.truth(o, env) for o in node.operands])
            return any([self.truth(o, env) for o in node.operands])
        if isinstance(node, Binary):
            return self.binary(node, env)
        if isinstance(node, Not):
            return not self.truth(node.operand, env)
        if isinstance(node, Negate):
            operand = self.value(node.operand, env)
            return None if operand is None else -operand
        if isinstance(node, Conditional):
            branch = node.then if self.truth(node.condition, env) else node.otherwise
            return self.value(branch, env)
        if isinstance(node, Call):
            return self.call(node, env)
        if isinstance(node, Count):
            return self.count(node, env)
        if isinstance(node, Comprehension):
            return self.comprehension(node, env)
        if isinstance(node, Enrolled):
            held = node.programme in self.enrolled
            self.reads[f'enrolled("{node.programme}")'] = held
            return held
        if isinstance(node, ListLiteral):
            return [item.value for item in node.items]
        raise TypeError(f"cannot evaluate {node!r}")  # pragma: no cover

    def field(self, node: Field, env: dict[str, Mapping[str, Any]]) -> Any:
        if node.scope is Scope.MEMBER:
            return _coerce(env[node.variable or ""].get(node.name), node.type)
        source = self.household if node.scope is Scope.HOUSEHOLD else self.facts
        value = _coerce(source.get(node.name), node.type)
        self.reads[node.path] = value
        return value

    def binary(self, node: Binary, env: dict[str, Mapping[str, Any]]) -> Any:
        op = node.op
        if op == "in":
            left = self.value(node.left, env)
            if left is None:
                return False
            return any(left == item for item in self.value(node.right, env))
        if isinstance(node.right, Literal) and node.right.value is None:
            left = self.value(node.left, env)
            return left is None if op == "==" else left is not None
        if isinstance(node.left, Literal) and node.left.value is None:
            right = self.value(node.right, env)
            return right is None if op == "==" else right is not None
        left = self.value(node.left, env)
        right = self.value(node.right, env)
        if op in _COMPARISONS:
            if left is None or right is None:
                return False
            return _COMPARISONS[op](left, right)
        if left is None or right is None:
            return None
        return _arithmetic(op, left, right, node.type)

    def call(self, node: Call, env: dict[str, Mapping[str, Any]]) -> Any:
        values = [self.value(a, env) for a in node.arguments]
        function = node.function
        if function == "size":
            return None if values[0] is None else len(values[0])
        if function == "lowerAscii":
            return None if values[0] is None else values[0].translate(_ASCII_LOWER)
        if any(v is None for v in values):
            return False
        text, part = values
        if function == "startsWith":
            return bool(text.startswith(part))
        if function == "endsWith":
            return bool(text.endswith(part))
        return part in text

    def matching(self, node: Comprehension, env: dict[str, Mapping[str, Any]]) -> int:
        count = 0
        for member in self.members():
            if self.truth(node.body, {**env, node.variable: member}):
                count += 1
        return count

    def count(self, node: Count, env: dict[str, Mapping[str, Any]]) -> int:
        source = node.source
        result = (
            self.matching(source, env) if isinstance(source, Comprehension) else len(self.members())
        )
        if not env:
            self.reads[member_fact_key(self.rule, source)] = result
        return result

    def comprehension(self, node: Comprehension, env: dict[str, Mapping[str, Any]]) -> bool:
        matched = self.matching(node, env)
        total = len(self.members())
        if not env:
            self.reads[member_fact_key(self.rule, node)] = matched
            if node.macro in ("all", "exists_one"):
                self.reads[f"{node.source.path}.count"] = total
        if node.macro == "exists":
            return matched > 0
        if node.macro == "all":
            return matched == total
        if node.macro == "exists_one":
            return matched == 1
        raise TypeError(f"{node.macro}() has no true/false value; count it with .size()")


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _arithmetic(op: str, left: Any, right: Any, result: Type) -> Any:
    if op == "%":
        remainder = abs(left) % abs(right)
        return remainder if left >= 0 else -remainder
    if op == "/":
        quotient = Fraction(left) / Fraction(right) * 10**DIVISION_SCALE
        rounded = math.floor(abs(quotient) + Fraction(1, 2))
        signed = rounded if quotient >= 0 else -rounded
        return Decimal(signed).scaleb(-DIVISION_SCALE)
    if result.kind is Kind.INT:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        return left * right
    # The context is wide enough that sums and products of rule values never round.
    a = left if isinstance(left, Decimal) else Decimal(left)
    b = right if isinstance(right, Decimal) else Decimal(right)
    if op == "+":
        return _EXACT.add(a, b)
    if op == "-":
        return _EXACT.subtract(a, b)
    return _EXACT.multiply(a, b)


def _coerce(value: Any, type_: Type) -> Any:
    """Values as the rule's types expect them (facts may come from JSON)."""
    if value is None:
        return None
    kind = type_.kind
    if kind is Kind.DECIMAL and not isinstance(value, Decimal):
        if isinstance(value, bool):
            return value
        return Decimal(str(value))
    if kind is Kind.DATE and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def facts_from_json(rule: Rule, text: str | bytes | None) -> dict[str, Any]:
    """The Facts of one row of a compiled query's `facts` column (see compile.py).

    Decimals come back as Decimal at their field's scale, dates as date, enrolments as the
    list of programme codes the subject is enrolled in.
    """
    if text is None:
        return {}
    raw = json.loads(text, parse_float=Decimal)
    if not isinstance(raw, dict):
        raise ValueError("facts must be a JSON object")
    members_key = "members"
    for path, type_ in rule.field_types.items():
        if "[]." in path:
            owner = raw.get("household") if rule.target is Target.PERSON else raw
            name = path.rsplit(".", 1)[1]
            for member in (owner or {}).get(members_key) or ():
                if name in member:
                    member[name] = _from_json(member[name], type_)
            continue
        parts = path.split(".")
        holder: Any = raw
        for part in parts[:-1]:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and parts[-1] in holder:
            holder[parts[-1]] = _from_json(holder[parts[-1]], type_)
    owner = raw.get("household") if rule.target is Target.PERSON else raw
    if isinstance(owner, dict) and members_key in owner and owner[members_key] is None:
        owner[members_key] = []
    flags = raw.get(ENROLLED_KEY)
    if isinstance(flags, list) and all(isinstance(f, bool) or f is None for f in flags):
        raw[ENROLLED_KEY] = [
            code for code, flag in zip(rule.programmes_used, flags, strict=False) if flag
        ]
    return raw


def _from_json(value: Any, type_: Type) -> Any:
    if value is None:
        return None
    if type_.kind is Kind.DECIMAL:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        return number.quantize(Decimal(1).scaleb(-type_.scale)) if type_.scale <= 18 else number
    if type_.kind is Kind.DATE:
        return date.fromisoformat(str(value))
    if type_.kind is Kind.INT and isinstance(value, Decimal):
        return int(value)
    if type_.kind is Kind.BOOL and isinstance(value, int):
        return bool(value)
    return value
