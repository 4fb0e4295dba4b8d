"""Review and merge: a caseworker decides the uncertain pairs; merges can always be undone.

A merge makes one record the survivor and keeps the other, unchanged, as merged into it: a
row of `dedup_merges` says so while its `unmerged_at` is empty. People are never changed or
deleted. The merged person's eligibility decisions, appeals and enrolments follow the
survivor (their `subject_id` is re-pointed in the merge's transaction), and so do their
entitlement accounts (see `dedup.follow`: re-owned, or their balance moved by a transfer).
The merge lists exactly which rows moved, so an unmerge puts back those rows and no others.
Cards and in-person verifications of the merged person stay valid: a redemption with them
draws on the survivor's accounts (revoking a card could not be undone by an unmerge). Each
merge and unmerge writes a history entry (field "merged_into") on the merged person's record
and access-log entries for both people, and for every transfer it posts.

Other areas exclude merged records with `merged_people(uow)` and find where a record now
lives with `survivor_of(uow, person_id)`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update

from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, as_utc, utc_now
from fairshare.catalogue import services as catalogue_services
from fairshare.db import UnitOfWork
from fairshare.dedup import follow
from fairshare.dedup.model import NoRun, ReviewStatus
from fairshare.dedup.orm import dedup_clusters, dedup_merges, dedup_pairs, dedup_runs
from fairshare.eligibility.orm import decisions, enrolments
from fairshare.eligibility.services import _facts_scope
from fairshare.errors import Conflict, InvalidInput, NotFound
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose
from fairshare.keys import FieldCipher
from fairshare.ledger.services import Ledger
from fairshare.registry.model import Person, UnknownPerson, require_reason
from fairshare.registry.orm import people, record_changes
from fairshare.registry.services import Registry

REVIEW = frozenset({Purpose.DUPLICATE_REVIEW})
QUEUE_LIMIT = 50
MERGED_INTO = "merged_into"
# What a merge or unmerge moves between the two records, as named in the access log.
FOLLOWING = ("decisions", "enrolments", "appeals", "entitlement_balance")


class UnknownPair(NotFound):
    def __init__(self, pair_id: int) -> None:
        super().__init__(f"no scored pair with id {pair_id}; list the queue to find the pair")


class UnknownMerge(NotFound):
    def __init__(self, merge_id: str) -> None:
        super().__init__(f"no merge with id {merge_id!r}")


@dataclass(frozen=True)
class QueuedPair:
    """A pair waiting for review: both records side by side and the per-field evidence."""

    id: int
    run_id: str
    match_probability: float
    match_weight: float
    evidence: dict[str, dict[str, Any]]
    person_a: Person
    person_b: Person


@dataclass(frozen=True)
class Merge:
    id: str
    pair_id: int | None
    survivor_id: str
    merged_id: str
    reason: str
    merged_by: str
    merged_at: datetime
    moved: dict[str, Any]
    unmerged_by: str | None = None
    unmerged_at: datetime | None = None

    @property
    def double_payments(self) -> list[dict[str, Any]]:
        """Entitlements both records were paid for one programme and period: they stay paid
        (the money went out) and are listed for a caseworker or auditor to follow up."""
        return list(self.moved.get("double_payments", []))


@dataclass(frozen=True)
class Decision:
    pair_id: int
    status: ReviewStatus
    merge: Merge | None = None


@dataclass(frozen=True)
class LinkedMergeReport:
    run_id: str
    merges: tuple[Merge, ...]
    skipped: int  # cluster members already merged, or already one person


def merged_people(uow: UnitOfWork) -> set[str]:
    """Ids of people merged into another record (merge not undone). Call inside `with uow`."""
    return {
        row.merged_id
        for row in uow.connection.execute(
            select(dedup_merges.c.merged_id).where(dedup_merges.c.unmerged_at.is_(None))
        )
    }


def survivor_of(uow: UnitOfWork, person_id: str) -> str:
    """The record a person now lives in: themselves, or the end of their chain of merges."""
    current, seen = person_id, {person_id}
    while True:
        row = uow.connection.execute(
            select(dedup_merges.c.survivor_id).where(
                and_(dedup_merges.c.merged_id == current, dedup_merges.c.unmerged_at.is_(None))
            )
        ).first()
        if row is None or row.survivor_id in seen:
            return current
        current = row.survivor_id
        seen.add(current)


class Review:
    """The review queue, decisions on pairs, merges and unmerges, with access logging."""

    def __init__(self, uow: UnitOfWork, cipher: FieldCipher) -> None:
        self.uow = uow
        self.cipher = cipher

    # ---- queue ---------------------------------------------------------------------------

    def queue(
        self, actor: Actor, run_id: str | None = None, limit: int = QUEUE_LIMIT
    ) -> list[QueuedPair]:
        """Pending pairs of a run (default: the latest), most likely matches first.

        Both records are read through the registry's own loading, without health values;
        each listed pair logs a read of both people. Raises NoRun, PurposeNotAllowed (logged).
        """
        authorize(self.uow, actor, REVIEW, "dedup_run", run_id or "latest", Tag.DEDUP_QUEUE_READ)
        registry = Registry(self.uow, self.cipher)
        with self.uow:
            run = self._run_id(run_id)
            catalogue = catalogue_services.load(self.uow)
            rows = self.uow.connection.execute(
                select(dedup_pairs)
                .where(
                    and_(
                        dedup_pairs.c.run_id == run,
                        dedup_pairs.c.review_status == ReviewStatus.PENDING.value,
                    )
                )
                .order_by(dedup_pairs.c.match_probability.desc(), dedup_pairs.c.id)
                .limit(max(1, min(limit, 500)))
            ).all()
            queued: list[QueuedPair] = []
            log: list[AccessRequest] = []
            for row in rows:
                a = registry._load_person(catalogue, row.person_a, with_health=False)
                b = registry._load_person(catalogue, row.person_b, with_health=False)
                queued.append(
                    QueuedPair(
                        row.id,
                        row.run_id,
                        row.match_probability,
                        row.match_weight,
                        json.loads(row.evidence),
                        a,
                        b,
                    )
                )
                log += [
                    self._request(actor, Tag.DEDUP_QUEUE_READ, p.id, tuple(p.values))
                    for p in (a, b)
                ]
            audit.record(self.uow, log)
            self.uow.commit()
        return queued

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

    # ---- decisions -----------------------------------------------------------------------

    def decide(
        self,
        actor: Actor,
        pair_id: int,
        *,
        accept: bool,
        reason: str,
        survivor_id: str | None = None,
    ) -> Decision:
        """Accept (one person: merge them) or reject (two people) a pending pair, with a reason.

        The survivor is `survivor_id` if given (one of the pair), else the earlier-registered
        record; people already merged are represented by their survivor. Raises UnknownPair,
        Conflict (already decided, or already one person), InvalidInput (reason, survivor),
        PurposeNotAllowed (logged).
        """
        authorize(self.uow, actor, REVIEW, "dedup_pair", str(pair_id), Tag.DEDUP_PAIR_DECIDE)
        text = require_reason(reason)
        status = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
        with self.uow:
            pair = self.uow.connection.execute(
                select(dedup_pairs).where(dedup_pairs.c.id == pair_id)
            ).first()
            if pair is None:
                raise UnknownPair(pair_id)
            if survivor_id is not None and survivor_id not in (pair.person_a, pair.person_b):
                raise InvalidInput(
                    f"the survivor must be one of the pair: {pair.person_a} or {pair.person_b}",
                    errors=[{"field": "survivor", "reason": "is not one of the pair"}],
                )
            now = utc_now()
            changed = self.uow.connection.execute(
                update(dedup_pairs)
                .where(
                    and_(
                        dedup_pairs.c.id == pair_id,
                        dedup_pairs.c.review_status == ReviewStatus.PENDING.value,
                    )
                )
                .values(
                    review_status=status.value,
                    reviewed_by=actor.username,
                    reviewed_at=now,
                    review_reason=text,
                )
            ).rowcount
            if changed != 1:
                raise Conflict(
                    f"pair {pair_id} is not waiting for review (it is {pair.review_status}"
                    + (f", decided by {pair.reviewed_by}" if pair.reviewed_by else "")
                    + ")"
                )
            merge: Merge | None = None
            if accept:
                a = survivor_of(self.uow, pair.person_a)
                b = survivor_of(self.uow, pair.person_b)
                if a == b:
                    raise Conflict(f"the two records of pair {pair_id} are already merged into {a}")
                chosen = survivor_of(self.uow, survivor_id) if survivor_id else None
                survivor, merged = self._order(a, b, chosen)
                merge = self._merge(actor, survivor, merged, text, pair_id, now)
            log = [
                self._request(actor, Tag.DEDUP_PAIR_DECIDE, p, ("review_status",))
                for p in (pair.person_a, pair.person_b)
            ]
            audit.record(self.uow, log)
            self.uow.commit()
        return Decision(pair_id, status, merge)

    def _order(self, a: str, b: str, chosen: str | None) -> tuple[str, str]:
        """(survivor, merged): the chosen one, else the earlier-registered record."""
        if chosen is not None:
            return (a, b) if chosen == a else (b, a)
        created = dict(
            self.uow.connection.execute(
                select(people.c.id, people.c.created_at).where(people.c.id.in_([a, b]))
            ).all()
        )
        first = min((a, b), key=lambda p: (as_utc(created[p]), p))
        return (first, b if first == a else a)

    # ---- merge and unmerge ---------------------------------------------------------------

    def _merge(
        self,
        actor: Actor,
        survivor: str,
        merged: str,
        reason: str,
        pair_id: int | None,
        now: datetime,
    ) -> Merge:
        """Inside the caller's transaction: re-point rows, store the merge, history and log."""
        connection = self.uow.connection
        for person in (survivor, merged):
            if connection.execute(select(people.c.id).where(people.c.id == person)).first() is None:
                raise UnknownPerson(person)
        moved_decisions: list[str] = []
        resealed: list[str] = []
        for row in connection.execute(
            select(decisions.c.id, decisions.c.facts, decisions.c.facts_sealed)
            .where(and_(decisions.c.subject_type == "person", decisions.c.subject_id == merged))
            .order_by(decisions.c.id)
        ).all():
            values: dict[str, Any] = {"subject_id": survivor}
            if row.facts_sealed:
                values["facts"] = self._reseal(row.facts, row.id, merged, survivor)
                resealed.append(row.id)
            connection.execute(update(decisions).where(decisions.c.id == row.id).values(**values))
            moved_decisions.append(row.id)
        survivor_programmes = {
            r.programme
            for r in connection.execute(
                select(enrolments.c.programme).where(enrolments.c.subject_id == survivor)
            )
        }
        moved_enrolments: list[dict[str, str]] = []
        kept_enrolments: list[str] = []
        for enrolment in connection.execute(
            select(enrolments.c.programme, enrolments.c.decision_id)
            .where(and_(enrolments.c.subject_type == "person", enrolments.c.subject_id == merged))
            .order_by(enrolments.c.programme)
        ).all():
            if enrolment.programme in survivor_programmes:
                # The survivor is enrolled already; the merged record's enrolment stays
                # where it is (merged people are excluded through merged_people).
                kept_enrolments.append(enrolment.programme)
                continue
            connection.execute(
                update(enrolments)
                .where(
                    and_(
                        enrolments.c.programme == enrolment.programme,
                        enrolments.c.subject_id == merged,
                    )
                )
                .values(subject_id=survivor)
            )
            moved_enrolments.append(
                {"programme": enrolment.programme, "decision_id": enrolment.decision_id}
            )
        merge_id = str(uuid.uuid4())
        moved_appeals = follow.move_appeals(connection, merged, survivor)
        reowned, balances = follow.follow_accounts(
            Ledger(self.uow),
            connection,
            actor,
            merge_id=merge_id,
            merged=merged,
            survivor=survivor,
            now=now,
        )
        moved = {
            "decisions": moved_decisions,
            "resealed_decisions": resealed,
            "enrolments": moved_enrolments,
            "enrolments_kept": kept_enrolments,
            "appeals": moved_appeals,
            "accounts_reowned": reowned,
            "balances_moved": balances,
            "double_payments": follow.double_payments(connection, merged, survivor),
        }
        merge = Merge(merge_id, pair_id, survivor, merged, reason, actor.username, now, moved)
        connection.execute(
            insert(dedup_merges).values(
                id=merge.id,
                pair_id=pair_id,
                survivor_id=survivor,
                merged_id=merged,
                reason=reason,
                merged_by=actor.username,
                merged_at=now,
                moved=json.dumps(moved, sort_keys=True),
            )
        )
        self._history(actor, merged, None, survivor, reason, now)
        audit.record(
            self.uow,
            [
                self._request(actor, Tag.DEDUP_PERSON_MERGE, merged, (MERGED_INTO, *FOLLOWING)),
                self._request(actor, Tag.DEDUP_PERSON_MERGE, survivor, FOLLOWING),
                *follow.transfer_log(actor, [item["transfer"] for item in balances]),
            ],
        )
        return merge

    def _reseal(self, sealed: str, decision_id: str, old: str, new: str) -> str:
        """Sealed facts are bound to their subject: open under the old one, seal to the new."""
        facts = self.cipher.open(sealed, _facts_scope(old, decision_id))
        return self.cipher.seal(facts, _facts_scope(new, decision_id))

    def _history(
        self,
        actor: Actor,
        person_id: str,
        old: str | None,
        new: str | None,
        reason: str,
        now: datetime,
    ) -> None:
        self.uow.connection.execute(
            insert(record_changes).values(
                subject_type="person",
                subject_id=person_id,
                field=MERGED_INTO,
                old_value=json.dumps(old) if old is not None else None,
                new_value=json.dumps(new) if new is not None else None,
                sealed=False,
                changed_at=now,
                actor=actor.username,
                role=actor.role.value,
                reason=reason,
                correction_id=None,
            )
        )

    def unmerge(self, actor: Actor, merge_id: str, reason: str) -> Merge:
        """Undo a merge exactly: the rows it moved go back to the merged person, re-owned
        accounts too, and each balance it moved comes back by a reversing transfer.

        The merge row is kept, marked unmerged. Raises UnknownMerge, Conflict (undone
        already; the survivor was merged on since: undo that merge first; or the survivor
        has used part of what the merge brought over: the message says which account to
        credit), InvalidInput, PurposeNotAllowed (logged). Nothing changes when it raises.
        """
        authorize(self.uow, actor, REVIEW, "dedup_merge", merge_id[:36], Tag.DEDUP_PERSON_UNMERGE)
        text = require_reason(reason)
        with self.uow:
            connection = self.uow.connection
            row = connection.execute(
                select(dedup_merges).where(dedup_merges.c.id == merge_id)
            ).first()
            if row is None:
                raise UnknownMerge(merge_id)
            if row.unmerged_at is not None:
                raise Conflict(
                    f"merge {merge_id} was undone already by {row.unmerged_by} "
                    f"at {as_utc(row.unmerged_at).isoformat(timespec='seconds')}"
                )
            onward = survivor_of(self.uow, row.survivor_id)
            if onward != row.survivor_id:
                raise Conflict(
                    f"the survivor {row.survivor_id} was merged into {onward} since; "
                    "undo that merge first"
                )
            moved = json.loads(row.moved)
            follow.check_restorable(connection, moved, row.survivor_id)
            now = utc_now()
            changed = connection.execute(
                update(dedup_merges)
                .where(and_(dedup_merges.c.id == merge_id, dedup_merges.c.unmerged_at.is_(None)))
                .values(unmerged_by=actor.username, unmerged_at=now, unmerge_reason=text)
            ).rowcount
            if changed != 1:
                raise Conflict(f"merge {merge_id} was undone already")
            resealed = set(moved.get("resealed_decisions", []))
            for decision_id in moved["decisions"]:
                values: dict[str, Any] = {"subject_id": row.merged_id}
                if decision_id in resealed:
                    current = connection.execute(
                        select(decisions.c.facts).where(decisions.c.id == decision_id)
                    ).scalar_one()
                    values["facts"] = self._reseal(
                        current, decision_id, row.survivor_id, row.merged_id
                    )
                connection.execute(
                    update(decisions)
                    .where(
                        and_(
                            decisions.c.id == decision_id,
                            decisions.c.subject_id == row.survivor_id,
                        )
                    )
                    .values(**values)
                )
            for item in moved["enrolments"]:
                connection.execute(
                    update(enrolments)
                    .where(
                        and_(
                            enrolments.c.programme == item["programme"],
                            enrolments.c.subject_id == row.survivor_id,
                            enrolments.c.decision_id == item["decision_id"],
                        )
                    )
                    .values(subject_id=row.merged_id)
                )
            follow.restore_appeals(
                connection,
                moved.get("appeals", []),
                moved["decisions"],
                row.merged_id,
                row.survivor_id,
            )
            reversals = follow.restore_accounts(
                Ledger(self.uow),
                connection,
                actor,
                merge_id=row.id,
                moved=moved,
                merged=row.merged_id,
                survivor=row.survivor_id,
                now=now,
            )
            self._history(actor, row.merged_id, row.survivor_id, None, text, now)
            audit.record(
                self.uow,
                [
                    self._request(
                        actor, Tag.DEDUP_PERSON_UNMERGE, row.merged_id, (MERGED_INTO, *FOLLOWING)
                    ),
                    self._request(actor, Tag.DEDUP_PERSON_UNMERGE, row.survivor_id, FOLLOWING),
                    *follow.transfer_log(actor, reversals),
                ],
            )
            self.uow.commit()
        return Merge(
            row.id,
            row.pair_id,
            row.survivor_id,
            row.merged_id,
            row.reason,
            row.merged_by,
            as_utc(row.merged_at),
            moved,
            actor.username,
            now,
        )

    def merge_linked(self, actor: Actor, run_id: str | None = None) -> LinkedMergeReport:
        """Merge every automatically linked cluster of a run into its earliest member.

        One transaction for the whole run. Members already merged (by review or an earlier
        call) are skipped, so calling it twice merges nothing more. Raises NoRun,
        PurposeNotAllowed (logged).
        """
        authorize(self.uow, actor, REVIEW, "dedup_run", run_id or "latest", Tag.DEDUP_PERSON_MERGE)
        with self.uow:
            run = self._run_id(run_id)
            connection = self.uow.connection
            clusters: dict[str, list[tuple[datetime, str]]] = {}
            for row in connection.execute(
                select(dedup_clusters.c.cluster_id, people.c.id, people.c.created_at)
                .join(people, people.c.id == dedup_clusters.c.person_id)
                .where(dedup_clusters.c.run_id == run)
            ):
                clusters.setdefault(row.cluster_id, []).append((as_utc(row.created_at), row.id))
            already = merged_people(self.uow)
            now = utc_now()
            merges: list[Merge] = []
            skipped = 0
            reason = f"linked automatically in deduplication run {run}"
            for cluster_id in sorted(clusters):
                members = [p for _, p in sorted(clusters[cluster_id])]
                active = [p for p in members if p not in already]
                skipped += len(members) - len(active)
                if len(active) < 2:
                    continue
                survivor, rest = active[0], active[1:]
                for person in rest:
                    if survivor_of(self.uow, person) == survivor:
                        skipped += 1
                        continue
                    merges.append(self._merge(actor, survivor, person, reason, None, now))
                    already.add(person)
            self.uow.commit()
        return LinkedMergeReport(run, tuple(merges), skipped)

    def merges(self, person_id: str | None = None) -> list[Merge]:
        """Merges (undone ones too), newest first; ids only, so nothing is logged."""
        query = select(dedup_merges).order_by(dedup_merges.c.merged_at.desc())
        if person_id:
            query = query.where(
                (dedup_merges.c.survivor_id == person_id) | (dedup_merges.c.merged_id == person_id)
            )
        with self.uow:
            return [
                Merge(
                    r.id,
                    r.pair_id,
                    r.survivor_id,
                    r.merged_id,
                    r.reason,
                    r.merged_by,
                    as_utc(r.merged_at),
                    json.loads(r.moved),
                    r.unmerged_by,
                    as_utc(r.unmerged_at) if r.unmerged_at is not None else None,
                )
                for r in self.uow.connection.execute(query)
            ]

    @staticmethod
    def _request(actor: Actor, tag: Tag, person_id: str, fields: tuple[str, ...]) -> AccessRequest:
        return access_request(
            actor,
            tag,
            "person",
            person_id,
            fields,
        )


__all__ = [
    "Decision",
    "LinkedMergeReport",
    "Merge",
    "QueuedPair",
    "Review",
    "UnknownMerge",
    "UnknownPair",
    "merged_people",
    "survivor_of",
]
