"""Programmes, simulations, runs, decisions with explanations, and appeals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from fairshare.api.deps import CurrentActor, ServicesDep
from fairshare.api.schemas import Strict
from fairshare.assets import format_amount, to_minor_units
from fairshare.bootstrap import Services
from fairshare.eligibility.charts import MEDIA_TYPES, ChartFormat, breakdown_chart
from fairshare.eligibility.model import (
    DeclaredField,
    Explanation,
    ProgrammeOverview,
    ProgrammeSpec,
    QueuedAppeal,
    RuleVersion,
    Run,
    Simulation,
)
from fairshare.eligibility.services import Eligibility
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor

router = APIRouter(prefix="/api/v1", tags=["eligibility"])

Code = Annotated[str, Field(min_length=2, max_length=40)]
# Amounts are text in the asset's entry unit ("130.00", "40.000") or whole numbers; a JSON
# float is refused because it may already have lost the exact amount.
Amount = Annotated[str, Field(max_length=30)] | int


class DeclaredFieldBody(Strict):
    name: str = Field(max_length=63)
    purpose: str = Field(max_length=300, description="Why the programme needs this field")


class ProgrammeCreate(Strict):
    code: Code
    name: str = Field(max_length=120)
    description: str = Field("", max_length=1000)
    target: str = Field(max_length=20, description="person or household")
    asset: str = Field(max_length=30, description="local_currency, fuel, food_basket, ...")
    amount: Amount = Field(description="Per cycle, in the asset's unit, e.g. '130.00'")
    period: str = Field("monthly", max_length=20)
    fields: list[DeclaredFieldBody] = Field(default_factory=list, max_length=50)
    depends_on: list[Code] = Field(default_factory=list, max_length=20)
    rule: str = Field(max_length=10_000)


class ProgrammeUpdate(Strict):
    name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=1000)
    target: str | None = Field(None, max_length=20)
    asset: str | None = Field(None, max_length=30)
    amount: Amount | None = None
    period: str | None = Field(None, max_length=20)
    fields: list[DeclaredFieldBody] | None = Field(None, max_length=50)
    depends_on: list[Code] | None = Field(None, max_length=20)
    rule: str | None = Field(None, max_length=10_000)


class DeclaredFieldPublic(BaseModel):
    name: str
    purpose: str


class RuleVersionPublic(BaseModel):
    version: int
    content_hash: str
    source: str
    target: str
    asset: str
    amount: int = Field(description="Minor units of the asset (cents, millilitres, units)")
    benefit: str
    period: str
    fields: list[DeclaredFieldPublic]
    depends_on: list[str]
    fields_used: list[str]
    needs_health: bool
    published_at: datetime
    published_by: str


class RunPublic(BaseModel):
    id: str
    programme: str
    version: int
    content_hash: str
    reference_date: date
    started_at: datetime
    finished_at: datetime
    subjects: int
    eligible: int
    cost: int
    cost_text: str


class ProgrammePublic(BaseModel):
    code: str
    name: str
    description: str
    target: str
    asset: str
    amount: int = Field(description="Minor units of the asset, per cycle (draft terms)")
    benefit: str
    period: str
    fields: list[DeclaredFieldPublic] = Field(description="Declared fields and why")
    depends_on: list[str]
    rule: str = Field(description="The draft rule")
    needs_health: bool
    published_version: int | None
    versions: list[RuleVersionPublic]
    last_run: RunPublic | None


class SimulationRequest(Strict):
    rule: str | None = Field(None, max_length=10_000, description="Default: the draft rule")
    reference_date: date | None = None


class BreakdownCellPublic(BaseModel):
    label: str
    count: int | None = Field(description="None where the cell is suppressed")
    shown: str = Field(description='What to display: the count, or "<10"')


class SimulationPublic(BaseModel):
    programme: str
    content_hash: str
    reference_date: date
    population: int
    eligible: int
    cost: int
    cost_text: str
    breakdowns: dict[str, list[BreakdownCellPublic]]
    compared_with: int | None = Field(description="The published version compared against")
    gained: int | None
    lost: int | None
    gained_ids: list[str] | None = Field(description="Only for purposes that may see persons")
    lost_ids: list[str] | None
    suppressed: bool = Field(description="Whether cells under 10 are hidden")


class RunCreate(Strict):
    reference_date: date | None = None


class DecisionPublic(BaseModel):
    id: str
    programme: str
    programme_name: str
    benefit: str
    version: int
    content_hash: str
    subject_type: str
    subject_id: str
    eligible: bool
    basis: str = Field(description="rule, or appeal (a caseworker's decision)")
    decided_by: str
    decided_at: datetime
    supersedes: str | None
    reason: str | None
    facts: dict[str, Any] | None = Field(description="None where hidden for this purpose")
    explanation: list[str]


class AppealCreate(Strict):
    reason: str = Field(max_length=500)


class AppealDecision(Strict):
    outcome: Literal["uphold", "overturn"]
    reason: str = Field(max_length=500)


class AppealPublic(BaseModel):
    id: str
    decision_id: str
    programme: str
    programme_name: str
    subject_type: str
    subject_id: str
    status: str
    reason: str
    filed_by: str
    filed_at: datetime
    due_on: date
    overdue: bool
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    outcome_decision_id: str | None


def _eligibility(services: Services) -> Eligibility:
    return services.eligibility


def _amount(asset: str, amount: str | int) -> int:
    return to_minor_units(asset, amount)


def _fields(fields: list[DeclaredFieldBody]) -> tuple[DeclaredField, ...]:
    return tuple(DeclaredField(f.name, f.purpose) for f in fields)


def _version(version: RuleVersion) -> RuleVersionPublic:
    return RuleVersionPublic(
        version=version.version,
        content_hash=version.content_hash,
        source=version.source,
        target=version.target.value,
        asset=version.asset,
        amount=version.amount,
        benefit=version.benefit,
        period=version.period.value,
        fields=[DeclaredFieldPublic(name=d.name, purpose=d.purpose) for d in version.declared],
        depends_on=list(version.depends_on),
        fields_used=list(version.fields_used),
        needs_health=version.needs_health,
        published_at=version.published_at,
        published_by=version.published_by,
    )


def _run(run: Run, asset: str) -> RunPublic:
    return RunPublic(
        id=run.id,
        programme=run.programme,
        version=run.version,
        content_hash=run.content_hash,
        reference_date=run.reference_date,
        started_at=run.started_at,
        finished_at=run.finished_at,
        subjects=run.subjects,
        eligible=run.eligible,
        cost=run.cost,
        cost_text=format_amount(asset, run.cost),
    )


def _programme(overview: ProgrammeOverview) -> ProgrammePublic:
    programme = overview.programme
    last_asset = overview.versions[-1].asset if overview.versions else programme.asset
    return ProgrammePublic(
        code=programme.code,
        name=programme.name,
        description=programme.description,
        target=programme.target.value,
        asset=programme.asset,
        amount=programme.amount,
        benefit=programme.benefit,
        period=programme.period.value,
        fields=[DeclaredFieldPublic(name=d.name, purpose=d.purpose) for d in programme.declared],
        depends_on=list(programme.depends_on),
        rule=programme.rule,
        needs_health=programme.needs_health,
        published_version=programme.published_version,
        versions=[_version(v) for v in overview.versions],
        last_run=None if overview.last_run is None else _run(overview.last_run, last_asset),
    )


def _simulation(simulation: Simulation) -> SimulationPublic:
    return SimulationPublic(
        programme=simulation.programme,
        content_hash=simulation.content_hash,
        reference_date=simulation.reference_date,
        population=simulation.population,
        eligible=simulation.eligible,
        cost=simulation.cost,
        cost_text=simulation.cost_text,
        breakdowns={
            name: [BreakdownCellPublic(**cell.__dict__) for cell in cells]
            for name, cells in simulation.breakdowns.items()
        },
        compared_with=simulation.compared_with,
        gained=simulation.gained,
        lost=simulation.lost,
        gained_ids=None if simulation.gained_ids is None else list(simulation.gained_ids),
        lost_ids=None if simulation.lost_ids is None else list(simulation.lost_ids),
        suppressed=simulation.suppressed,
    )


def _decision(explanation: Explanation) -> DecisionPublic:
    decision = explanation.decision
    return DecisionPublic(
        id=decision.id,
        programme=decision.programme,
        programme_name=explanation.programme_name,
        benefit=explanation.benefit,
        version=decision.version,
        content_hash=decision.content_hash,
        subject_type=decision.subject_type,
        subject_id=decision.subject_id,
        eligible=decision.eligible,
        basis=decision.basis.value,
        decided_by=decision.decided_by,
        decided_at=decision.decided_at,
        supersedes=decision.supersedes,
        reason=decision.reason,
        facts=decision.facts,
        explanation=list(explanation.lines),
    )


def _appeal(queued: QueuedAppeal) -> AppealPublic:
    appeal = queued.appeal
    return AppealPublic(
        id=appeal.id,
        decision_id=appeal.decision_id,
        programme=appeal.programme,
        programme_name=queued.programme_name,
        subject_type=appeal.subject_type,
        subject_id=appeal.subject_id,
        status=appeal.status.value,
        reason=appeal.reason,
        filed_by=appeal.filed_by,
        filed_at=appeal.filed_at,
        due_on=appeal.due_on,
        overdue=queued.overdue,
        decided_by=appeal.decided_by,
        decided_at=appeal.decided_at,
        decision_reason=appeal.decision_reason,
        outcome_decision_id=appeal.outcome_decision_id,
    )


def _own(actor: Actor) -> str:
    if not actor.person_id:
        raise InvalidInput("this account is not linked to a person; /me is for citizens")
    return actor.person_id


# ---- programmes -------------------------------------------------------------------------


@router.post("/programmes", response_model=ProgrammePublic, status_code=status.HTTP_201_CREATED)
def create_programme(
    services: ServicesDep, actor: CurrentActor, body: ProgrammeCreate
) -> ProgrammePublic:
    """Save a programme as a draft; its rule is checked now (422 with the position)."""
    eligibility = _eligibility(services)
    spec = ProgrammeSpec(
        code=body.code,
        name=body.name,
        description=body.description,
        target=body.target,
        asset=body.asset,
        amount=_amount(body.asset, body.amount),
        period=body.period,
        declared=_fields(body.fields),
        rule=body.rule,
        depends_on=tuple(body.depends_on),
    )
    eligibility.create_programme(actor, spec)
    return _programme(eligibility.get_programme(spec.code))


@router.get("/programmes", response_model=list[ProgrammePublic])
def list_programmes(services: ServicesDep) -> list[ProgrammePublic]:
    """Every programme, its rules and the fields they read, with why: public, like the
    catalogue, so anyone can check what a programme looks at."""
    return [_programme(o) for o in _eligibility(services).list_programmes()]


@router.get("/programmes/{code}", response_model=ProgrammePublic)
def get_programme(services: ServicesDep, code: str) -> ProgrammePublic:
    """One programme with its published versions and its last run (counts only)."""
    return _programme(_eligibility(services).get_programme(code[:40]))


@router.patch("/programmes/{code}", response_model=ProgrammePublic)
def update_programme(
    services: ServicesDep, actor: CurrentActor, code: str, body: ProgrammeUpdate
) -> ProgrammePublic:
    """Change the draft; published versions stay as they are until the next publish."""
    eligibility = _eligibility(services)
    changes: dict[str, Any] = body.model_dump(exclude_none=True, exclude={"fields", "amount"})
    if body.fields is not None:
        changes["declared"] = _fields(body.fields)
    if body.amount is not None:
        asset = body.asset or eligibility.get_programme(code[:40]).programme.asset
        changes["amount"] = _amount(asset, body.amount)
    if "depends_on" in changes:
        changes["depends_on"] = tuple(changes["depends_on"])
    eligibility.update_draft(actor, code[:40], **changes)
    return _programme(eligibility.get_programme(code[:40]))


@router.post("/programmes/{code}/simulate", response_model=SimulationPublic)
def simulate(
    services: ServicesDep, actor: CurrentActor, code: str, body: SimulationRequest
) -> SimulationPublic:
    """Dry-run the draft (or the rule given) over the registry; nothing is stored."""
    return _simulation(
        _eligibility(services).simulate(actor, code[:40], body.rule, body.reference_date)
    )


@router.get(
    "/programmes/{code}/charts/{breakdown}",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
    response_class=Response,
)
def chart(
    services: ServicesDep,
    actor: CurrentActor,
    code: str,
    breakdown: Literal["region", "age_band", "sex", "household_size"],
    format_: Annotated[ChartFormat, Query(alias="format")] = ChartFormat.SVG,
    reference_date: date | None = None,
) -> Response:
    """A breakdown of the draft's simulation as a bar chart (SVG by default, or PNG)."""
    simulation = _eligibility(services).simulate(actor, code[:40], None, reference_date)
    return Response(
        breakdown_chart(simulation, breakdown, format_), media_type=MEDIA_TYPES[format_]
    )


