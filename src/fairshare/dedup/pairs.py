"""Reading the review queue page by page, one pair side by side, and the merges.

`review.Review` decides pairs and merges; this module only reads, for the API and the pages.
A pair is shown with the fields the linkage compared and nothing else (data minimisation):
names, date of birth, sex, national id, phone and where the household lives. Every read of
a person's values writes the access log (tag dedup:queue:read) under the review purpose;
merges are listed by id only, so listing them logs nothing.

Each field's Splink level is also put in words a caseworker can act on without colour:
agree (the model's strongest level), partly, disagree, or missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, select

from fairshare.audit import services as audit
from fairshare.audit.model import Tag, as_utc
from fairshare.catalogue import services as catalogue_services
from fairshare.db import UnitOfWork
from fairshare.dedup.comparisons import level_labels
from fairshare.dedup.model import NoRun, ReviewStatus
from fairshare.dedup.orm import dedup_merges, dedup_pairs, dedup_runs
from fairshare.dedup.review import REVIEW, Merge, UnknownPair
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor
from fairshare.keys import FieldCipher
from fairshare.registry.services import Registry

MAX_PAGE = 100
# (field, where it lives, the comparison whose evidence it shows), in the order shown.
COMPARED_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    ("given_names", "person", "given_names"),
    ("family_names", "person", "family_names_and_address"),
    ("date_of_birth", "person", "date_of_birth"),
    ("sex", "person", "sex"),
    ("national_id", "person", "national_id"),
    ("phone", "person", "phone"),
    ("region", "household", None),
    ("municipality", "household", None),
    ("address", "household", None),
)
NAME_FIELDS = ("given_names", "family_names")


class Agreement(StrEnum):
    AGREE = "agree"
    PARTLY = "partly"
    DISAGREE = "disagree"
    MISSING = "missing"


def agreement(comparison: str, level: str, match_weight: float) -> Agreement:
    """How a comparison level reads in words: the model's top level agrees, its lowest
    disagrees, a null level is missing, and every level between agrees partly."""
    labels = level_labels().get(comparison, {})
    gammas = {label: gamma for gamma, label in labels.items()}
    gamma = gammas.get(level)
    if gamma == -1 or level in ("missing", "null"):
        return Agreement.MISSING
    if gamma is not None and labels:
        if gamma == max(labels):
            return Agreement.AGREE
        if gamma == 0:
            return Agreement.DISAGREE
        return Agreement.PARTLY
    # A level this model does not name (an older run's model): go by the weight's sign.
    if level == "exact":
        return Agreement.AGREE
    return Agreement.PARTLY if match_weight > 0 else Agreement.DISAGREE


@dataclass(frozen=True)
class FieldComparison:
    """One row of the side-by-side view; `level` etc. are empty for uncompared fields."""

    field: str
    value_a: Any
    value_b: Any
    comparison: str | None
    level: str | None = None
    match_weight: float | None = None
    bayes_factor: float | None = None
    agreement: Agreement | None = None


@dataclass(frozen=True)
class QueueEntry:
    """A pending pair as the queue lists it: its score, evidence and the two names."""

    id: int
    run_id: str
    match_probability: float
    match_weight: float
    evidence: dict[str, dict[str, Any]]
    person_a: str
    person_b: str
    names_a: str
    names_b: str


@dataclass(frozen=True)
class QueuePage:
    run_id: str
    total: int
    offset: int
    limit: int
    pairs: tuple[QueueEntry, ...]


@dataclass(frozen=True)
class PairView:
    """A pair of any status with both records side by side and its decision, if any."""

    id: int
    run_id: str
    match_probability: float
    match_weight: float
    status: ReviewStatus
    person_a: str
    person_b: str
    record_ref_a: str | None
    record_ref_b: str | None
    rows: tuple[FieldComparison, ...]
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    merge: Merge | None

    @property
    def pending(self) -> bool:
        return self.status is ReviewStatus.PENDING


@dataclass(frozen=True)
class MergesPage:
    total: int
    offset: int
    limit: int
    merges: tuple[Merge, ...]


def with_agreement(evidence: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stored evidence with each comparison's agreement in words added."""
    return {
        name: {
            **item,
            "agreement": agreement(
                name, str(item.get("level")), float(item.get("match_weight") or 0)
            ).value,
        }
        for name, item in evidence.items()
    }


def _merge(row: Any) -> Merge:
    return Merge(
        row.id,
        row.pair_id,
        row.survivor_id,
        row.merged_id,
        row.reason,
        row.merged_by,
        as_utc(row.merged_at),
        json.loads(row.moved),
        row.unmerged_by,
        as_utc(row.unmerged_at) if row.unmerged_at is not None else None,
    )


