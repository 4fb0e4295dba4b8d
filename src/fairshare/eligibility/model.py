"""Eligibility domain: programmes, published rule versions, decisions, appeals, simulations.

Plain Python. A programme states who it targets, what it pays per cycle and which catalogue
fields its rule may read (each with the reason it needs it); that list is published with the
programme. A published rule version never changes: a changed rule is a new version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from fairshare.assets import asset_definition, format_amount
from fairshare.catalogue.model import Catalogue, Entity, FieldDefinition, UnknownField, clean_text
from fairshare.catalogue.redline import check_field
from fairshare.errors import Conflict, InvalidInput, NotFound

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
DEFAULT_APPEAL_DAYS = 30
# Breakdown cells counting fewer people than this are shown as "<10" to roles that may not see
# persons: a cell of 2 in a small region can point at a family.
SMALL_CELL = 10
SUPPRESSED = f"<{SMALL_CELL}"
MAX_RULE_LENGTH = 10_000
MAX_DECLARED_FIELDS = 50
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 4, "0-4"),
    (5, 17, "5-17"),
    (18, 24, "18-24"),
    (25, 59, "25-59"),
    (60, 64, "60-64"),
    (65, None, "65+"),
)
BREAKDOWNS = ("region", "age_band", "sex", "household_size")


class Target(StrEnum):
    """Who a programme decides about (the rule language uses the same two values)."""

    PERSON = "person"
    HOUSEHOLD = "household"


class CyclePeriod(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


class DecisionBasis(StrEnum):
    RULE = "rule"  # the published rule, evaluated by a run
    APPEAL = "appeal"  # a caseworker's decision on an appeal, superseding the rule's


class AppealStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class AppealOutcome(StrEnum):
    UPHOLD = "uphold"
    OVERTURN = "overturn"


_PERIOD_WORDS = {
    "en": {"monthly": "monthly", "quarterly": "quarterly", "yearly": "yearly"},
    "es": {"monthly": "al mes", "quarterly": "al trimestre", "yearly": "al año"},
}


def benefit_text(asset: str, amount: int, period: CyclePeriod, language: str = "en") -> str:
    """What a programme pays per cycle, in words: '130.00 local currency monthly'."""
    words = _PERIOD_WORDS.get(language, _PERIOD_WORDS["en"])
    return f"{format_amount(asset, amount, language)} {words[period.value]}"


class UnknownProgramme(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"no programme with code {code[:40]!r}; `fairshare programme list` shows them"
        )


class ProgrammeExists(Conflict):
    def __init__(self, code: str) -> None:
        super().__init__(f"a programme with code {code!r} already exists; change its draft instead")


class NotPublished(Conflict):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"programme {code!r} has no published rule yet; publish it before running it"
        )


class NothingToPublish(Conflict):
    def __init__(self, code: str, version: int) -> None:
        super().__init__(
            f"version {version} of {code!r} already publishes this rule and these terms; "
            "change the draft to publish a new version"
        )


class UnknownDecision(NotFound):
    def __init__(self, decision_id: str) -> None:
        super().__init__(f"no decision with id {decision_id[:40]!r}")


class UnknownAppeal(NotFound):
    def __init__(self, appeal_id: str) -> None:
        super().__init__(
            f"no appeal with id {appeal_id[:40]!r}; `fairshare appeal list` shows them"
        )


class AppealClosed(Conflict):
    """The appeal was already decided, or the decision already has an open appeal."""


@dataclass(frozen=True)
class DeclaredField:
    """A catalogue field a programme's rule may read, and why the programme needs it."""

    name: str
    purpose: str


@dataclass(frozen=True)
class ProgrammeSpec:
    """What a programme officer writes: the programme as a draft, before any check."""

    code: str
    name: str
    description: str
    target: str
    asset: str
    amount: int
    period: str
    declared: tuple[DeclaredField, ...]
    rule: str
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Programme:
    """A programme with its draft terms; `published_version` is None until first published."""

    code: str
    name: str
    description: str
    target: Target
    asset: str
    amount: int
    period: CyclePeriod
    declared: tuple[DeclaredField, ...]
    depends_on: tuple[str, ...]
    rule: str
    needs_health: bool
    published_version: int | None = None
    updated_at: datetime | None = None
    updated_by: str = ""

    @property
    def benefit(self) -> str:
        return benefit_text(self.asset, self.amount, self.period)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.declared)


