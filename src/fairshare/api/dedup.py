"""The duplicate review queue over HTTP: pending pairs, one pair side by side, decisions,
merges and unmerges.

Caseworkers acting for duplicate review (`X-Fairshare-Purpose: duplicate_review`). Reads
of people are logged by the services; decisions and unmerges go through `review.Review`,
which logs both people and keeps the merge history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, model_validator

from fairshare.api.deps import CurrentActor, ServicesDep
from fairshare.api.schemas import REASON_PATTERN, Strict
from fairshare.bootstrap import Services
from fairshare.dedup.pairs import FieldComparison, MergesPage, PairView, QueuePage, ReviewReading
from fairshare.dedup.review import Merge, Review

router = APIRouter(prefix="/api/v1/dedup", tags=["deduplication"])

PageLimit = Annotated[int, Query(ge=1, le=100, description="How many to return (1-100)")]
PageOffset = Annotated[int, Query(ge=0, le=10_000_000, description="How many to skip")]
PairId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The pair's id, from the queue")]


# ---- schemas --------------------------------------------------------------------------------


class ComparisonEvidencePublic(BaseModel):
    level: str = Field(description="The Splink comparison level the pair reached")
    match_weight: float = Field(description="log2 of the Bayes factor: > 0 towards a match")
    bayes_factor: float = Field(description="How many times likelier for one person than two")
    agreement: Literal["agree", "partly", "disagree", "missing"] = Field(
        description="The level in words: the strongest level agrees, the weakest disagrees"
    )


class ReviewPairSummary(BaseModel):
    id: int = Field(description="The pair's id: open it with GET /api/v1/dedup/reviews/{id}")
    run_id: str
    match_probability: float
    match_weight: float
    person_a: str
    person_b: str
    names_a: str = Field(description="Given and family names of the first record")
    names_b: str = Field(description="Given and family names of the second record")
    evidence: dict[str, ComparisonEvidencePublic] = Field(description="Per compared field")


class ReviewQueuePublic(BaseModel):
    run_id: str = Field(description="The deduplication run whose pairs these are")
    total: int = Field(description="Pending pairs in the run")
    offset: int
    limit: int
    pairs: list[ReviewPairSummary] = Field(description="Most likely matches first")


class FieldComparisonPublic(BaseModel):
    field: str
    value_a: Any = Field(description="The first record's value (null: not recorded)")
    value_b: Any = Field(description="The second record's value (null: not recorded)")
    comparison: str | None = Field(description="The comparison whose evidence this row shows")
    evidence: ComparisonEvidencePublic | None = Field(
        description="Null when the field was not scored on its own (it is part of another)"
    )


class MergePublic(BaseModel):
    id: str
    pair_id: int | None = Field(description="Null for merges of automatically linked records")
    survivor_id: str = Field(description="The record that stays")
    merged_id: str = Field(description="The record merged into the survivor (kept unchanged)")
    reason: str
    merged_by: str
    merged_at: datetime
    moved: dict[str, Any] = Field(description="The decisions and enrolments the merge moved")
    unmerged_by: str | None
    unmerged_at: datetime | None


class ReviewPairPublic(BaseModel):
    id: int
    run_id: str
    match_probability: float
    match_weight: float
    status: Literal["automatic", "pending", "accepted", "rejected"]
    person_a: str
    person_b: str
    record_ref_a: str | None
    record_ref_b: str | None
    fields: list[FieldComparisonPublic] = Field(description="Both records side by side")
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    merge: MergePublic | None = Field(description="The merge the acceptance made, if any")


class ReviewDecisionCreate(Strict):
    decision: Literal["accept", "reject"] = Field(
        description="accept: the records are one person (merge them); reject: two people"
    )
    reason: str = Field(
        max_length=500, pattern=REASON_PATTERN, description="Why: kept with the decision"
    )
    survivor_id: str | None = Field(
        None,
        max_length=36,
        description="Accept only: the record to keep (one of the pair); default the "
        "earlier-registered one",
    )

    @model_validator(mode="after")
    def _survivor_only_on_accept(self) -> ReviewDecisionCreate:
        if self.decision == "reject" and self.survivor_id is not None:
            raise ValueError("survivor_id goes with decision 'accept' only; leave it out")
        return self


class ReviewDecisionPublic(BaseModel):
    pair_id: int
    status: Literal["accepted", "rejected"]
    merge: MergePublic | None


class MergesPublic(BaseModel):
    total: int
    offset: int
    limit: int
    merges: list[MergePublic] = Field(description="Newest first, undone ones too")


class UnmergeCreate(Strict):
    reason: str = Field(
        max_length=500, pattern=REASON_PATTERN, description="Why the merge is undone"
    )


# ---- routes ---------------------------------------------------------------------------------


def _reading(services: Services) -> ReviewReading:
    return ReviewReading(services.uow(), services.cipher)


def _review(services: Services) -> Review:
    return Review(services.uow(), services.cipher)


@router.get("/reviews", response_model=ReviewQueuePublic)
def review_queue(
    services: ServicesDep,
    actor: CurrentActor,
    limit: PageLimit = 20,
    offset: PageOffset = 0,
    run_id: Annotated[str | None, Query(max_length=36, description="Default: latest")] = None,
) -> ReviewQueuePublic:
    """Pairs waiting for a caseworker, most likely matches first, with per-field evidence."""
    return _queue(_reading(services).queue(actor, run_id, limit, offset))


@router.get("/reviews/{pair_id}", response_model=ReviewPairPublic)
def review_pair(services: ServicesDep, actor: CurrentActor, pair_id: PairId) -> ReviewPairPublic:
    """One pair: both records' compared fields side by side, the evidence and any decision."""
    return _pair(_reading(services).pair(actor, pair_id))