class ReviewReading:
    """Read-only views of the review queue, single pairs and merges, with access logging."""

    def __init__(self, uow: UnitOfWork, cipher: FieldCipher) -> None:
        self.uow = uow
        self.cipher = cipher

    def queue(
        self, actor: Actor, run_id: str | None = None, limit: int = 20, offset: int = 0
    ) -> QueuePage:
        """Pending pairs of a run (default: the latest), most likely first, one page of them.

        Reads only the two names of each listed person, and logs that. Raises NoRun,
        PurposeNotAllowed (logged).
        """
        authorize(self.uow, actor, REVIEW, "dedup_run", run_id or "latest", Tag.DEDUP_QUEUE_READ)
        limit, offset = max(1, min(limit, MAX_PAGE)), max(0, offset)
        with self.uow:
            connection = self.uow.connection
            run = self._run_id(run_id)
            pending = and_(
                dedup_pairs.c.run_id == run,
                dedup_pairs.c.review_status == ReviewStatus.PENDING.value,
            )
            total = connection.execute(
                select(func.count()).select_from(dedup_pairs).where(pending)
            ).scalar_one()
            rows = connection.execute(
                select(dedup_pairs)
                .where(pending)
                .order_by(dedup_pairs.c.match_probability.desc(), dedup_pairs.c.id)
                .limit(limit)
                .offset(offset)
            ).all()
            registry = Registry(self.uow, self.cipher)
            catalogue = catalogue_services.load(self.uow)
            names: dict[str, str] = {}
            for person_id in {p for row in rows for p in (row.person_a, row.person_b)}:
                person = registry._load_person(catalogue, person_id, with_health=False)
                names[person_id] = " ".join(
                    str(person.values[n]) for n in NAME_FIELDS if person.values.get(n)
                )
            entries = tuple(
                QueueEntry(
                    row.id,
                    row.run_id,
                    row.match_probability,
                    row.match_weight,
                    with_agreement(json.loads(row.evidence)),
                    row.person_a,
                    row.person_b,
                    names[row.person_a],
                    names[row.person_b],
                )
                for row in rows
            )
            audit.record(
                self.uow,
                [
                    access_request(actor, Tag.DEDUP_QUEUE_READ, "person", p, NAME_FIELDS)
                    for p in sorted(names)
                ],
            )
            self.uow.commit()
        return QueuePage(run, total, offset, limit, entries)

    def _run_id(self, run_id: str | None) -> str:
        query = select(dedup_runs.c.id)
        if run_id:
            query = query.where(dedup_runs.c.id == run_id)
        else:
            query = query.order_by(dedup_runs.c.finished_at.desc()).limit(1)
        row = self.uow.connection.execute(query).first()
        if row is None:
            raise NoRun(
                f"no deduplication run with id {run_id!r}"
                if run_id
                else "no deduplication run yet; run `fairshare dedup run` first"
            )
        return str(row.id)

    def pair(self, actor: Actor, pair_id: int) -> PairView:
        """One pair with the compared fields of both records side by side, the evidence per
        field, and its decision and merge if it was decided. Logs a read of both people.

        Raises UnknownPair, PurposeNotAllowed (logged).
        """
        authorize(self.uow, actor, REVIEW, "dedup_pair", str(pair_id), Tag.DEDUP_QUEUE_READ)
        with self.uow:
            connection = self.uow.connection
            row = connection.execute(select(dedup_pairs).where(dedup_pairs.c.id == pair_id)).first()
            if row is None:
                raise UnknownPair(pair_id)
            registry = Registry(self.uow, self.cipher)
            catalogue = catalogue_services.load(self.uow)
            records: list[tuple[dict[str, Any], str | None]] = []
            for person_id in (row.person_a, row.person_b):
                person = registry._load_person(catalogue, person_id, with_health=False)
                household = registry._load_household(catalogue, person.household_id)
                records.append(
                    ({"person": person.values, "household": household.values}, person.record_ref)
                )
            evidence = json.loads(row.evidence)
            rows: list[FieldComparison] = []
            for name, entity, comparison in COMPARED_FIELDS:
                a, b = records[0][0][entity], records[1][0][entity]
                if name not in a and name not in b:
                    continue  # not in this deployment's catalogue
                item = evidence.get(comparison) if comparison else None
                rows.append(
                    FieldComparison(name, a.get(name), b.get(name), comparison)
                    if item is None
                    else FieldComparison(
                        name,
                        a.get(name),
                        b.get(name),
                        comparison,
                        str(item.get("level")),
                        float(item.get("match_weight") or 0),
                        float(item.get("bayes_factor") or 0),
                        agreement(
                            str(comparison),
                            str(item.get("level")),
                            float(item.get("match_weight") or 0),
                        ),
                    )
                )
            merge_row = connection.execute(
                select(dedup_merges)
                .where(dedup_merges.c.pair_id == pair_id)
                .order_by(dedup_merges.c.merged_at.desc())
                .limit(1)
            ).first()
            shown = tuple(r.field for r in rows)
            audit.record(
                self.uow,
                [
                    access_request(actor, Tag.DEDUP_QUEUE_READ, "person", p, shown)
                    for p in (row.person_a, row.person_b)
                ],
            )
            self.uow.commit()
        return PairView(
            row.id,
            row.run_id,
            row.match_probability,
            row.match_weight,
            ReviewStatus(row.review_status),
            row.person_a,
            row.person_b,
            records[0][1],
            records[1][1],
            tuple(rows),
            row.reviewed_by,
            as_utc(row.reviewed_at) if row.reviewed_at is not None else None,
            row.review_reason,
            _merge(merge_row) if merge_row is not None else None,
        )

    def merges(self, actor: Actor, limit: int = 20, offset: int = 0) -> MergesPage:
        """Merges, undone ones too, newest first, one page; ids only, so nothing is logged
        but a refusal. Raises PurposeNotAllowed (logged)."""
        authorize(self.uow, actor, REVIEW, "dedup_merge", "list", Tag.DEDUP_QUEUE_READ)
        limit, offset = max(1, min(limit, MAX_PAGE)), max(0, offset)
        with self.uow:
            connection = self.uow.connection
            total = connection.execute(select(func.count()).select_from(dedup_merges)).scalar_one()
            rows = connection.execute(
                select(dedup_merges)
                .order_by(dedup_merges.c.merged_at.desc(), dedup_merges.c.id)
                .limit(limit)
                .offset(offset)
            ).all()
        return MergesPage(total, offset, limit, tuple(_merge(r) for r in rows))


__all__ = [
    "Agreement",
    "FieldComparison",
    "MergesPage",
    "PairView",
    "QueueEntry",
    "QueuePage",
    "ReviewReading",
    "agreement",
    "with_agreement",
]
