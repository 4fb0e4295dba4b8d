"""Plain-language explanations of an eligibility decision, in English and Spanish.

One sentence per clause of the rule says what the condition is about, the value that was
read, whether it held, and then a summary sentence ("Eligible." / "Not eligible: ...").
DESIGN.md red line 3: every decision is explainable to the person it concerns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from fairshare.catalogue.model import CORE_FIELDS
from fairshare.eligibility.evaluate import ClauseResult, Evaluation, member_fact_key
from fairshare.eligibility.rules import (
    Binary,
    Comprehension,
    Count,
    Enrolled,
    Field,
    Kind,
    ListLiteral,
    Literal,
    Members,
    Node,
    Not,
    Rule,
    render,
)

__all__ = ["LANGUAGES", "explain"]

LANGUAGES = ("en", "es")

_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}

# (held, not held) phrases per operator
_PHRASES = {
    "en": {
        "<": ("is below the limit {x}", "is not below the limit {x}"),
        "<=": ("is at most {x}", "is above {x}"),
        ">": ("is above {x}", "is not above {x}"),
        ">=": ("is at least {x}", "is below {x}"),
        "==": ("is {x}", "is not {x}"),
        "!=": ("is not {x}", "is {x}"),
        "in": ("is one of {x}", "is not one of {x}"),
    },
    "es": {
        "<": ("está por debajo del límite {x}", "no está por debajo del límite {x}"),
        "<=": ("es como máximo {x}", "supera {x}"),
        ">": ("está por encima de {x}", "no está por encima de {x}"),
        ">=": ("es al menos {x}", "es menor que {x}"),
        "==": ("es {x}", "no es {x}"),
        "!=": ("no es {x}", "es {x}"),
        "in": ("es uno de {x}", "no es uno de {x}"),
    },
}

_WORDS = {
    "en": {
        "met": "met",
        "not met": "not met",
        "yes": "yes",
        "no": "no",
        "missing": "{label} is not recorded",
        "count": "the number of household members",
        "count with": "the number of household members with {p}",
        "exists": ("a household member has {p} ({n} found)", "no household member has {p}"),
        "all": (
            "all household members have {p} ({n} of {t})",
            "not all household members have {p} ({n} of {t})",
        ),
        "exists_one": (
            "exactly one household member has {p}",
            "not exactly one household member has {p} ({n} found)",
        ),
        "enrolled": ("enrolled in programme {c}", "not enrolled in programme {c}"),
        "and": ", ",
        "eligible": "Eligible.",
        "not eligible": "Not eligible: not met: {c}.",
        "none met": "Not eligible: none of the conditions was met.",
    },
    "es": {
        "met": "se cumple",
        "not met": "no se cumple",
        "yes": "sí",
        "no": "no",
        "missing": "{label} no está registrado",
        "count": "el número de miembros del hogar",
        "count with": "el número de miembros del hogar con {p}",
        "exists": (
            "un miembro del hogar cumple {p} ({n} en total)",
            "ningún miembro del hogar cumple {p}",
        ),
        "all": (
            "todos los miembros del hogar cumplen {p} ({n} de {t})",
            "no todos los miembros del hogar cumplen {p} ({n} de {t})",
        ),
        "exists_one": (
            "exactamente un miembro del hogar cumple {p}",
            "no es exactamente un miembro del hogar quien cumple {p} ({n} en total)",
        ),
        "enrolled": ("inscrito en el programa {c}", "no inscrito en el programa {c}"),
        "and": ", ",
        "eligible": "Elegible.",
        "not eligible": "No elegible: no se cumple: {c}.",
        "none met": "No elegible: no se cumplió ninguna de las condiciones.",
    },
}

_DERIVED_LABELS = {
    "en": {
        "age": "age",
        "size": "household size",
        "total_income": "household income",
        "income_per_person": "income per person",
    },
    "es": {
        "age": "la edad",
        "size": "el tamaño del hogar",
        "total_income": "el ingreso total del hogar",
        "income_per_person": "el ingreso por persona",
    },
}
_SPANISH_LABELS = {
    "date_of_birth": "la fecha de nacimiento",
    "sex": "el sexo",
    "relationship_to_head": "el parentesco con el jefe de hogar",
    "employment_status": "la situación laboral",
    "monthly_income": "el ingreso mensual",
    "disability": "la discapacidad",
    "chronic_illness": "la enfermedad crónica",
    "region": "la región",
    "municipality": "el municipio",
    "dwelling_type": "el tipo de vivienda",
    "dwelling_tenure": "la tenencia de la vivienda",
    "land_hectares": "la tierra en propiedad (hectáreas)",
    "owns_vehicle": "tiene vehículo",
}
_ENGLISH_LABELS = {f.name: f.label[:1].lower() + f.label[1:] for f in CORE_FIELDS}


def explain(
    rule: Rule,
    evaluation: Evaluation,
    language: str = "en",
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """One sentence per clause saying whether it held, with the values; then a summary.

    labels maps field names (or fact paths) to the words to use, e.g. catalogue labels.
    Raises ValueError for a language other than "en" or "es".
    """
    if language not in LANGUAGES:
        raise ValueError(f"no explanations in {language!r}; available: {', '.join(LANGUAGES)}")
    writer = _Writer(rule, language, labels or {})
    sentences = []
    failed = []
    for clause, result in zip(rule.clauses(), evaluation.clauses, strict=False):
        sentences.append(writer.clause(clause.expression, result))
        if not result.value:
            failed.append(result.text)
    words = _WORDS[language]
    if evaluation.eligible:
        sentences.append(str(words["eligible"]))
    elif rule.connective == "||":
        sentences.append(str(words["none met"]))
    else:
        listed = "; ".join(failed) if failed else "—"
        sentences.append(str(words["not eligible"]).format(c=listed))
    return sentences


class _Writer:
    def __init__(self, rule: Rule, language: str, labels: Mapping[str, str]) -> None:
        self.rule = rule
        self.language = language
        self.labels = labels
        self.words: dict[str, Any] = _WORDS[language]

    def clause(self, node: Node, result: ClauseResult) -> str:
        outcome = self.words["met"] if result.value else self.words["not met"]
        return f"{self.describe(node, result)} — {outcome}"

    # -- labels and values ----------------------------------------------------------

    def label(self, node: Field) -> str:
        for key in (node.path, node.name):
            if key in self.labels:
                return self.labels[key]
        if node.derived:
            return _DERIVED_LABELS[self.language][node.name]
        if self.language == "es" and node.name in _SPANISH_LABELS:
            return _SPANISH_LABELS[node.name]
        if node.name in _ENGLISH_LABELS:
            return _ENGLISH_LABELS[node.name]
        return node.name.replace("_", " ")

    def show(self, value: Any) -> str:
        if isinstance(value, bool):
            return str(self.words["yes"] if value else self.words["no"])
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return ", ".join(self.show(v) for v in value)
        return str(value)

    def subject(self, node: Node, facts: dict[str, Any]) -> tuple[str, Any, bool] | None:
        """(words for the thing compared, its value, whether the value was read)."""
        if isinstance(node, Field):
            return self.label(node), facts.get(node.path), node.path in facts
        if isinstance(node, Count):
            source = node.source
            key = member_fact_key(self.rule, source)
            if isinstance(source, Members):
                words = str(self.words["count"])
            else:
                predicate = render(source.body, bare=source.variable)
                words = str(self.words["count with"]).format(p=predicate)
            return words, facts.get(key), key in facts
        return None

    # -- sentences ------------------------------------------------------------------

    def describe(self, node: Node, result: ClauseResult) -> str:
        facts = result.facts
        if isinstance(node, Binary) and (node.op in _FLIPPED or node.op == "in"):
            sentence = self.comparison(node, result)
            if sentence is not None:
                return sentence
        enrolled = node.operand if isinstance(node, Not) else node
        if isinstance(enrolled, Enrolled):
            held = bool(facts.get(f'enrolled("{enrolled.programme}")'))
            held_text, not_held = self.words["enrolled"]
            return str(held_text if held else not_held).format(c=enrolled.programme)
        if isinstance(node, Comprehension) and node.macro != "filter":
            matched = facts.get(member_fact_key(self.rule, node), 0)
            total = facts.get(f"{node.source.path}.count", matched)
            held_text, not_held = self.words[node.macro]
            predicate = render(node.body, bare=node.variable)
            return str(held_text if result.value else not_held).format(
                p=predicate, n=matched, t=total
            )
        bare = node.operand if isinstance(node, Not) else node
        if isinstance(bare, Field) and bare.type.kind is Kind.BOOL:
            value = facts.get(bare.path)
            shown = self.show(value) if value is not None else self.missing_word()
            return f"{self.label(bare)}: {shown}"
        return self.fallback(result)

    def missing_word(self) -> str:
        return "not recorded" if self.language == "en" else "no registrado"

    def comparison(self, node: Binary, result: ClauseResult) -> str | None:
        op = node.op
        left, right = node.left, node.right
        if op != "in" and isinstance(left, Literal) and not isinstance(right, Literal):
            left, right, op = right, left, _FLIPPED[op]
        if not isinstance(right, Literal | ListLiteral):
            return None
        if isinstance(right, Literal) and right.value is None:
            return None
        about = self.subject(left, result.facts)
        if about is None:
            return None
        words, value, _ = about
        if isinstance(right, ListLiteral):
            limit = self.show([item.value for item in right.items])
        else:
            limit = self.show(right.value)
        if value is None:
            return str(self.words["missing"]).format(label=words)
        held_text, not_held = _PHRASES[self.language][op]
        phrase = (held_text if result.value else not_held).format(x=limit)
        shown = self.show(value)
        if isinstance(left, Count):
            return f"{words} ({shown}) {phrase}"
        return f"{words} {shown} {phrase}"

    def fallback(self, result: ClauseResult) -> str:
        if not result.facts:
            return result.text
        values = ", ".join(
            f"{key} = {self.show(value) if value is not None else self.missing_word()}"
            for key, value in result.facts.items()
        )
        return f"{result.text} ({values})"
