"""The eligibility rule language: CEL, parsed into a small whitelisted and typed AST.

A rule is a Common Expression Language expression over the need facts a programme declares
(DESIGN.md red lines 2 and 3). cel-python's Lark grammar parses the text; the tree is then
turned into our own frozen dataclasses, and every construct outside the whitelist below is
refused with a RuleError naming the line, the column, the offending text and what to write
instead. The compiler (compile.py) and the record-by-record evaluator (evaluate.py) read only
this AST, never the source text.

What a rule can say:

- literals: whole numbers, decimals (read as decimal.Decimal, never float), "text", true,
  false, null, lists of literals `["costa", "sierra"]`, and `date("2024-01-31")`;
- names: the programme's declared fields; `age` (completed years at the run's reference date,
  needs date_of_birth); for a person, `household.<field>`, `household.size`,
  `household.total_income`, `household.income_per_person` (both need monthly_income) and
  `household.members`; for a household, the same names without the `household.` prefix;
- operators: `! - && || == != < <= > >= + - * / % in` and `condition ? a : b`;
- functions: `size()`, `startsWith()`, `endsWith()`, `contains()`, `lowerAscii()`,
  `enrolled("programme")`, and the macros `filter`, `exists`, `all`, `exists_one` over the
  household members (`household.members.filter(m, m.age < 5).size() > 0`).

Semantics shared by both evaluators:

- A comparison (or `in`, `startsWith`, ...) that reads a missing value is false. A missing
  true/false field used as a condition counts as false. `x == null` / `x != null` test for a
  missing value. Arithmetic on a missing value gives a missing value.
- Whole numbers and decimals mix; the result is a decimal. `a / k` needs a non-zero literal
  divisor and gives a decimal rounded to DIVISION_SCALE places, half away from zero.
  `a % k` is for whole numbers, with a non-zero whole literal divisor; the remainder takes the
  sign of `a`.

Limits (a rule that would run away is refused with a RuleError):

- MAX_SOURCE_LENGTH = 10,000 characters, checked before parsing;
- MAX_DEPTH = 32 levels of nesting (each operator, call, parenthesis or macro is a level;
  `a && b && c` chains count once);
- MAX_NODES = 2,000 nodes in all, list items included;
- MAX_LIST_ITEMS = 500 items in one list literal;
- MAX_MEMBER_AGGREGATES = 20 uses of the household members (each is a subquery in SQL);
- MAX_NESTED_DIVISIONS = 3 divisions nested in one another's dividend;
- MAX_SCALE = 18 decimal places carried by an intermediate product;
- literals below MAX_LITERAL_MAGNITUDE = 10**15, with at most MAX_DECIMAL_PLACES = 6 places.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import lark
from celpy import celparser
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from fairshare.catalogue.model import Catalogue, Entity, FieldDefinition, FieldType
from fairshare.catalogue.redline import find_refused
from fairshare.errors import InvalidInput

__all__ = [
    "DIVISION_SCALE",
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_NODES",
    "MAX_SOURCE_LENGTH",
    "Binary",
    "Call",
    "Clause",
    "Comprehension",
    "Conditional",
    "Count",
    "Enrolled",
    "Field",
    "Kind",
    "ListLiteral",
    "Literal",
    "Logical",
    "Members",
    "Negate",
    "Node",
    "Not",
    "Rule",
    "RuleError",
    "Scope",
    "Target",
    "Type",
    "parse_rule",
    "render",
    "walk",
]

MAX_SOURCE_LENGTH = 10_000
MAX_DEPTH = 32
MAX_NODES = 2_000
MAX_LIST_ITEMS = 500
MAX_MEMBER_AGGREGATES = 20
# The compiled SQL repeats a dividend twice to round it, so nesting doubles its size.
MAX_NESTED_DIVISIONS = 3
MAX_DECIMAL_PLACES = 6
MAX_LITERAL_MAGNITUDE = 10**15
# Multiplying decimals adds their scales; past this the SQL types would lose exactness.
MAX_SCALE = 18
DIVISION_SCALE = 6

DERIVED_HOUSEHOLD = ("size", "total_income", "income_per_person")
MACROS = ("filter", "exists", "all", "exists_one")
STRING_METHODS = ("startsWith", "endsWith", "contains", "lowerAscii")


class Target(StrEnum):
    PERSON = "person"
    HOUSEHOLD = "household"


class RuleError(InvalidInput):
    """A rule that cannot be published: it does not parse, or fails a check.

    The message starts with "line L, column C:" and says what is wrong and what to do.
    """

    def __init__(self, source: str, position: int, problem: str) -> None:
        position = max(0, min(position, len(source)))
        line = source.count("\n", 0, position) + 1
        column = position - (source.rfind("\n", 0, position) + 1) + 1
        message = f"line {line}, column {column}: {problem}"
        super().__init__(
            message,
            errors=[
                {
                    "field": "rule",
                    "reason": problem,
                    "position": position,
                    "line": line,
                    "column": column,
                }
            ],
        )
        self.source = source
        self.position = position
        self.line = line
        self.column = column
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.position, self.problem))


# ---------------------------------------------------------------------------------------
# Types


class Kind(StrEnum):
    INT = "int"
    DECIMAL = "decimal"
    STRING = "string"
    BOOL = "bool"
    DATE = "date"
    NULL = "null"
    LIST = "list"
    MEMBERS = "members"


@dataclass(frozen=True)
class Type:
    kind: Kind
    scale: int = 0  # decimal places a decimal value can carry
    choices: tuple[str, ...] = ()  # enumeration fields: the allowed values
    element: Type | None = None  # lists: the item type (None for an empty list)

    @property
    def numeric(self) -> bool:
        return self.kind in (Kind.INT, Kind.DECIMAL)

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return _KIND_WORDS[self.kind]


_KIND_WORDS = {
    Kind.INT: "a whole number",
    Kind.DECIMAL: "a decimal number",
    Kind.STRING: "text",
    Kind.BOOL: "true/false",
    Kind.DATE: "a date",
    Kind.NULL: "null",
    Kind.LIST: "a list",
    Kind.MEMBERS: "a list of household members",
}

INT = Type(Kind.INT)
STRING = Type(Kind.STRING)
BOOL = Type(Kind.BOOL)
DATE = Type(Kind.DATE)
NULL = Type(Kind.NULL)
MEMBER_LIST = Type(Kind.MEMBERS)
MONEY = Type(Kind.DECIMAL, scale=2)


def decimal_type(scale: int) -> Type:
    return Type(Kind.DECIMAL, scale=scale)


_FIELD_TYPES = {
    FieldType.TEXT: Kind.STRING,
    FieldType.INTEGER: Kind.INT,
    FieldType.DECIMAL: Kind.DECIMAL,
    FieldType.DATE: Kind.DATE,
    FieldType.BOOLEAN: Kind.BOOL,
    FieldType.ENUMERATION: Kind.STRING,
}


def field_type(definition: FieldDefinition) -> Type:
    kind = _FIELD_TYPES[definition.type]
    if kind is Kind.DECIMAL:
        return decimal_type(definition.scale)
    return Type(kind, choices=definition.choices)


def _numeric_join(left: Type, right: Type) -> Type:
    if left.kind is Kind.INT and right.kind is Kind.INT:
        return INT
    return decimal_type(max(left.scale, right.scale))


# ---------------------------------------------------------------------------------------
# The AST. Positions are character offsets into the source; they do not take part in
# equality, so two spellings of one rule compare equal.


class Scope(StrEnum):
    SUBJECT = "subject"  # the person (person target) or the household (household target)
    HOUSEHOLD = "household"  # the person's household (person target only)
    MEMBER = "member"  # a household member bound by a macro variable


@dataclass(frozen=True, kw_only=True)
class Node:
    position: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)
    type: Type


@dataclass(frozen=True, kw_only=True)
class Literal(Node):
    value: Any  # int, Decimal, str, bool, date or None


@dataclass(frozen=True, kw_only=True)
class ListLiteral(Node):
    items: tuple[Literal, ...]


@dataclass(frozen=True, kw_only=True)
class Field(Node):
    """A fact: a declared catalogue field, or a derived one (age, size, incomes)."""

    scope: Scope
    name: str
    path: str  # where the value sits in the facts: "age", "household.region", "m.age"
    variable: str | None = None  # the macro variable, for Scope.MEMBER
    derived: bool = False


@dataclass(frozen=True, kw_only=True)
class Members(Node):
    """The household members: `household.members` (person) or `members` (household)."""

    path: str


@dataclass(frozen=True, kw_only=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, kw_only=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True, kw_only=True)
class Binary(Node):
    """Arithmetic (+ - * / %), comparison (== != < <= > >=) or membership (in)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, kw_only=True)