@dataclass(frozen=True)
class RuleVersion:
    """A published rule with the terms it was published under. Never changes once stored."""

    id: str
    programme: str
    version: int
    source: str
    content_hash: str
    target: Target
    asset: str
    amount: int
    period: CyclePeriod
    declared: tuple[DeclaredField, ...]
    depends_on: tuple[str, ...]
    needs_health: bool
    fields_used: tuple[str, ...]
    published_at: datetime
    published_by: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.declared)

    @property
    def benefit(self) -> str:
        return benefit_text(self.asset, self.amount, self.period)

    def same_terms(self, programme: Programme, content_hash: str) -> bool:
        """Whether publishing the draft would add nothing to this version."""
        return (
            self.content_hash == content_hash
            and self.target is programme.target
            and self.asset == programme.asset
            and self.amount == programme.amount
            and self.period is programme.period
            and self.declared == programme.declared
            and self.depends_on == programme.depends_on
        )


@dataclass(frozen=True)
class Run:
    id: str
    programme: str
    version: int
    content_hash: str
    reference_date: date
    started_at: datetime
    finished_at: datetime
    run_by: str
    subjects: int
    eligible: int
    cost: int


@dataclass(frozen=True)
class Decision:
    """One decision about one person or household. `facts` is None where hidden by purpose."""

    id: str
    run_id: str
    programme: str
    version: int
    content_hash: str
    subject_type: str
    subject_id: str
    eligible: bool
    facts: dict[str, Any] | None
    enrolled_in: tuple[str, ...]
    decided_at: datetime
    basis: DecisionBasis
    decided_by: str
    supersedes: str | None = None
    appeal_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Explanation:
    """A decision and its plain-language explanation, one line per condition."""

    decision: Decision
    programme_name: str
    benefit: str
    lines: tuple[str, ...]
    superseded_by_human: bool = False
    fields_shown: tuple[str, ...] = ()  # declared fields whose values the reader was shown


@dataclass(frozen=True)
class Appeal:
    id: str
    decision_id: str
    programme: str
    subject_type: str
    subject_id: str
    status: AppealStatus
    reason: str
    filed_by: str
    filed_at: datetime
    due_on: date
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    outcome_decision_id: str | None = None

    def is_overdue(self, today: date) -> bool:
        """An open appeal past its due date: someone has waited too long for a human."""
        return self.status is AppealStatus.OPEN and today > self.due_on


@dataclass(frozen=True)
class QueuedAppeal:
    """An appeal as a reviewer or the person sees it, flagged when overdue."""

    appeal: Appeal
    overdue: bool
    programme_name: str


@dataclass(frozen=True)
class ProgrammeOverview:
    """A programme with its published versions and its latest run: public information."""

    programme: Programme
    versions: tuple[RuleVersion, ...]
    last_run: Run | None


def due_date(filed_on: date, days: int = DEFAULT_APPEAL_DAYS) -> date:
    """The day by which an appeal filed on `filed_on` must be decided."""
    if days < 1:
        raise InvalidInput("appeals need at least one day to be decided")
    return filed_on + timedelta(days=days)


@dataclass(frozen=True)
class BreakdownCell:
    """One bar of a breakdown. `count` is None when suppressed; `shown` is what to display."""

    label: str
    count: int | None
    shown: str


@dataclass(frozen=True)
class Simulation:
    """A dry run of a rule over the registry: nothing is stored but the access log."""

    programme: str
    target: Target
    content_hash: str
    reference_date: date
    population: int
    eligible: int
    cost: int
    cost_text: str
    breakdowns: dict[str, tuple[BreakdownCell, ...]]
    compared_with: int | None
    gained: int | None
    lost: int | None
    gained_ids: tuple[str, ...] | None = None
    lost_ids: tuple[str, ...] | None = None
    suppressed: bool = False