@router.post(
    "/programmes/{code}/publish",
    response_model=RuleVersionPublic,
    status_code=status.HTTP_201_CREATED,
)
def publish(services: ServicesDep, actor: CurrentActor, code: str) -> RuleVersionPublic:
    """Publish the draft as a new immutable version (409 if nothing changed)."""
    return _version(_eligibility(services).publish(actor, code[:40]))


@router.post(
    "/programmes/{code}/runs", response_model=RunPublic, status_code=status.HTTP_201_CREATED
)
def run(services: ServicesDep, actor: CurrentActor, code: str, body: RunCreate) -> RunPublic:
    """Evaluate the published version over the registry and store every decision."""
    eligibility = _eligibility(services)
    result = eligibility.run(actor, code[:40], body.reference_date)
    asset = eligibility.get_programme(code[:40]).versions[-1].asset
    return _run(result, asset)


# ---- decisions --------------------------------------------------------------------------

Language = Annotated[Literal["en", "es"], Query(description="Language of the explanation")]


@router.get("/people/{person_id}/decisions", response_model=list[DecisionPublic])
def person_decisions(
    services: ServicesDep,
    actor: CurrentActor,
    person_id: str,
    programme: Annotated[str | None, Query(max_length=40)] = None,
    language: Language = "en",
) -> list[DecisionPublic]:
    """The decisions in force about a person and their household, explained."""
    explanations = _eligibility(services).explain_decision(
        actor, person_id[:36], programme, language
    )
    return [_decision(e) for e in explanations]