class Logical(Node):
    op: str  # "&&" or "||"
    operands: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True)
class Conditional(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, kw_only=True)
class Call(Node):
    """A string function: arguments[0] is the receiver (size, startsWith, ...)."""

    function: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True)
class Comprehension(Node):
    """A macro over the household members: filter, exists, all, exists_one."""

    macro: str
    variable: str
    source: Members
    body: Node


@dataclass(frozen=True, kw_only=True)
class Count(Node):
    """`.size()` of the members or of a filtered member list."""

    source: Members | Comprehension


@dataclass(frozen=True, kw_only=True)
class Enrolled(Node):
    programme: str


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of a node."""
    if isinstance(node, ListLiteral):
        return node.items
    if isinstance(node, Not | Negate):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Conditional):
        return (node.condition, node.then, node.otherwise)
    if isinstance(node, Call):
        return node.arguments
    if isinstance(node, Comprehension):
        return (node.source, node.body)
    if isinstance(node, Count):
        return (node.source,)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


# ---------------------------------------------------------------------------------------
# Canonical text

_PRECEDENCE = {
    "?:": 1,
    "||": 2,
    "&&": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_UNARY = 7
_ATOM = 8


def _precedence(node: Node) -> int:
    if isinstance(node, Conditional):
        return 1
    if isinstance(node, Logical | Binary):
        return _PRECEDENCE[node.op]
    if isinstance(node, Not | Negate):
        return _UNARY
    value = node.value if isinstance(node, Literal) else None
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and value < 0:
        return _UNARY
    return _ATOM


_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(text: str) -> str:
    out = []
    for char in text:
        if char in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[char])
        elif ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def format_literal(value: Any) -> str:
    """A literal value as CEL text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return f'date("{value.isoformat()}")'
    return _quote(str(value))


def render(node: Node, *, compact: bool = False, bare: str | None = None) -> str:
    """The canonical CEL text of an expression (parses back to an equal AST).

    compact drops the spaces around operators; bare writes fields of that macro variable
    without the variable ("age < 5" for "m.age < 5"), for fact keys.
    """
    space = "" if compact else " "

    def wrap(child: Node, minimum: int) -> str:
        text = go(child)
        return f"({text})" if _precedence(child) < minimum else text

    def go(n: Node) -> str:
        if isinstance(n, Literal):
            return format_literal(n.value)
        if isinstance(n, ListLiteral):
            return "[" + ("," + space).join(go(i) for i in n.items) + "]"
        if isinstance(n, Field):
            if n.scope is Scope.MEMBER and n.variable == bare:
                return n.name
            return n.path
        if isinstance(n, Members):
            return n.path
        if isinstance(n, Not):
            return "!" + wrap(n.operand, _UNARY)
        if isinstance(n, Negate):
            return "-" + wrap(n.operand, _ATOM)
        if isinstance(n, Binary):
            level = _PRECEDENCE[n.op]
            op = f" {n.op} " if n.op == "in" else f"{space}{n.op}{space}"
            return wrap(n.left, level) + op + wrap(n.right, level + 1)
        if isinstance(n, Logical):
            level = _PRECEDENCE[n.op]
            return f"{space}{n.op}{space}".join(wrap(o, level + 1) for o in n.operands)
        if isinstance(n, Conditional):
            return (
                wrap(n.condition, 2)
                + f"{space}?{space}"
                + wrap(n.then, 2)
                + f"{space}:{space}"
                + wrap(n.otherwise, 1)
            )
        if isinstance(n, Call):
            receiver, *rest = n.arguments
            return wrap(receiver, _ATOM) + f".{n.function}(" + ", ".join(go(a) for a in rest) + ")"
        if isinstance(n, Comprehension):
            return f"{go(n.source)}.{n.macro}({n.variable}, {go(n.body)})"
        if isinstance(n, Count):
            return f"{go(n.source)}.size()"
        if isinstance(n, Enrolled):
            return f"enrolled({_quote(n.programme)})"
        raise TypeError(f"not a rule node: {n!r}")  # pragma: no cover

    return go(node)


# ---------------------------------------------------------------------------------------
# The rule


@dataclass(frozen=True)
class Clause:
    """One top-level operand of the rule's && / || chain (or the whole rule)."""

    text: str
    expression: Node
    position: int


