"""Registration-time duplicate check: the use cases the API, the web pages and the CLI call.

`DuplicateCheck.check` scores one person about to be registered against the people already
registered, with the model of the latest deduplication run (`check.CheckModel`), and returns
the likely matches. Candidates come from indexed registry columns (birth date, national ID,
folded name) and are scored in Python; nothing is written to the registry.

`register_household` and `add_member` run the check first and refuse with LikelyDuplicates
(409) when it finds a likely match, unless the caller confirms, with a reason, that the person
is someone else; the confirmation is stored with the new record in the same transaction.

Every check writes one access-log entry for reading the registry, and one per likely match
shown, in that person's name, so a person sees in their access report that their record was
shown as a possible duplicate of someone else's registration.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import pyarrow as pa
from sqlalchemy import and_, exists, insert, or_, select

from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, utc_now
from fairshare.db import UnitOfWork
from fairshare.dedup.check import (
    COMPARED_FIELDS,
    CheckModel,
    Prepared,
    lookup_keys,
    prepare,
    score,
)
from fairshare.dedup.model import FieldEvidence, Thresholds, evidence_json
from fairshare.dedup.orm import dedup_check_confirmations, dedup_merges, dedup_runs
from fairshare.dedup.services import DedupSettings
from fairshare.errors import Conflict
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor
from fairshare.keys import FieldCipher
from fairshare.registry.model import Household, Person, name_key, require_reason
from fairshare.registry.orm import households, people
from fairshare.registry.services import REGISTER, MemberInput, Registry

MATCH_LIMIT = 10  # likely matches returned per person, best first
CANDIDATE_LIMIT = 5_000  # people scored per check at most (a very common birth date)
HOUSEHOLD_FIELDS = ("region", "municipality", "address")
# What a caseworker is shown of each likely match (the evidence tells how the rest compared).
SHOWN_FIELDS = ("given_names", "family_names", "date_of_birth", "sex", "region", "municipality")
UNTRAINED_NOTE = (
    "no deduplication run yet: scored with the model's default parameters, not trained on "
    "this registry; run `fairshare dedup run` to train it"
)
_MODELS: dict[str, CheckModel] = {}  # run id -> model; a run's model never changes


@dataclass(frozen=True)
class LikelyMatch:
    """A registered person who looks like the one being registered."""

    person_id: str
    household_id: str
    given_names: str
    family_names: str
    date_of_birth: date | None
    sex: str | None
    region: str | None
    municipality: str | None
    match_probability: float
    match_weight: float
    evidence: tuple[FieldEvidence, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "household_id": self.household_id,
            "given_names": self.given_names,
            "family_names": self.family_names,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
            "sex": self.sex,
            "region": self.region,
            "municipality": self.municipality,
            "match_probability": round(self.match_probability, 6),
            "match_weight": round(self.match_weight, 4),
            "evidence": evidence_json(self.evidence),
        }


@dataclass(frozen=True)
class CheckResult:
    """The likely matches of one person (best first) and how they were found."""

    matches: tuple[LikelyMatch, ...]
    threshold: float
    candidates: int  # people scored
    run_id: str | None  # the run whose model scored them; None: the untrained defaults
    notes: tuple[str, ...] = ()

    @property
    def trained(self) -> bool:
        return self.run_id is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "matches": [m.as_dict() for m in self.matches],
            "threshold": self.threshold,
            "candidates": self.candidates,
            "model": {"run_id": self.run_id, "trained": self.trained},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class RowMatches:
    """Likely matches of one row of an import file (row is 1-based, as in the report)."""

    row: int
    matches: tuple[LikelyMatch, ...]


class LikelyDuplicates(Conflict):
    """The person being registered looks like someone already registered."""

    title = "Likely duplicate registration"

    def __init__(self, flagged: Sequence[tuple[int, CheckResult]]) -> None:
        described = "; ".join(
            f"member {index + 1} looks like {len(result.matches)} registered "
            f"{'person' if len(result.matches) == 1 else 'people'} (best match probability "
            f"{result.matches[0].match_probability:.2f})"
            for index, result in flagged
        )
        super().__init__(
            f"{described}. Check the matches: if it is the same person, use their record "
            "instead; if not, register again confirming it is someone else "
            "(confirm_not_duplicate with a reason).",
            matches=[
                {"member": index, **match.as_dict()}
                for index, result in flagged
                for match in result.matches
            ],
        )
        self.flagged = list(flagged)


def check_threshold() -> float:
    """The deployment's threshold (FAIRSHARE_DEDUP_CHECK_THRESHOLD), else the lower one."""
    return DedupSettings().check_threshold