def age_band(age: int | None) -> str:
    """The band an age falls in (0-4, 5-17, 18-24, 25-59, 60-64, 65+)."""
    if age is None:
        return "unknown"
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return "unknown"


def breakdown_cells(counts: dict[str, int], *, suppress: bool) -> tuple[BreakdownCell, ...]:
    """Cells in label order (age bands in their own order); small cells hidden if `suppress`."""
    band_order = {label: index for index, (_, _, label) in enumerate(AGE_BANDS)}

    def key(label: str) -> tuple[int, int, str]:
        if label in band_order:
            return (0, band_order[label], "")
        if label.isdigit():
            return (1, int(label), "")
        return (2, 0, label)

    cells = []
    for label in sorted(counts, key=key):
        count = counts[label]
        if suppress and 0 < count < SMALL_CELL:
            cells.append(BreakdownCell(label, None, SUPPRESSED))
        else:
            cells.append(BreakdownCell(label, count, str(count)))
    return tuple(cells)


def check_code(code: str) -> str:
    """A programme code: 2-40 lowercase letters, digits and underscores. Raises InvalidInput."""
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise InvalidInput(
            f"programme code {str(code)[:40]!r} is not valid: use 2-40 lowercase letters, digits "
            "and underscores, starting with a letter (e.g. old_age_pension)",
            errors=[{"field": "code", "reason": "lowercase letters, digits and underscores"}],
        )
    return code


def _text(value: str, field: str, *, minimum: int, maximum: int) -> tuple[str, str | None]:
    try:
        text = clean_text(value, max_length=maximum)
    except ValueError as error:
        return "", f"{error}"
    if len(text) < minimum:
        return text, f"must say what it is ({minimum}+ characters)"
    return text, None


def declared_definition(catalogue: Catalogue, name: str) -> FieldDefinition | None:
    """The catalogue field a programme declares, on persons or households (names are unique)."""
    return catalogue.get(Entity.PERSON, name) or catalogue.get(Entity.HOUSEHOLD, name)


def validate_programme(spec: ProgrammeSpec, catalogue: Catalogue) -> Programme:
    """Check a draft and return the programme it describes (its rule is checked separately).

    Raises RefusedField (a declared field is about a red-line category), UnknownField,
    UnknownAsset, or InvalidInput listing every other problem (no rule, amount not positive,
    bad code, target or period).
    """
    check_code(spec.code)
    unknown = sorted(
        {d.name for d in spec.declared if declared_definition(catalogue, d.name) is None}
    )
    for name in unknown:
        check_field(name)  # a refused category is named as such, not merely "unknown"
    if unknown:
        raise UnknownField(unknown, "person or household")
    definition = asset_definition(spec.asset)
    problems: list[dict[str, str]] = []
    name, problem = _text(spec.name, "name", minimum=3, maximum=120)
    if problem:
        problems.append({"field": "name", "reason": problem})
    description, problem = _text(spec.description, "description", minimum=0, maximum=1000)
    if problem:
        problems.append({"field": "description", "reason": problem})
    if not isinstance(spec.amount, int) or isinstance(spec.amount, bool) or spec.amount <= 0:
        problems.append(
            {
                "field": "amount",
                "reason": f"a benefit pays a positive amount of {definition.label}, "
                f"got {spec.amount!r}",
            }
        )
    try:
        target = Target(spec.target)
    except ValueError:
        problems.append({"field": "target", "reason": "must be 'person' or 'household'"})
        target = Target.PERSON
    try:
        period = CyclePeriod(spec.period)
    except ValueError:
        problems.append({"field": "period", "reason": "must be monthly, quarterly or yearly"})
        period = CyclePeriod.MONTHLY
    if not spec.rule or not spec.rule.strip():
        problems.append(
            {
                "field": "rule",
                "reason": "a programme needs an eligibility rule, e.g. "
                "'age >= 65 && monthly_income < 150'",
            }
        )
    elif len(spec.rule) > MAX_RULE_LENGTH:
        problems.append({"field": "rule", "reason": f"longer than {MAX_RULE_LENGTH} characters"})
    declared, declared_problems = _check_declared(spec.declared, catalogue)
    problems += declared_problems
    depends_on = tuple(sorted(set(spec.depends_on)))
    for code in depends_on:
        if not isinstance(code, str) or not CODE_PATTERN.match(code) or code == spec.code:
            problems.append(
                {"field": "depends_on", "reason": f"{str(code)[:40]!r} is not another programme"}
            )
    if problems:
        summary = "; ".join(f"{p['field']} {p['reason']}" for p in problems[:5])
        raise InvalidInput(f"programme {spec.code!r} is not valid: {summary}", errors=problems)
    return Programme(
        code=spec.code,
        name=name,
        description=description,
        target=target,
        asset=definition.asset.value,
        amount=spec.amount,
        period=period,
        declared=declared,
        depends_on=depends_on,
        rule=spec.rule.strip(),
        needs_health=needs_health(declared, catalogue),
    )