@router.post("/reviews/{pair_id}/decision", response_model=ReviewDecisionPublic)
def decide(
    services: ServicesDep, actor: CurrentActor, pair_id: PairId, body: ReviewDecisionCreate
) -> ReviewDecisionPublic:
    """Accept (merge, keeping `survivor_id`) or reject a pending pair, with a reason.

    409 when the pair was decided already or its records are one person already.
    """
    result = _review(services).decide(
        actor,
        pair_id,
        accept=body.decision == "accept",
        reason=body.reason,
        survivor_id=body.survivor_id,
    )
    return ReviewDecisionPublic(
        pair_id=result.pair_id,
        status=result.status.value,  # type: ignore[arg-type]
        merge=_merge(result.merge) if result.merge is not None else None,
    )


@router.get("/merges", response_model=MergesPublic)
def merges(
    services: ServicesDep, actor: CurrentActor, limit: PageLimit = 20, offset: PageOffset = 0
) -> MergesPublic:
    """Merges, newest first, undone ones too (ids only)."""
    return _merges(_reading(services).merges(actor, limit, offset))


@router.post("/merges/{merge_id}/unmerge", response_model=MergePublic)
def unmerge(
    services: ServicesDep, actor: CurrentActor, merge_id: str, body: UnmergeCreate
) -> MergePublic:
    """Undo a merge exactly: what it moved goes back to the merged record.

    409 when it was undone already, or the survivor was merged on since.
    """
    return _merge(_review(services).unmerge(actor, merge_id[:36], body.reason))


# ---- mapping ----------------------------------------------------------------------------------


def _queue(page: QueuePage) -> ReviewQueuePublic:
    return ReviewQueuePublic(
        run_id=page.run_id,
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        pairs=[
            ReviewPairSummary(
                id=entry.id,
                run_id=entry.run_id,
                match_probability=entry.match_probability,
                match_weight=entry.match_weight,
                person_a=entry.person_a,
                person_b=entry.person_b,
                names_a=entry.names_a,
                names_b=entry.names_b,
                evidence={
                    name: ComparisonEvidencePublic.model_validate(item)
                    for name, item in entry.evidence.items()
                },
            )
            for entry in page.pairs
        ],
    )


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _row(row: FieldComparison) -> FieldComparisonPublic:
    evidence = None
    if row.agreement is not None:
        evidence = ComparisonEvidencePublic(
            level=row.level or "",
            match_weight=row.match_weight or 0.0,
            bayes_factor=row.bayes_factor or 0.0,
            agreement=row.agreement.value,
        )
    return FieldComparisonPublic(
        field=row.field,
        value_a=_value(row.value_a),
        value_b=_value(row.value_b),
        comparison=row.comparison,
        evidence=evidence,
    )


def _pair(view: PairView) -> ReviewPairPublic:
    return ReviewPairPublic(
        id=view.id,
        run_id=view.run_id,
        match_probability=view.match_probability,
        match_weight=view.match_weight,
        status=view.status.value,
        person_a=view.person_a,
        person_b=view.person_b,
        record_ref_a=view.record_ref_a,
        record_ref_b=view.record_ref_b,
        fields=[_row(row) for row in view.rows],
        reviewed_by=view.reviewed_by,
        reviewed_at=view.reviewed_at,
        review_reason=view.review_reason,
        merge=_merge(view.merge) if view.merge is not None else None,
    )


def _merge(merge: Merge) -> MergePublic:
    return MergePublic(**merge.__dict__)


def _merges(page: MergesPage) -> MergesPublic:
    return MergesPublic(
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        merges=[_merge(m) for m in page.merges],
    )