class DuplicateCheck:
    """Checks people about to be registered against the registry, with access logging."""

    def __init__(
        self, uow: UnitOfWork, cipher: FieldCipher, threshold: float | None = None
    ) -> None:
        self.uow = uow
        self.cipher = cipher
        self.threshold = threshold if threshold is not None else check_threshold()
        Thresholds(upper=max(self.threshold, 0.5), lower=self.threshold)  # validates

    # ---- checking ------------------------------------------------------------------------

    def check(
        self,
        actor: Actor,
        person: Mapping[str, Any],
        household: Mapping[str, Any] | None = None,
        *,
        household_id: str | None = None,
    ) -> CheckResult:
        """Likely matches of a person about to be registered, best first.

        `person` holds catalogue values (given_names, family_names, date_of_birth, sex,
        national_id, phone; any may be missing); `household` the household's region,
        municipality and address, or `household_id` an existing household to take them from.
        A person with too little to look up (no name and no birth date or ID) gets no
        matches and a note saying so. Raises PurposeNotAllowed (logged).
        """
        authorize(self.uow, actor, REGISTER, "registry", "check", Tag.DEDUP_REGISTRY_CHECK)
        with self.uow:
            values = self._values(person, household, household_id)
            model = self._model()
            result = self._check_one(values, model)
            audit.record(self.uow, self._log(actor, "check", [result.matches]))
            self.uow.commit()
        return result

    def check_table(self, actor: Actor, table: pa.Table) -> list[RowMatches]:
        """Likely matches of each row of a file about to be imported (rows with any).

        `table` has catalogue columns (as `read_table` gives them); the person and household
        columns the check compares are read, the others ignored. Against an empty registry
        nothing is looked up. Raises PurposeNotAllowed (logged).
        """
        authorize(self.uow, actor, REGISTER, "registry", "import", Tag.DEDUP_REGISTRY_CHECK)
        found: list[RowMatches] = []
        with self.uow:
            if self.uow.connection.execute(select(people.c.id).limit(1)).first() is None:
                return found
            columns = [name for name in COMPARED_FIELDS if name in table.column_names]
            rows = table.select(columns).to_pylist()
            model = self._model()
            for index, row in enumerate(rows):
                result = self._check_one(_clean(row), model)
                if result.matches:
                    found.append(RowMatches(index + 1, result.matches))
            audit.record(self.uow, self._log(actor, "import", [r.matches for r in found]))
            self.uow.commit()
        return found

    def _values(
        self,
        person: Mapping[str, Any],
        household: Mapping[str, Any] | None,
        household_id: str | None,
    ) -> dict[str, Any]:
        values = _clean(person)
        if household:
            place = _clean(household)
            values.update({n: place[n] for n in HOUSEHOLD_FIELDS if place[n]})
        elif household_id:
            row = self.uow.connection.execute(
                select(households.c.region, households.c.municipality, households.c.address).where(
                    households.c.id == household_id[:36]
                )
            ).first()
            if row is not None:
                values.update(row._asdict())
        return values

    def _model(self) -> CheckModel:
        """The model of the latest run (cached per run), or the untrained defaults."""
        run_id = self.uow.connection.execute(
            select(dedup_runs.c.id).order_by(dedup_runs.c.finished_at.desc()).limit(1)
        ).scalar()
        if run_id is None:
            return CheckModel.untrained()
        model = _MODELS.get(run_id)
        if model is None:
            stored = json.loads(
                self.uow.connection.execute(
                    select(dedup_runs.c.model).where(dedup_runs.c.id == run_id)
                ).scalar_one()
            )
            model = CheckModel.from_settings(
                stored["splink"], run_id, stored.get("term_frequencies")
            )
            if len(_MODELS) >= 4:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[run_id] = model
        return model

    def _check_one(self, values: Mapping[str, Any], model: CheckModel) -> CheckResult:
        notes = [] if model.trained else [UNTRAINED_NOTE]
        keys = lookup_keys(values, name_key)
        if not keys:
            notes.append(
                "give the person's names and date of birth, or national ID, to look for duplicates"
            )
            return CheckResult((), self.threshold, 0, model.run_id, tuple(notes))
        new = prepare(values)
        conditions = []
        if keys.born_and_named:
            named = [people.c.name_key.contains(p, autoescape=True) for p in keys.name_prefixes]
            conditions.append(and_(people.c.date_of_birth.in_(keys.dates_of_birth), or_(*named)))
        if keys.national_ids:
            conditions.append(people.c.national_id.in_(keys.national_ids))
        if keys.name_keys:
            conditions.append(people.c.name_key.in_(keys.name_keys))
        merged = exists().where(
            and_(dedup_merges.c.merged_id == people.c.id, dedup_merges.c.unmerged_at.is_(None))
        )
        rows = self.uow.connection.execute(
            select(
                people.c.id,
                people.c.household_id,
                people.c.given_names,
                people.c.family_names,
                people.c.date_of_birth,
                people.c.sex,
                people.c.national_id,
                people.c.phone,
                households.c.region,
                households.c.municipality,
                households.c.address,
            )
            .join(households, households.c.id == people.c.household_id)
            .where(or_(*conditions))
            .where(~merged)
            .limit(CANDIDATE_LIMIT)
        ).all()
        scored: list[LikelyMatch] = []
        for row in rows:
            candidate: Prepared = prepare(cast(Mapping[str, Any], row._mapping))
            result = score(model, new, candidate)
            if result.match_probability >= self.threshold:
                scored.append(
                    LikelyMatch(
                        row.id,
                        row.household_id,
                        row.given_names,
                        row.family_names,
                        row.date_of_birth,
                        row.sex,
                        row.region,
                        row.municipality,
                        result.match_probability,
                        result.match_weight,
                        result.evidence,
                    )
                )
        if len(rows) >= CANDIDATE_LIMIT:
            notes.append(f"only the first {CANDIDATE_LIMIT:,} candidates were scored")
        scored.sort(key=lambda m: (-m.match_weight, m.person_id))
        return CheckResult(
            tuple(scored[:MATCH_LIMIT]), self.threshold, len(rows), model.run_id, tuple(notes)
        )

    def _log(
        self, actor: Actor, subject: str, shown: Sequence[Sequence[LikelyMatch]]
    ) -> list[AccessRequest]:
        """The registry read by the check, and each likely match shown, in its own name."""
        log = [
            access_request(actor, Tag.DEDUP_REGISTRY_CHECK, "registry", subject, COMPARED_FIELDS)
        ]
        seen: set[str] = set()
        for matches in shown:
            for match in matches:
                if match.person_id in seen:
                    continue
                seen.add(match.person_id)
                log.append(
                    access_request(
                        actor, Tag.DEDUP_CANDIDATE_READ, "person", match.person_id, COMPARED_FIELDS
                    )
                )
        return log

    # ---- registering with the check ------------------------------------------------------

    def register_household(
        self,
        actor: Actor,
        values: dict[str, Any],
        members: list[MemberInput],
        household_ref: str | None = None,
        *,
        not_duplicate_reason: str | None = None,
    ) -> tuple[Household, list[tuple[int, CheckResult]]]:
        """Check each member, then register the household (Registry.register_household).

        Returns the household and the members' likely matches (index, result). Raises
        LikelyDuplicates when a member has likely matches and no `not_duplicate_reason`
        confirms they are other people; everything Registry.register_household raises.
        """
        flagged = self._flag(
            actor, [self.check(actor, m.values, values) for m in members], not_duplicate_reason
        )
        with self.uow:
            registry = Registry(UnitOfWork(self.uow.connection), self.cipher)
            household = registry.register_household(actor, values, members, household_ref)
            self._confirm(actor, [p.id for p in household.members], flagged, not_duplicate_reason)
            self.uow.commit()
        return household, flagged

    def add_member(
        self,
        actor: Actor,
        household_id: str,
        member: MemberInput,
        *,
        not_duplicate_reason: str | None = None,
    ) -> tuple[Person, CheckResult]:
        """Check the person, then add them to a household (Registry.add_member).

        Raises LikelyDuplicates (unless confirmed with a reason) and whatever
        Registry.add_member raises.
        """
        result = self.check(actor, member.values, household_id=household_id)
        flagged = self._flag(actor, [result], not_duplicate_reason)
        with self.uow:
            registry = Registry(UnitOfWork(self.uow.connection), self.cipher)
            person = registry.add_member(actor, household_id, member)
            self._confirm(actor, [person.id], flagged, not_duplicate_reason)
            self.uow.commit()
        return person, result

    def _flag(
        self, actor: Actor, results: list[CheckResult], reason: str | None
    ) -> list[tuple[int, CheckResult]]:
        # Authorised before the registration's transaction opens, so that a refusal is
        # logged in a transaction of its own rather than rolled back with the registration.
        authorize(self.uow, actor, REGISTER, "household", "new", Tag.REGISTRY_PERSON_CREATE)
        if reason is not None and reason.strip():
            require_reason(reason)
        flagged = [(index, result) for index, result in enumerate(results) if result.matches]
        if flagged and not (reason and reason.strip()):
            raise LikelyDuplicates(flagged)
        return flagged

    def _confirm(
        self,
        actor: Actor,
        person_ids: list[str],
        flagged: list[tuple[int, CheckResult]],
        reason: str | None,
    ) -> None:
        if not flagged:
            return
        text = require_reason(reason or "")
        now = utc_now()
        rows = []
        log = []
        for index, result in flagged:
            for match in result.matches:
                rows.append(
                    {
                        "person_id": person_ids[index],
                        "matched_person_id": match.person_id,
                        "match_probability": match.match_probability,
                        "run_id": result.run_id,
                        "reason": text,
                        "confirmed_by": actor.username,
                        "confirmed_at": now,
                    }
                )
                log.append(
                    access_request(
                        actor, Tag.DEDUP_CANDIDATE_DISMISS, "person", match.person_id, ()
                    )
                )
        self.uow.connection.execute(insert(dedup_check_confirmations), rows)
        audit.record(self.uow, log)

    def confirmations(self, person_id: str) -> list[dict[str, Any]]:
        """Stored confirmations that `person_id` is not their likely matches (no names)."""
        with self.uow:
            return [
                dict(row._mapping)
                for row in self.uow.connection.execute(
                    select(dedup_check_confirmations)
                    .where(dedup_check_confirmations.c.person_id == person_id)
                    .order_by(dedup_check_confirmations.c.id)
                )
            ]


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """The compared fields of a person's values, blank text treated as missing."""
    out: dict[str, Any] = {}
    for name in COMPARED_FIELDS:
        value = values.get(name)
        if isinstance(value, str):
            # Control characters never match anything (and PostgreSQL refuses NUL); the
            # registration that follows rejects them with a message naming the field.
            value = "".join(c for c in value[:200] if unicodedata.category(c) != "Cc").strip()
            value = value or None
        out[name] = value
    return out


__all__ = [
    "CheckResult",
    "DuplicateCheck",
    "LikelyDuplicates",
    "LikelyMatch",
    "RowMatches",
    "check_threshold",
]