def _check_declared(
    fields: Iterable[DeclaredField], catalogue: Catalogue
) -> tuple[tuple[DeclaredField, ...], list[dict[str, str]]]:
    problems: list[dict[str, str]] = []
    cleaned: dict[str, DeclaredField] = {}
    for item in fields:
        if item.name in cleaned:
            problems.append({"field": item.name, "reason": "is declared twice"})
            continue
        purpose, problem = _text(item.purpose, item.name, minimum=10, maximum=300)
        if problem:
            problems.append(
                {"field": item.name, "reason": f"purpose {problem}; say why the rule needs it"}
            )
        cleaned[item.name] = DeclaredField(item.name, purpose)
    if len(cleaned) > MAX_DECLARED_FIELDS:
        problems.append(
            {"field": "fields", "reason": f"more than {MAX_DECLARED_FIELDS} declared fields"}
        )
    return tuple(sorted(cleaned.values(), key=lambda d: d.name)), problems


def needs_health(declared: Iterable[DeclaredField], catalogue: Catalogue) -> bool:
    """Whether the programme reads health data: only then are health values ever opened."""
    for item in declared:
        definition = declared_definition(catalogue, item.name)
        if definition is not None and definition.is_health:
            return True
    return False


LANGUAGES = ("en", "es")
_WORDS = {
    "en": {
        "eligible": "You are eligible for {programme} ({benefit}).",
        "not_eligible": "You are not eligible for {programme}.",
        "household_eligible": "Your household is eligible for {programme} ({benefit}).",
        "household_not_eligible": "Your household is not eligible for {programme}.",
        "overturned": "A caseworker reviewed the appeal on {date} and decided: {reason}",
        "automated": "The rule (version {version}) had found:",
        "hidden": "This decision uses health information, shown only for a health purpose.",
    },
    "es": {
        "eligible": "Usted tiene derecho a {programme} ({benefit}).",
        "not_eligible": "Usted no tiene derecho a {programme}.",
        "household_eligible": "Su hogar tiene derecho a {programme} ({benefit}).",
        "household_not_eligible": "Su hogar no tiene derecho a {programme}.",
        "overturned": "Un funcionario revisó la apelación el {date} y decidió: {reason}",
        "automated": "La regla (versión {version}) había determinado:",
        "hidden": "Esta decisión usa información de salud, que solo se muestra para un fin de "
        "salud.",
    },
}


def check_language(language: str) -> str:
    """'en' or 'es'; raises InvalidInput for any other."""
    if language not in LANGUAGES:
        raise InvalidInput(
            f"explanations are written in {' or '.join(LANGUAGES)}, not {language[:10]!r}",
            errors=[{"field": "language", "reason": "use en or es"}],
        )
    return language


def words(language: str, key: str, **values: Any) -> str:
    """A sentence of the explanation around the rule's own lines, in the person's language."""
    return _WORDS[check_language(language)][key].format(**values)