@router.get("/me/decisions", response_model=list[DecisionPublic], tags=["citizen"])
def my_decisions(
    services: ServicesDep,
    actor: CurrentActor,
    programme: Annotated[str | None, Query(max_length=40)] = None,
    language: Language = "en",
) -> list[DecisionPublic]:
    """Your decisions, each with why, in plain language; you can appeal any of them."""
    explanations = _eligibility(services).explain_decision(actor, _own(actor), programme, language)
    return [_decision(e) for e in explanations]


# ---- appeals ----------------------------------------------------------------------------


@router.post(
    "/decisions/{decision_id}/appeals",
    response_model=AppealPublic,
    status_code=status.HTTP_201_CREATED,
)
def file_appeal(
    services: ServicesDep, actor: CurrentActor, decision_id: str, body: AppealCreate
) -> AppealPublic:
    """Contest a decision with a reason; a caseworker decides it."""
    eligibility = _eligibility(services)
    appeal = eligibility.file_appeal(actor, decision_id[:36], body.reason)
    name = eligibility.get_programme(appeal.programme).programme.name
    return _appeal(QueuedAppeal(appeal, False, name))


@router.get("/appeals", response_model=list[AppealPublic])
def appeal_queue(
    services: ServicesDep,
    actor: CurrentActor,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(open|upheld|overturned)$")
    ] = "open",
) -> list[AppealPublic]:
    """The appeals queue for caseworkers, overdue first."""
    return [_appeal(q) for q in _eligibility(services).appeal_queue(actor, status_)]


@router.post("/appeals/{appeal_id}/decision", response_model=AppealPublic)
def decide_appeal(
    services: ServicesDep, actor: CurrentActor, appeal_id: str, body: AppealDecision
) -> AppealPublic:
    """Uphold, or overturn with a reason (a human decision that supersedes the rule's)."""
    eligibility = _eligibility(services)
    appeal = eligibility.decide_appeal(actor, appeal_id[:36], body.outcome, body.reason)
    name = eligibility.get_programme(appeal.programme).programme.name
    return _appeal(QueuedAppeal(appeal, False, name))


@router.get("/people/{person_id}/appeals", response_model=list[AppealPublic])
def person_appeals(
    services: ServicesDep, actor: CurrentActor, person_id: str
) -> list[AppealPublic]:
    return [_appeal(q) for q in _eligibility(services).appeals_for(actor, person_id[:36])]


@router.get("/me/appeals", response_model=list[AppealPublic], tags=["citizen"])
def my_appeals(services: ServicesDep, actor: CurrentActor) -> list[AppealPublic]:
    """Your appeals and their outcome."""
    return [_appeal(q) for q in _eligibility(services).appeals_for(actor, _own(actor))]