@dataclass(frozen=True)
class Rule:
    """A checked rule. Build with parse_rule(); the fields are derived from the source."""

    source: str
    target: Target
    expression: Node
    fields_used: tuple[str, ...]
    programmes_used: tuple[str, ...]
    content_hash: str
    declared: tuple[str, ...] = ()
    field_types: dict[str, Type] = field(default_factory=dict, compare=False, hash=False)
    member_fields: tuple[str, ...] = ()  # member fields read inside macros (for facts)

    @property
    def connective(self) -> str | None:
        """The operator joining the clauses: "&&", "||", or None for a single clause."""
        return self.expression.op if isinstance(self.expression, Logical) else None

    @property
    def members_path(self) -> str:
        return "household.members" if self.target is Target.PERSON else "members"

    def clauses(self) -> tuple[Clause, ...]:
        """The top-level && / || operands, each with its source text, in order."""
        root = self.expression
        operands = root.operands if isinstance(root, Logical) else (root,)
        return tuple(
            Clause(self.source[o.position : o.end].strip() or render(o), o, o.position)
            for o in operands
        )


def parse_rule(
    source: str,
    *,
    target: Target,
    catalogue: Catalogue,
    declared: Collection[str],
    programmes: Collection[str] = (),
) -> Rule:
    """Parse and check a rule against the programme's declared fields.

    Returns the Rule; raises RuleError (an InvalidInput) when the text does not parse,
    names an unknown, undeclared or refused field, has a type error, divides by something
    that can be zero, names a programme outside `programmes`, exceeds a limit, or is not
    true/false overall.
    """
    if not isinstance(source, str):
        raise InvalidInput("a rule must be text")
    target = Target(target)
    if len(source) > MAX_SOURCE_LENGTH:
        raise RuleError(
            source,
            MAX_SOURCE_LENGTH,
            f"the rule is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}. "
            "Split the conditions across simpler rules or shorten lists.",
        )
    if not source.strip():
        raise RuleError(source, 0, "the rule is empty; write a condition such as `age >= 65`")
    tree = _parse_tree(source)
    builder = _Builder(source, target, catalogue, declared, programmes)
    expression = builder.value(tree)
    if expression.type.kind is not Kind.BOOL:
        raise RuleError(
            source,
            expression.position,
            f"the rule is {expression.type.describe()}, but it must be true or false; "
            f"compare it with something, e.g. `{_snippet(source, expression)} > 0`",
        )
    expression = _flatten(expression)
    declared_names = tuple(sorted(set(declared)))
    canonical = render(expression)
    digest = hashlib.sha256(
        json.dumps(
            {"source": canonical, "target": target.value, "declared": declared_names},
            sort_keys=True,
            ensure_ascii=False,
        ).encode()
    ).hexdigest()
    return Rule(
        source=source,
        target=target,
        expression=expression,
        fields_used=tuple(sorted(builder.fields_used)),
        programmes_used=tuple(sorted(builder.programmes_used)),
        content_hash=digest,
        declared=declared_names,
        field_types=dict(sorted(builder.field_types.items())),
        member_fields=tuple(sorted(builder.member_fields)),
    )


def _flatten(node: Node) -> Node:
    """Merge nested && (or ||) chains at the root, so clauses() lists them all."""
    if not isinstance(node, Logical):
        return node
    operands: list[Node] = []
    for operand in node.operands:
        if isinstance(operand, Logical) and operand.op == node.op:
            operands.extend(_flatten(operand).operands)  # type: ignore[attr-defined]
        else:
            operands.append(operand)
    return Logical(
        op=node.op, operands=tuple(operands), type=BOOL, position=node.position, end=node.end
    )


def _snippet(source: str, node: Node | int, end: int | None = None) -> str:
    if isinstance(node, Node):
        start, stop = node.position, node.end
    else:
        start, stop = node, end if end is not None else node + 1
    text = " ".join(source[start:stop].split())
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------
# Parsing


@functools.cache
def _lark_parser() -> lark.Lark:
    """cel-python's CEL grammar, with positions kept on true/false.

    celpy's own parser re-types `true`/`false` identifiers as BOOL_LIT tokens without their
    position, so error columns and clause texts would be lost; this parser borrows it.
    """
    grammar = (Path(celparser.__file__).parent / "cel.lark").read_text()

    def literals(token: lark.Token) -> lark.Token:
        if token.value in ("true", "false"):
            return lark.Token.new_borrow_pos("BOOL_LIT", token.value, token)
        return token

    return lark.Lark(
        grammar,
        parser="lalr",
        start="expr",
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": literals},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
    )


def _position(source: str, line: int, column: int) -> int:
    offset = 0
    for _ in range(max(line, 1) - 1):
        newline = source.find("\n", offset)
        if newline < 0:
            break
        offset = newline + 1
    return offset + max(column, 1) - 1


def _parse_tree(source: str) -> lark.Tree[Any]:
    try:
        return _lark_parser().parse(source)
    except UnexpectedInput as error:
        raise _syntax_error(source, error) from None


def _syntax_error(source: str, error: UnexpectedInput) -> RuleError:
    hint = "check for a missing operand, quote or parenthesis"
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        return RuleError(
            source,
            len(source.rstrip()),
            f"the rule ends too early, after {_snippet(source, 0, len(source))!r}; {hint}",
        )
    position = getattr(error, "pos_in_stream", None)
    if position is None:
        position = _position(source, error.line, error.column)
    if isinstance(error, UnexpectedCharacters):
        text = source[position : position + 1]
        if text in ("&", "|"):
            hint = "write `&&` for and, `||` for or"
        elif text == "=":
            hint = "compare with `==`, not `=`"
        elif text in ("'", '"'):
            hint = "a text value is missing its closing quote"
        return RuleError(source, position, f"the rule does not parse at {text!r}: {hint}")
    token = error.token if isinstance(error, UnexpectedToken) else source[position : position + 1]
    text = str(token)
    if text in ("&", "|"):
        hint = "write `&&` for and, `||` for or"
    return RuleError(source, position, f"the rule does not parse at {text!r}: {hint}")


_WRAPPERS = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
    }
)
_RELATIONS = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
}
_ARITHMETIC = {
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}

_ESCAPE = re.compile(
    r"\\(?:(?P<simple>[abfnrtv\"'\\`?])|x(?P<hex>[0-9a-fA-F]{2})|u(?P<u4>[0-9a-fA-F]{4})"
    r"|U(?P<u8>[0-9a-fA-F]{8})|(?P<octal>[0-3][0-7]{2}))"
)
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "`": "`",
    "?": "?",
}


def _decode_string(token: str) -> str:
    raw = token[:1] in "rR"
    body = token[1:] if raw else token
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    body = body[len(quote) : -len(quote)]
    if raw:
        return body

    def replace(match: re.Match[str]) -> str:
        if match["simple"] is not None:
            return _SIMPLE_ESCAPES[match["simple"]]
        number = match["hex"] or match["u4"] or match["u8"]
        code = int(number, 16) if number else int(match["octal"], 8)
        return chr(code)

    return _ESCAPE.sub(replace, body)


# ---------------------------------------------------------------------------------------
# Building and checking


@dataclass(frozen=True)
class _Object:
    """`household` or a macro variable: not a value, only a thing with fields."""

    kind: str  # "household" or "member"
    position: int
    end: int
    variable: str | None = None


class _Builder:
    def __init__(
        self,
        source: str,
        target: Target,
        catalogue: Catalogue,
        declared: Collection[str],
        programmes: Collection[str],
    ) -> None:
        self.source = source
        self.target = target
        self.catalogue = catalogue
        self.declared = set(declared)
        self.programmes = set(programmes)
        self.person_fields = self._declared_fields(Entity.PERSON)
        self.household_fields = self._declared_fields(Entity.HOUSEHOLD)
        self.depth = 0
        self.nodes = 0
        self.aggregates = 0
        self.variables: dict[str, int] = {}
        self.fields_used: set[str] = set()
        self.programmes_used: set[str] = set()
        self.field_types: dict[str, Type] = {}
        self.member_fields: set[str] = set()

    def _declared_fields(self, entity: Entity) -> dict[str, FieldDefinition]:
        found = {}
        for name in self.declared:
            definition = self.catalogue.get(entity, name)
            if definition is not None:
                found[name] = definition
        return found

    # -- errors ---------------------------------------------------------------------

    def error(self, where: Any, problem: str) -> RuleError:
        position = where if isinstance(where, int) else _start(where)
        return RuleError(self.source, position, problem)

    def text(self, tree: Any) -> str:
        return _snippet(self.source, _start(tree), _end(tree))

    # -- entry points ---------------------------------------------------------------

    def value(self, tree: Any) -> Node:
        built = self.build(tree)
        if isinstance(built, _Object):
            raise self.error(built.position, self._object_hint(built))
        return built

    def _object_hint(self, obj: _Object) -> str:
        if obj.kind == "household":
            return (
                "`household` is not a value; name one of its fields, e.g. household.size "
                f"(declared household fields: {self._listing(Entity.HOUSEHOLD)})"
            )
        return (
            f"`{obj.variable}` stands for a household member and is not a value; name one of "
            f"its fields, e.g. {obj.variable}.age"
        )

    def build(self, tree: Any) -> Node | _Object:
        while isinstance(tree, lark.Tree) and tree.data in _WRAPPERS and len(tree.children) == 1:
            tree = tree.children[0]
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.error(
                    tree,
                    f"the rule nests more than {MAX_DEPTH} levels deep at {self.text(tree)!r}; "
                    "write it with fewer parentheses and nested operations",
                )
            if self.nodes > MAX_NODES:
                raise self.error(
                    tree,
                    f"the rule has more than {MAX_NODES} parts; split it into simpler "
                    "conditions or shorten its lists",
                )
            return self._dispatch(tree)
        finally:
            self.depth -= 1

    def _dispatch(self, tree: Any) -> Node | _Object:
        kind = tree.data
        if kind == "expr":
            return self._conditional(tree)
        if kind in ("conditionalor", "conditionaland"):
            return self._logical(tree)
        if kind == "relation":
            return self._relation(tree)
        if kind in ("addition", "multiplication"):
            return self._arithmetic(tree)
        if kind == "unary":
            return self._unary(tree)
        if kind == "member_dot":
            return self._select(tree)
        if kind == "member_dot_arg":
            return self._method(tree)
        if kind == "ident":
            return self._ident(tree)
        if kind == "ident_arg":
            return self._function(tree)
        if kind == "paren_expr":
            return self.build(tree.children[0])
        if kind == "list_lit":
            return self._list(tree)
        if kind == "literal":
            return self._literal(tree)
        if kind in ("map_lit", "member_object"):
            raise self.error(
                tree,
                f"maps and messages are not supported in eligibility rules "
                f"({self.text(tree)!r}); compare fields with values or lists instead",
            )
        if kind == "member_index":
            raise self.error(
                tree,
                f"indexing with [...] is not supported ({self.text(tree)!r}); use the "
                "macros exists, all, exists_one or filter(...).size() over household members",
            )
        if kind in ("dot_ident", "dot_ident_arg"):
            raise self.error(
                tree, f"names starting with '.' are not supported ({self.text(tree)!r})"
            )
        raise self.error(tree, f"{self.text(tree)!r} is not supported in eligibility rules")

    # -- operators ------------------------------------------------------------------

    def _conditional(self, tree: Any) -> Node:
        condition_tree, then_tree, otherwise_tree = tree.children
        condition = self.value(condition_tree)
        self._require_bool(condition, "the condition before `?`")
        then = self.value(then_tree)
        otherwise = self.value(otherwise_tree)
        result = self._common_type(then, otherwise)
        if result is None:
            raise self.error(
                otherwise,
                f"both branches of `? :` must have the same type, but {self._show(then)} is "
                f"{then.type.describe()} and {self._show(otherwise)} is "
                f"{otherwise.type.describe()}",
            )
        return Conditional(
            condition=condition,
            then=then,
            otherwise=otherwise,
            type=result,
            position=_start(tree),
            end=_end(tree),
        )

    def _common_type(self, left: Node, right: Node) -> Type | None:
        if left.type.numeric and right.type.numeric:
            return _numeric_join(left.type, right.type)
        if left.type.kind is right.type.kind and left.type.kind in (
            Kind.STRING,
            Kind.BOOL,
            Kind.DATE,
        ):
            return Type(left.type.kind)
        return None

    def _logical(self, tree: Any) -> Node:
        op = "||" if tree.data == "conditionalor" else "&&"
        chain: list[Any] = []
        current = tree
        while (
            isinstance(current, lark.Tree)
            and current.data == tree.data
            and len(current.children) == 2
        ):
            chain.append(current.children[1])
            current = current.children[0]
        chain.append(current)
        chain.reverse()
        operands = []
        for operand_tree in chain:
            operand = self.value(operand_tree)
            self._require_bool(operand, f"each side of `{op}`")
            operands.append(operand)
        return Logical(
            op=op, operands=tuple(operands), type=BOOL, position=_start(tree), end=_end(tree)
        )

    def _require_bool(self, node: Node, role: str) -> None:
        if node.type.kind is not Kind.BOOL:
            raise self.error(
                node,
                f"{role} must be true or false, but {self._show(node)} is "
                f"{node.type.describe()}; compare it with a value, e.g. "
                f"`{_snippet(self.source, node)} > 0`",
            )

    def _show(self, node: Node) -> str:
        return repr(_snippet(self.source, node)) if node.end > node.position else render(node)

    def _relation(self, tree: Any) -> Node:
        operator_tree, right_tree = tree.children
        op = _RELATIONS[operator_tree.data]
        left = self.value(operator_tree.children[0])
        right = self.value(right_tree)
        position, end = _start(tree), _end(tree)
        if op == "in":
            return self._membership(left, right, position, end)
        return self._comparison(op, left, right, position, end)

    def _comparison(self, op: str, left: Node, right: Node, position: int, end: int) -> Node:
        if Kind.NULL in (left.type.kind, right.type.kind):
            other = right if left.type.kind is Kind.NULL else left
            if (
                op not in ("==", "!=")
                or left.type.kind is right.type.kind
                or other.type.kind in (Kind.LIST, Kind.MEMBERS)
            ):
                raise self.error(
                    other if op in ("==", "!=") else right,
                    "null can only be tested with `== null` or `!= null` against a field, "
                    f"e.g. `monthly_income == null` (got {_snippet(self.source, position, end)!r})",
                )
        else:
            self._check_comparable(op, left, right)
        return Binary(op=op, left=left, right=right, type=BOOL, position=position, end=end)

    def _check_comparable(self, op: str, left: Node, right: Node) -> None:
        for node in (left, right):
            if node.type.kind in (Kind.LIST, Kind.MEMBERS):
                raise self.error(
                    node,
                    f"{self._show(node)} is {node.type.describe()} and cannot be compared with "
                    f"`{op}`; use `in` for a list, or .size() / exists() for members",
                )
        if left.type.numeric and right.type.numeric:
            return
        if left.type.kind is not right.type.kind:
            hint = ""
            if Kind.DATE in (left.type.kind, right.type.kind):
                hint = '; write a date as date("YYYY-MM-DD"), or use age for years'
            elif Kind.STRING in (left.type.kind, right.type.kind):
                hint = "; put text in quotes and numbers without quotes"
            raise self.error(
                right,
                f"cannot compare {self._show(left)} ({left.type.describe()}) with "
                f"{self._show(right)} ({right.type.describe()}) using `{op}`{hint}",
            )
        if op not in ("==", "!=") and left.type.kind is Kind.BOOL:
            raise self.error(
                right,
                f"true/false values cannot be ordered with `{op}`; use `==` or `!=`",
            )
        if op not in ("==", "!="):
            for node in (left, right):
                if node.type.choices:
                    raise self.error(
                        node,
                        f"{self._show(node)} is a list of choices ({', '.join(node.type.choices)})"
                        f" and has no order; compare with `==`, `!=` or `in [...]`",
                    )
        self._check_choice(left, right)
        self._check_choice(right, left)

    def _check_choice(self, field_node: Node, value: Node) -> None:
        choices = field_node.type.choices
        if not choices or not isinstance(value, Literal) or not isinstance(value.value, str):
            return
        if value.value not in choices:
            raise self.error(
                value,
                f"{_quote(value.value)} is not one of the choices of {self._show(field_node)}: "
                f"{', '.join(choices)}; use one of them",
            )

    def _membership(self, left: Node, right: Node, position: int, end: int) -> Node:
        if not isinstance(right, ListLiteral):
            raise self.error(
                right,
                f'`in` needs a list of values on its right, like ["a", "b"], not '
                f"{self._show(right)} ({right.type.describe()})",
            )
        if left.type.kind in (Kind.NULL, Kind.LIST, Kind.MEMBERS):
            raise self.error(
                left, f"{self._show(left)} ({left.type.describe()}) cannot be looked up in a list"
            )
        element = right.type.element
        if element is not None:
            fits = (left.type.numeric and element.numeric) or left.type.kind is element.kind
            if not fits:
                raise self.error(
                    right,
                    f"cannot look up {self._show(left)} ({left.type.describe()}) in a list of "
                    f"{element.describe()}",
                )
            for item in right.items:
                self._check_choice(left, item)
        return Binary(op="in", left=left, right=right, type=BOOL, position=position, end=end)

    def _arithmetic(self, tree: Any) -> Node:
        operator_tree, right_tree = tree.children
        op = _ARITHMETIC[operator_tree.data]
        left = self.value(operator_tree.children[0])
        right = self.value(right_tree)
        position, end = _start(tree), _end(tree)
        for node in (left, right):
            if not node.type.numeric:
                hint = ""
                if node.type.kind is Kind.STRING:
                    hint = "; text cannot be used in arithmetic"
                elif node.type.kind is Kind.DATE:
                    hint = "; dates cannot be used in arithmetic, compare them or use age"
                raise self.error(
                    node,
                    f"`{op}` needs numbers, but {self._show(node)} is {node.type.describe()}{hint}",
                )
        if op in ("/", "%"):
            self._check_divisor(op, left, right)
        if op == "/":
            if _division_depth(left) >= MAX_NESTED_DIVISIONS:
                raise self.error(
                    position,
                    f"divisions are nested more than {MAX_NESTED_DIVISIONS} deep; "
                    "simplify the arithmetic",
                )
            result = decimal_type(DIVISION_SCALE)
        elif op == "%":
            result = INT
        elif op == "*":
            result = (
                INT
                if left.type.kind is right.type.kind is Kind.INT
                else decimal_type(left.type.scale + right.type.scale)
            )
        else:
            result = _numeric_join(left.type, right.type)
        if result.scale > MAX_SCALE:
            raise self.error(
                position,
                f"the arithmetic in {_snippet(self.source, position, end)!r} multiplies too "
                "many decimals together; simplify it",
            )
        return Binary(op=op, left=left, right=right, type=result, position=position, end=end)

    def _check_divisor(self, op: str, left: Node, right: Node) -> None:
        word = "divides" if op == "/" else "takes a remainder"
        if not isinstance(right, Literal):
            suggestion = (
                "use household.income_per_person instead of dividing by the household size"
                if self.target is Target.PERSON
                else "use income_per_person instead of dividing by size"
            )
            raise self.error(
                right,
                f"the rule {word} by {self._show(right)}, a field that can be zero; divide "
                f"only by a non-zero number written in the rule — {suggestion}, or multiply "
                "the other side instead (`total_income < 120 * size`)",
            )
        if right.value == 0:
            raise self.error(right, f"the rule {word} by zero")
        if op == "%" and not (left.type.kind is right.type.kind is Kind.INT):
            raise self.error(right, "`%` is for whole numbers only")

    def _unary(self, tree: Any) -> Node:
        operator_tree, operand_tree = tree.children
        operand = self.value(operand_tree)
        position, end = _start(tree), _end(tree)
        if operator_tree.data == "unary_not":
            self._require_bool(operand, "the operand of `!`")
            return Not(operand=operand, type=BOOL, position=position, end=end)
        if not operand.type.numeric:
            raise self.error(
                operand,
                f"`-` needs a number, but {self._show(operand)} is {operand.type.describe()}",
            )
        if isinstance(operand, Literal):
            return Literal(value=-operand.value, type=operand.type, position=position, end=end)
        return Negate(operand=operand, type=operand.type, position=position, end=end)

    # -- values ---------------------------------------------------------------------

    def _literal(self, tree: Any) -> Node:
        token = tree.children[0]
        text = str(token)
        position, end = _start(tree), _end(tree)
        kind = token.type
        value: Any
        if kind == "INT_LIT":
            negative = text.startswith("-")
            digits = text[1:] if negative else text
            number = int(digits, 16) if digits[:2].lower() == "0x" else int(digits)
            value = -number if negative else number
            self._check_magnitude(value, position)
            return Literal(value=value, type=INT, position=position, end=end)
        if kind == "FLOAT_LIT":
            try:
                number_value = Decimal(text)
            except InvalidOperation:  # pragma: no cover - the grammar only lets numbers in
                raise self.error(position, f"{text!r} is not a number") from None
            if int(number_value.as_tuple().exponent) >= 0:
                number_value = number_value.quantize(Decimal("0.1"))
            places = -int(number_value.as_tuple().exponent)
            if places > MAX_DECIMAL_PLACES:
                raise self.error(
                    position,
                    f"{text} has {places} decimal places; at most {MAX_DECIMAL_PLACES} are allowed",
                )
            self._check_magnitude(number_value, position)
            return Literal(
                value=number_value, type=decimal_type(places), position=position, end=end
            )
        if kind in ("STRING_LIT", "MLSTRING_LIT"):
            return Literal(value=_decode_string(text), type=STRING, position=position, end=end)
        if kind == "BOOL_LIT":
            return Literal(value=text == "true", type=BOOL, position=position, end=end)
        if kind == "NULL_LIT":
            return Literal(value=None, type=NULL, position=position, end=end)
        if kind == "UINT_LIT":
            raise self.error(
                position, f"unsigned numbers like {text} are not supported; write {text[:-1]}"
            )
        raise self.error(position, f"bytes values like {text} are not supported; use text")

    def _check_magnitude(self, value: int | Decimal, position: int) -> None:
        if Decimal(value).copy_abs() >= MAX_LITERAL_MAGNITUDE:
            raise self.error(
                position,
                f"the number {value} is too large; numbers in rules must be below "
                f"{MAX_LITERAL_MAGNITUDE:,}",
            )

    def _list(self, tree: Any) -> Node:
        position, end = _start(tree), _end(tree)
        item_trees = tree.children[0].children if tree.children else []
        if len(item_trees) > MAX_LIST_ITEMS:
            raise self.error(
                tree,
                f"the list has {len(item_trees)} items; the limit is {MAX_LIST_ITEMS}. "
                "Use a declared field that groups the values instead",
            )
        items: list[Literal] = []
        element: Type | None = None
        for item_tree in item_trees:
            item = self.value(item_tree)
            if not isinstance(item, Literal) or item.type.kind is Kind.NULL:
                raise self.error(
                    item,
                    f"list items must be values written out (numbers, text, true/false, "
                    f"dates), not {self._show(item)}",
                )
            if element is None:
                element = item.type
            elif element.numeric and item.type.numeric:
                element = _numeric_join(element, item.type)
            elif element.kind is not item.type.kind:
                raise self.error(
                    item,
                    f"list items have mixed types: {self._show(item)} is "
                    f"{item.type.describe()} but the list holds {element.describe()}; "
                    "use one type per list",
                )
            items.append(item)
        if element is not None and element.kind is not Kind.DECIMAL:
            element = Type(element.kind)
        return ListLiteral(
            items=tuple(items),
            type=Type(Kind.LIST, element=element),
            position=position,
            end=end,
        )

    # -- names ----------------------------------------------------------------------

    def _listing(self, entity: Entity | None = None) -> str:
        if entity is Entity.HOUSEHOLD:
            names = sorted(self.household_fields) + list(DERIVED_HOUSEHOLD) + ["members"]
            return ", ".join(names)
        names = sorted(self.person_fields)
        if "date_of_birth" in self.person_fields:
            names.append("age")
        if entity is Entity.PERSON:
            return ", ".join(names) or "none"
        if self.target is Target.PERSON:
            return ", ".join(
                names
                + [f"household.{n}" for n in sorted(self.household_fields)]
                + [f"household.{n}" for n in DERIVED_HOUSEHOLD]
                + ["household.members"]
            )
        return self._listing(Entity.HOUSEHOLD)

    def _ident(self, tree: Any) -> Node | _Object:
        name = str(tree.children[0])
        position, end = _start(tree), _end(tree)
        if name in self.variables:
            return _Object("member", position, end, name)
        if self.target is Target.PERSON:
            if name == "household":
                return _Object("household", position, end)
            if name == "members":
                raise self.error(
                    position,
                    "the rule targets people; write household.members for the members of the "
                    "person's household",
                )
            return self._field(Scope.SUBJECT, name, position, end, name)
        if name == "household":
            raise self.error(
                position,
                "the rule targets households; write the household's fields directly "
                "(region, size, members), without `household.`",
            )
        if name == "members":
            self._count_aggregate(position)
            return Members(path="members", type=MEMBER_LIST, position=position, end=end)
        return self._field(Scope.SUBJECT, name, position, end, name)

    def _select(self, tree: Any) -> Node:
        receiver_tree, name_token = tree.children
        name = str(name_token)
        receiver = self.build(receiver_tree)
        position, end = _start(tree), _end(tree)
        name_position = name_token.start_pos
        if isinstance(receiver, _Object):
            if receiver.kind == "household":
                if name == "members":
                    self._count_aggregate(position)
                    return Members(
                        path="household.members", type=MEMBER_LIST, position=position, end=end
                    )
                return self._field(
                    Scope.HOUSEHOLD, name, name_position, end, f"household.{name}", position
                )
            variable = receiver.variable
            return self._field(
                Scope.MEMBER,
                name,
                name_position,
                end,
                f"{variable}.{name}",
                position,
                variable=variable,
            )
        raise self.error(
            name_position,
            f"{self._show(receiver)} has no field {name!r}; only `household` and macro "
            "variables have fields (write a method call with parentheses, e.g. .size())",
        )

    def _field(
        self,
        scope: Scope,
        name: str,
        position: int,
        end: int,
        path: str,
        start: int | None = None,
        variable: str | None = None,
    ) -> Node:
        """Resolve a name in a scope to a typed Field, or raise naming what is allowed."""
        start = position if start is None else start
        if scope is Scope.HOUSEHOLD or (scope is Scope.SUBJECT and self.target is Target.HOUSEHOLD):
            entity = Entity.HOUSEHOLD
        else:
            entity = Entity.PERSON
        derived_type = self._derived(entity, name, position)
        if derived_type is not None:
            node = Field(
                scope=scope,
                name=name,
                path=path,
                variable=variable,
                derived=True,
                type=derived_type,
                position=start,
                end=end,
            )
        else:
            definition = self._definition(entity, name, position, scope)
            node = Field(
                scope=scope,
                name=name,
                path=path,
                variable=variable,
                type=field_type(definition),
                position=start,
                end=end,
            )
            self.fields_used.add(name)
        if scope is Scope.MEMBER:
            self.member_fields.add(name)
            members = "household.members" if self.target is Target.PERSON else "members"
            self.field_types[f"{members}[].{name}"] = node.type
        else:
            self.field_types[path] = node.type
        return node

    def _derived(self, entity: Entity, name: str, position: int) -> Type | None:
        if entity is Entity.PERSON and name == "age":
            if "date_of_birth" not in self.person_fields:
                raise self.error(
                    position,
                    "age is worked out from date_of_birth, which this programme does not "
                    "declare; declare date_of_birth to use age",
                )
            self.fields_used.add("date_of_birth")
            return INT
        if entity is Entity.HOUSEHOLD and name in DERIVED_HOUSEHOLD:
            if name == "size":
                return INT
            if "monthly_income" not in self.person_fields:
                raise self.error(
                    position,
                    f"{name} is worked out from the members' monthly_income, which this "
                    "programme does not declare; declare monthly_income to use it",
                )
            self.fields_used.add("monthly_income")
            return MONEY
        return None

    def _definition(
        self, entity: Entity, name: str, position: int, scope: Scope
    ) -> FieldDefinition:
        own = self.person_fields if entity is Entity.PERSON else self.household_fields
        definition = own.get(name) or self.catalogue.get(entity, name)
        other_entity = Entity.HOUSEHOLD if entity is Entity.PERSON else Entity.PERSON
        other = self.catalogue.get(other_entity, name)
        # The red line first: a refused category is named as such, declared or not.
        for candidate in (definition, other):
            texts = [name] if candidate is None else [candidate.name, candidate.label]
            for text in texts:
                hit = find_refused(text)
                if hit is not None:
                    category, term = hit
                    raise self.error(
                        position,
                        f"field {name!r} is about {category.label} (matched {term!r}), a "
                        "category Fairshare refuses; no rule can use it. Base the rule on "
                        f"declared need facts: {self._listing()}",
                    )
        if name in own:
            return own[name]
        other_declared = (
            self.household_fields if other_entity is Entity.HOUSEHOLD else self.person_fields
        )
        if definition is None and name in other_declared:
            if other_entity is Entity.HOUSEHOLD:
                raise self.error(position, f"{name!r} is a household field; write household.{name}")
            hint = (
                f"use it inside a macro, e.g. members.exists(m, m.{name} ...)"
                if self.target is Target.HOUSEHOLD
                else f"write {name} without `household.`"
            )
            raise self.error(position, f"{name!r} is a person field; {hint}")
        if (
            entity is Entity.PERSON
            and scope is Scope.SUBJECT
            and name in (*DERIVED_HOUSEHOLD, "members")
        ):
            raise self.error(position, f"{name!r} belongs to the household; write household.{name}")
        member_entity = Entity.PERSON if scope is Scope.MEMBER else None
        if definition is not None or other is not None:
            raise self.error(
                position,
                f"field {name!r} is not declared by this programme; a rule may only use the "
                f"fields its programme declares ({self._listing(member_entity)}). Declare "
                f"{name!r} for "
                "the programme first",
            )
        where = {
            Scope.SUBJECT: "",
            Scope.HOUSEHOLD: "household ",
            Scope.MEMBER: "member ",
        }[scope]
        raise self.error(
            position,
            f"unknown {where}name {name!r}: it is not a field in the data catalogue; "
            f"this programme declares: {self._listing(member_entity)}",
        )

    def _count_aggregate(self, position: int) -> None:
        self.aggregates += 1
        if self.aggregates > MAX_MEMBER_AGGREGATES:
            raise self.error(
                position,
                f"the rule uses the household members more than {MAX_MEMBER_AGGREGATES} "
                "times; combine the conditions into fewer macros",
            )

    # -- calls ----------------------------------------------------------------------

    def _arguments(self, tree: Any, index: int) -> list[Any]:
        if len(tree.children) > index:
            return list(tree.children[index].children)
        return []

    def _function(self, tree: Any) -> Node:
        name_token = tree.children[0]
        name = str(name_token)
        arguments = self._arguments(tree, 1)
        position, end = _start(tree), _end(tree)
        if name == "size":
            if len(arguments) != 1:
                raise self.error(position, "size() takes one argument: size(x) or x.size()")
            return self._size(self.value(arguments[0]), position, end)
        if name in ("date", "enrolled"):
            if len(arguments) != 1:
                raise self.error(position, f'{name}() takes one text argument: {name}("...")')
            argument = self.value(arguments[0])
            if not isinstance(argument, Literal) or not isinstance(argument.value, str):
                example = '"2024-01-31"' if name == "date" else '"pension"'
                raise self.error(
                    argument,
                    f"{name}() takes text written in the rule, e.g. {name}({example})",
                )
            if name == "date":
                return self._date(argument, position, end)
            return self._enrolled(argument, position, end)
        if name in MACROS or name in STRING_METHODS:
            raise self.error(
                position, f"{name}() is a method; write it after a value: x.{name}(...)"
            )
        raise self.error(position, self._unknown_function(name))

    def _unknown_function(self, name: str) -> str:
        return (
            f"function {name!r} is not available in eligibility rules; available: size, "
            "startsWith, endsWith, contains, lowerAscii, date, enrolled, and the macros "
            "filter, exists, all, exists_one over household members"
        )

    def _date(self, argument: Literal, position: int, end: int) -> Node:
        text = argument.value
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError(text)
            value = date.fromisoformat(text)
        except ValueError:
            raise self.error(
                argument,
                f'{_quote(text)} is not a date; write date("YYYY-MM-DD"), e.g. date("2024-01-31")',
            ) from None
        return Literal(value=value, type=DATE, position=position, end=end)

    def _enrolled(self, argument: Literal, position: int, end: int) -> Node:
        code = argument.value
        if code not in self.programmes:
            listed = ", ".join(sorted(self.programmes)) or "none"
            raise self.error(
                argument,
                f"enrolled({_quote(code)}) names a programme this programme may not depend "
                f"on; published programmes it may name: {listed}",
            )
        self.programmes_used.add(code)
        return Enrolled(programme=code, type=BOOL, position=position, end=end)

    def _size(self, operand: Node, position: int, end: int) -> Node:
        if isinstance(operand, Members) or (
            isinstance(operand, Comprehension) and operand.macro == "filter"
        ):
            return Count(source=operand, type=INT, position=position, end=end)
        if operand.type.kind is Kind.STRING:
            return Call(function="size", arguments=(operand,), type=INT, position=position, end=end)
        raise self.error(
            operand,
            f"size() counts text characters or household members, not "
            f"{operand.type.describe()} ({self._show(operand)})",
        )

    def _method(self, tree: Any) -> Node:
        receiver_tree, name_token = tree.children[0], tree.children[1]
        name = str(name_token)
        arguments = self._arguments(tree, 2)
        position, end = _start(tree), _end(tree)
        if name in MACROS:
            return self._macro(tree, name, receiver_tree, arguments)
        receiver = self.value(receiver_tree)
        if name == "size":
            if arguments:
                raise self.error(name_token.start_pos, ".size() takes no arguments")
            return self._size(receiver, position, end)
        if name not in STRING_METHODS:
            if name == "matches":
                problem = (
                    "regular expressions (matches) are not supported; use startsWith, "
                    "endsWith, contains or `in [...]`"
                )
            else:
                problem = self._unknown_function(name)
            raise self.error(name_token.start_pos, problem)
        if isinstance(receiver, Comprehension) or receiver.type.kind is not Kind.STRING:
            raise self.error(
                receiver,
                f".{name}() works on text, but {self._show(receiver)} is "
                f"{receiver.type.describe()}",
            )
        expected = 0 if name == "lowerAscii" else 1
        if len(arguments) != expected:
            raise self.error(
                name_token.start_pos,
                f".{name}() takes {'no arguments' if expected == 0 else 'one text argument'}",
            )
        values = [self.value(a) for a in arguments]
        for value in values:
            if value.type.kind is not Kind.STRING:
                raise self.error(
                    value,
                    f".{name}() needs text, but {self._show(value)} is {value.type.describe()}",
                )
        result = STRING if name == "lowerAscii" else BOOL
        return Call(
            function=name,
            arguments=(receiver, *values),
            type=result,
            position=position,
            end=end,
        )

    def _macro(self, tree: Any, name: str, receiver_tree: Any, arguments: list[Any]) -> Node:
        position, end = _start(tree), _end(tree)
        receiver = self.build(receiver_tree)
        if not isinstance(receiver, Members):
            path = "household.members" if self.target is Target.PERSON else "members"
            raise self.error(
                receiver_tree,
                f".{name}() works over the household members only: write {path}.{name}(m, ...)",
            )
        if len(arguments) != 2:
            raise self.error(
                position,
                f".{name}() takes a variable and a condition: {receiver.path}.{name}(m, m.age < 5)",
            )
        variable_tree = arguments[0]
        while (
            isinstance(variable_tree, lark.Tree)
            and variable_tree.data in _WRAPPERS
            and len(variable_tree.children) == 1
        ):
            variable_tree = variable_tree.children[0]
        if not (isinstance(variable_tree, lark.Tree) and variable_tree.data == "ident"):
            raise self.error(
                arguments[0],
                f"the first argument of .{name}() must be a variable name, like m",
            )
        variable = str(variable_tree.children[0])
        taken = (
            variable in self.variables
            or variable in ("household", "members", "age", "enrolled", "date", "size")
            or variable in self.person_fields
            or variable in self.household_fields
            or variable in DERIVED_HOUSEHOLD
        )
        if taken:
            raise self.error(
                variable_tree,
                f"the variable name {variable!r} is already a name in this rule; choose "
                "another, like m",
            )
        self.variables[variable] = _start(variable_tree)
        try:
            body = self.value(arguments[1])
        finally:
            del self.variables[variable]
        self._require_bool(body, f"the condition of .{name}()")
        result = MEMBER_LIST if name == "filter" else BOOL
        return Comprehension(
            macro=name,
            variable=variable,
            source=receiver,
            body=body,
            type=result,
            position=position,
            end=end,
        )


def _division_depth(node: Node) -> int:
    depth = 0
    for child in children(node):
        depth = max(depth, _division_depth(child))
    if isinstance(node, Binary) and node.op == "/":
        depth += 1
    return depth


def _start(where: Any) -> int:
    if isinstance(where, Node | _Object):
        return where.position
    if isinstance(where, lark.Token):
        return where.start_pos or 0
    if isinstance(where, lark.Tree):
        meta = where.meta
        if not meta.empty:
            return int(meta.start_pos)
        for child in where.children:
            return _start(child)
    return 0


def _end(where: Any) -> int:
    if isinstance(where, Node | _Object):
        return where.end
    if isinstance(where, lark.Token):
        return where.end_pos or 0
    if isinstance(where, lark.Tree):
        meta = where.meta
        if not meta.empty:
            return int(meta.end_pos)
    return 0
