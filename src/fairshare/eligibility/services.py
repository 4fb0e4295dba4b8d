"""Eligibility use cases. The API, the web pages and the CLI call these and nothing below them.

Every method checks the actor's purpose, does its work in one transaction and writes the
access-log entries for it in that same transaction. Programme officers design, simulate,
publish and run programmes and see aggregates only; decisions about a person are shown to
that person and to caseworkers; appeals are decided by a caseworker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, insert, select, update

from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, as_utc, utc_now
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Catalogue
from fairshare.db import UnitOfWork
from fairshare.eligibility import storage
from fairshare.eligibility.compile import compile_rule
from fairshare.eligibility.evaluate import evaluate, facts_from_json
from fairshare.eligibility.explain import explain
from fairshare.eligibility.facts import load_registry
from fairshare.eligibility.model import (
    DEFAULT_APPEAL_DAYS,
    Appeal,
    AppealClosed,
    AppealOutcome,
    AppealStatus,
    DecisionBasis,
    Explanation,
    NothingToPublish,
    NotPublished,
    Programme,
    ProgrammeExists,
    ProgrammeOverview,
    ProgrammeSpec,
    QueuedAppeal,
    RuleVersion,
    Run,
    Simulation,
    Target,
    UnknownAppeal,
    UnknownDecision,
    benefit_text,
    check_language,
    due_date,
    validate_programme,
    words,
)
from fairshare.eligibility.orm import (
    appeals,
    decisions,
    eligibility_runs,
    enrolments,
    programmes,
    rule_versions,
)
from fairshare.eligibility.rules import Rule, parse_rule
from fairshare.eligibility.rules import Target as RuleTarget
from fairshare.eligibility.simulation import breakdowns, eligible_subjects, population
from fairshare.errors import InvalidInput
from fairshare.identity.guard import access_request, authorize, deny
from fairshare.identity.model import PERSONAL_DATA_PURPOSES, Actor, Purpose, PurposeNotAllowed
from fairshare.keys import FieldCipher
from fairshare.registry.model import UnknownPerson, require_reason
from fairshare.registry.orm import people

P = Purpose
DESIGN = frozenset({P.PROGRAMME_DESIGN})
SIMULATE = frozenset({P.PROGRAMME_DESIGN, P.CASE_MANAGEMENT, P.AUDIT})
READ_DECISIONS = frozenset(
    {
        P.SELF_SERVICE,
        P.CASE_MANAGEMENT,
        P.APPEAL_REVIEW,
        P.HEALTH_ASSESSMENT,
        P.DATA_SUBJECT_REQUEST,
    }
)
# Decisions and appeals of programmes that read health data reveal health data by their mere
# outcome, so outside the person's own view they are handled under a health purpose only.
FILE_APPEAL = frozenset({P.SELF_SERVICE, P.APPEAL_REVIEW, P.CASE_MANAGEMENT, P.HEALTH_ASSESSMENT})
READ_OWN_APPEALS = FILE_APPEAL
REVIEW_APPEALS = frozenset({P.APPEAL_REVIEW, P.HEALTH_ASSESSMENT})
BATCH_ROWS = 5_000
DRAFT_ATTRIBUTES = frozenset(
    {"name", "description", "target", "asset", "amount", "period", "declared", "rule", "depends_on"}
)
Progress = Callable[[int, int], None]

# Explaining a decision re-reads its rule; parsing it once per version keeps that fast.
_RULES: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Rule] = {}
_RULES_KEPT = 256


def _new_id() -> str:
    return str(uuid.uuid4())


def _facts_scope(subject_id: str, decision_id: str) -> str:
    # Bound to subject and decision: sealed facts copied onto another decision do not open.
    return f"{subject_id}:decision:{decision_id}"


def _chunks(items: list[Any], size: int = 1000) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Eligibility:
    """Programmes, simulations, published rule versions, runs, decisions and appeals."""

    def __init__(
        self, uow: UnitOfWork, cipher: FieldCipher, *, appeal_days: int = DEFAULT_APPEAL_DAYS
    ) -> None:
        self.uow = uow
        self.cipher = cipher
        self.appeal_days = appeal_days

    # ---- programmes ---------------------------------------------------------------------

    def create_programme(self, actor: Actor, spec: ProgrammeSpec) -> Programme:
        """Save a new programme as a draft; its rule is checked now, nothing is published.

        Raises RuleError (with the position), RefusedField, UnknownField, UnknownAsset,
        InvalidInput (no rule, amount not positive, ...), ProgrammeExists, PurposeNotAllowed.
        Nothing is stored when it raises.
        """
        authorize(
            self.uow,
            actor,
            DESIGN,
            "programme",
            str(spec.code)[:40],
            Tag.ELIGIBILITY_PROGRAMME_CREATE,
        )
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            programme = validate_programme(spec, catalogue)
            self._check_dependencies(programme)
            self._parse(programme.target, programme.rule, programme, catalogue)
            if (
                self.uow.connection.execute(
                    select(programmes.c.code).where(programmes.c.code == programme.code)
                ).first()
                is not None
            ):
                raise ProgrammeExists(programme.code)
            now = utc_now()
            self.uow.connection.execute(
                insert(programmes).values(
                    code=programme.code,
                    created_at=now,
                    created_by=actor.username,
                    updated_at=now,
                    updated_by=actor.username,
                    **storage.programme_values(programme),
                )
            )
            self._log(actor, Tag.ELIGIBILITY_PROGRAMME_CREATE, "programme", programme.code)
            self.uow.commit()
        return replace(programme, updated_at=now, updated_by=actor.username)

    def update_draft(self, actor: Actor, code: str, **changes: Any) -> Programme:
        """Change the draft (name, description, target, asset, amount, period, declared,
        rule, depends_on). Published versions are untouched until the draft is published.

        Raises UnknownProgramme and everything create_programme raises.
        """
        authorize(self.uow, actor, DESIGN, "programme", code[:40], Tag.ELIGIBILITY_PROGRAMME_UPDATE)
        unknown = sorted(set(changes) - DRAFT_ATTRIBUTES)
        if unknown:
            raise InvalidInput(
                f"a programme draft has no attribute(s) {', '.join(unknown)}",
                errors=[{"field": name, "reason": "unknown attribute"} for name in unknown],
            )
        with self.uow:
            current = storage.load_programme(self.uow, code, for_update=True)
            values: dict[str, Any] = {
                "code": current.code,
                "name": current.name,
                "description": current.description,
                "target": current.target.value,
                "asset": current.asset,
                "amount": current.amount,
                "period": current.period.value,
                "declared": current.declared,
                "rule": current.rule,
                "depends_on": current.depends_on,
            }
            values.update(changes)
            values["declared"] = tuple(values["declared"])
            values["depends_on"] = tuple(values["depends_on"])
            catalogue = catalogue_services.load(self.uow)
            programme = validate_programme(ProgrammeSpec(**values), catalogue)
            self._check_dependencies(programme)
            self._parse(programme.target, programme.rule, programme, catalogue)
            now = utc_now()
            self.uow.connection.execute(
                update(programmes)
                .where(programmes.c.code == code)
                .values(
                    updated_at=now, updated_by=actor.username, **storage.programme_values(programme)
                )
            )
            self._log(actor, Tag.ELIGIBILITY_PROGRAMME_UPDATE, "programme", code)
            self.uow.commit()
        return replace(
            programme,
            published_version=current.published_version,
            updated_at=now,
            updated_by=actor.username,
        )

    def list_programmes(self) -> list[ProgrammeOverview]:
        """Every programme with its published versions and last run. Public information:
        the rules and the fields they read are published, and hold no personal data."""
        with self.uow:
            return [self._overview(programme) for programme in storage.all_programmes(self.uow)]

    def get_programme(self, code: str) -> ProgrammeOverview:
        """One programme with its versions and last run; raises UnknownProgramme."""
        with self.uow:
            return self._overview(storage.load_programme(self.uow, code))

    def list_runs(self, code: str, limit: int = 100) -> list[Run]:
        """The programme's runs, newest first (counts and cost only: public, like the last run
        of get_programme). Raises UnknownProgramme."""
        with self.uow:
            storage.load_programme(self.uow, code)
            return storage.runs(self.uow, code, max(1, min(limit, 1000)))

    def check_rule(
        self,
        actor: Actor,
        target: str,
        source: str,
        declared: Iterable[str],
        depends_on: Iterable[str] = (),
    ) -> Rule:
        """Check a rule as it is being written, against the fields the draft declares, without
        saving anything; returns the checked Rule (its fields_used say what it reads).

        Reads no personal data, so nothing is logged unless the purpose is refused.
        Raises RuleError (with line and column), InvalidInput (unknown target),
        PurposeNotAllowed.
        """
        authorize(
            self.uow, actor, DESIGN, "programme", "rule-check", Tag.ELIGIBILITY_PROGRAMME_UPDATE
        )
        try:
            rule_target = RuleTarget(target)
        except ValueError:
            raise InvalidInput(
                "a programme targets 'person' or 'household'",
                errors=[{"field": "target", "reason": "must be 'person' or 'household'"}],
            ) from None
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
        return parse_rule(
            source,
            target=rule_target,
            catalogue=catalogue,
            declared=tuple(declared),
            programmes=tuple(depends_on),
        )

    def _overview(self, programme: Programme) -> ProgrammeOverview:
        return ProgrammeOverview(
            programme,
            tuple(storage.versions(self.uow, programme.code)),
            storage.latest_run(self.uow, programme.code),
        )

    def _check_dependencies(self, programme: Programme) -> None:
        if not programme.depends_on:
            return
        known = {
            row.code
            for row in self.uow.connection.execute(
                select(programmes.c.code).where(programmes.c.code.in_(programme.depends_on))
            )
        }
        missing = [code for code in programme.depends_on if code not in known]
        if missing:
            raise InvalidInput(
                f"programme {programme.code!r} names programme(s) that do not exist: "
                f"{', '.join(missing)}",
                errors=[{"field": "depends_on", "reason": f"no programme {m!r}"} for m in missing],
            )

    def _parse(
        self,
        target: Target,
        source: str,
        terms: Programme | RuleVersion,
        catalogue: Catalogue,
    ) -> Rule:
        """The rule, checked against the declared fields; raises RuleError with the position."""
        return parse_rule(
            source,
            target=RuleTarget(target.value),
            catalogue=catalogue,
            declared=terms.field_names,
            programmes=terms.depends_on,
        )

    def _version_rule(self, version: RuleVersion, catalogue: Catalogue) -> Rule:
        key = (version.source, version.target.value, version.field_names, version.depends_on)
        rule = _RULES.get(key)
        if rule is None:
            if len(_RULES) >= _RULES_KEPT:
                _RULES.clear()
            rule = _RULES[key] = self._parse(version.target, version.source, version, catalogue)
        return rule

    # ---- simulation ---------------------------------------------------------------------

    def simulate(
        self,
        actor: Actor,
        code: str,
        source: str | None = None,
        reference_date: date | None = None,
    ) -> Simulation:
        """Run the draft rule (or `source`) over the registry without storing any decision.

        Returns counts, cost per cycle, breakdowns and who would gain or lose eligibility
        against the published version. Subject ids are returned only to purposes that may
        see persons; programme officers get counts, with breakdown cells under 10 shown as
        "<10". Raises UnknownProgramme, RuleError, PurposeNotAllowed.
        """
        authorize(
            self.uow, actor, SIMULATE, "programme", code[:40], Tag.ELIGIBILITY_PROGRAMME_SIMULATE
        )
        reference_date = reference_date or date.today()
        with self.uow:
            programme = storage.load_programme(self.uow, code)
            catalogue = catalogue_services.load(self.uow)
            rule = self._parse(
                programme.target,
                programme.rule if source is None else source,
                programme,
                catalogue,
            )
            published = storage.latest_version(self.uow, code)
            if published is not None and published.target is not programme.target:
                published = None  # people and households cannot be compared one to one
            published_rule = None if published is None else self._version_rule(published, catalogue)
            # Who would gain or lose a health programme is health data: ids only for a health
            # purpose; everyone else gets counts with small cells hidden.
            reads_health = programme.needs_health or bool(published and published.needs_health)
            shows_people = actor.purpose in PERSONAL_DATA_PURPOSES and (
                actor.sees_health or not reads_health
            )
            fields = set(programme.field_names) | set(published.field_names if published else ())
            depends_on = set(programme.depends_on) | set(published.depends_on if published else ())
            with load_registry(
                self.uow,
                self.cipher,
                catalogue,
                fields=fields,
                reference_date=reference_date,
                enrolments=storage.enrolment_pairs(self.uow, tuple(sorted(depends_on))),
            ) as facts:
                query = compile_rule(rule, "duckdb", with_facts=False)
                eligible = eligible_subjects(facts, query.sql, query.parameters)
                before: set[str] | None = None
                if published_rule is not None:
                    old = compile_rule(published_rule, "duckdb", with_facts=False)
                    before = eligible_subjects(facts, old.sql, old.parameters)
                cells = breakdowns(facts, programme.target, eligible, suppress=not shows_people)
                total = population(facts, programme.target)
                health_read = facts.health_read
            gained = None if before is None else sorted(eligible - before)
            lost = None if before is None else sorted(before - eligible)
            listed = set(gained or ()) | set(lost or ()) if shows_people else set()
            log = [
                self._request(
                    actor,
                    Tag.ELIGIBILITY_PROGRAMME_SIMULATE,
                    "programme",
                    code,
                    tuple(sorted(fields)),
                )
            ]
            log += self._health_entries(actor, health_read)
            log += [
                self._request(
                    actor, Tag.ELIGIBILITY_PROGRAMME_SIMULATE, programme.target.value, subject
                )
                for subject in sorted(listed)
                if subject not in health_read
            ]
            audit.record(self.uow, log)
            self.uow.commit()
        cost = len(eligible) * programme.amount
        return Simulation(
            programme=code,
            target=programme.target,
            content_hash=rule.content_hash,
            reference_date=reference_date,
            population=total,
            eligible=len(eligible),
            cost=cost,
            cost_text=benefit_text(programme.asset, cost, programme.period),
            breakdowns=cells,
            compared_with=None if published is None else published.version,
            gained=None if gained is None else len(gained),
            lost=None if lost is None else len(lost),
            gained_ids=tuple(gained) if shows_people and gained is not None else None,
            lost_ids=tuple(lost) if shows_people and lost is not None else None,
            suppressed=not shows_people,
        )

    # ---- publication --------------------------------------------------------------------

    def publish(self, actor: Actor, code: str) -> RuleVersion:
        """Publish the draft as a new, immutable rule version and return it.

        Raises UnknownProgramme, RuleError, NothingToPublish (the newest version already says
        this), NotPublished (a programme it names is not published), PurposeNotAllowed.
        """
        authorize(
            self.uow, actor, DESIGN, "programme", code[:40], Tag.ELIGIBILITY_PROGRAMME_PUBLISH
        )
        with self.uow:
            programme = storage.load_programme(self.uow, code, for_update=True)
            catalogue = catalogue_services.load(self.uow)
            rule = self._parse(programme.target, programme.rule, programme, catalogue)
            for dependency in programme.depends_on:
                if storage.latest_version(self.uow, dependency) is None:
                    raise NotPublished(dependency)
            latest = storage.latest_version(self.uow, code)
            if latest is not None and latest.same_terms(programme, rule.content_hash):
                raise NothingToPublish(code, latest.version)
            version = RuleVersion(
                id=_new_id(),
                programme=code,
                version=1 if latest is None else latest.version + 1,
                source=programme.rule,
                content_hash=rule.content_hash,
                target=programme.target,
                asset=programme.asset,
                amount=programme.amount,
                period=programme.period,
                declared=programme.declared,
                depends_on=programme.depends_on,
                needs_health=programme.needs_health,
                fields_used=tuple(rule.fields_used),
                published_at=utc_now(),
                published_by=actor.username,
            )
            self.uow.connection.execute(
                insert(rule_versions).values(
                    id=version.id,
                    programme=code,
                    version=version.version,
                    source=version.source,
                    content_hash=version.content_hash,
                    target=version.target.value,
                    asset=version.asset,
                    amount=version.amount,
                    period=version.period.value,
                    declared_fields=storage.declared_to_json(version.declared),
                    depends_on=json.dumps(list(version.depends_on)),
                    needs_health=version.needs_health,
                    fields_used=json.dumps(list(version.fields_used)),
                    published_at=version.published_at,
                    published_by=version.published_by,
                )
            )
            self.uow.connection.execute(
                update(programmes)
                .where(programmes.c.code == code)
                .values(published_version=version.version)
            )
            self._log(
                actor,
                Tag.ELIGIBILITY_PROGRAMME_PUBLISH,
                "programme",
                code,
                version.field_names,
            )
            self.uow.commit()
        return version

    # ---- runs ---------------------------------------------------------------------------

    def run(
        self,
        actor: Actor,
        code: str,
        reference_date: date | None = None,
        progress: Progress | None = None,
    ) -> Run:
        """Evaluate the published version over the registry and store one decision per
        person or household, with the facts it read, in one transaction; update enrolments.

        A caseworker's overturn on appeal stands for the rule version it was made under.
        Raises UnknownProgramme, NotPublished, PurposeNotAllowed.
        """
        authorize(self.uow, actor, DESIGN, "programme", code[:40], Tag.ELIGIBILITY_PROGRAMME_RUN)
        reference_date = reference_date or date.today()
        with self.uow:
            storage.load_programme(self.uow, code, for_update=True)  # one run at a time
            version = storage.latest_version(self.uow, code)
            if version is None:
                raise NotPublished(code)
            catalogue = catalogue_services.load(self.uow)
            rule = self._version_rule(version, catalogue)
            pairs = storage.enrolment_pairs(self.uow, version.depends_on)
            enrolled_in: dict[str, list[str]] = {}
            for programme_code, subject in pairs:
                enrolled_in.setdefault(subject, []).append(programme_code)
            overturns = storage.standing_overturns(self.uow, code, version.content_hash)
            started = utc_now()
            run_id = _new_id()
            self.uow.connection.execute(
                insert(eligibility_runs).values(
                    id=run_id,
                    programme=code,
                    rule_version_id=version.id,
                    version=version.version,
                    content_hash=version.content_hash,
                    reference_date=reference_date,
                    started_at=started,
                    finished_at=started,
                    run_by=actor.username,
                    subjects=0,
                    eligible=0,
                    cost=0,
                )
            )
            query = compile_rule(rule, "duckdb", with_facts=True)
            enrolled_now: dict[str, str] = {}
            batch: list[dict[str, Any]] = []
            log: list[AccessRequest] = []
            subjects = eligible_count = 0
            with load_registry(
                self.uow,
                self.cipher,
                catalogue,
                fields=version.field_names,
                reference_date=reference_date,
                enrolments=pairs,
            ) as facts:
                total = population(facts, version.target)
                health_read = facts.health_read
                for subject_id, eligible, facts_json in facts.rows(query.sql, query.parameters):
                    decision_id = _new_id()
                    text = facts_json if isinstance(facts_json, str) else json.dumps(facts_json)
                    batch.append(
                        {
                            "id": decision_id,
                            "run_id": run_id,
                            "programme": code,
                            "rule_version_id": version.id,
                            "version": version.version,
                            "content_hash": version.content_hash,
                            "subject_type": version.target.value,
                            "subject_id": subject_id,
                            "eligible": bool(eligible),
                            "facts": self.cipher.seal(text, _facts_scope(subject_id, decision_id))
                            if version.needs_health
                            else text,
                            "facts_sealed": version.needs_health,
                            "enrolled_in": json.dumps(sorted(enrolled_in.get(subject_id, ()))),
                            "basis": DecisionBasis.RULE.value,
                            "decided_by": f"rule:{code}:v{version.version}",
                            "decided_at": started,
                        }
                    )
                    log.append(
                        self._request(
                            actor,
                            Tag.ELIGIBILITY_DECISION_CREATE,
                            version.target.value,
                            subject_id,
                            version.field_names,
                        )
                    )
                    subjects += 1
                    eligible_count += bool(eligible)
                    standing = overturns.get(subject_id)
                    if standing is not None:
                        if standing.eligible:
                            enrolled_now[subject_id] = standing.id
                    elif eligible:
                        enrolled_now[subject_id] = decision_id
                    if len(batch) >= BATCH_ROWS:
                        self._flush(batch, log)
                        if progress is not None:
                            progress(subjects, total)
                self._flush(batch, log)
            if version.target is Target.HOUSEHOLD:
                # Members' health values were read for their household's decision.
                self._flush([], self._health_entries(actor, health_read))
            if progress is not None:
                progress(subjects, total)
            self._replace_enrolments(code, version.target, enrolled_now)
            cost = eligible_count * version.amount
            finished = utc_now()
            self.uow.connection.execute(
                update(eligibility_runs)
                .where(eligibility_runs.c.id == run_id)
                .values(finished_at=finished, subjects=subjects, eligible=eligible_count, cost=cost)
            )
            self._log(actor, Tag.ELIGIBILITY_PROGRAMME_RUN, "programme", code, version.field_names)
            self.uow.commit()
        return Run(
            run_id,
            code,
            version.version,
            version.content_hash,
            reference_date,
            started,
            finished,
            actor.username,
            subjects,
            eligible_count,
            cost,
        )

    def _flush(self, batch: list[dict[str, Any]], log: list[AccessRequest]) -> None:
        if batch:
            self.uow.connection.execute(insert(decisions), batch)
        audit.record(self.uow, log)
        batch.clear()
        log.clear()

    def _replace_enrolments(self, code: str, target: Target, enrolled: dict[str, str]) -> None:
        """Make the programme's enrolments the given subjects; who stays keeps `since`."""
        current = {
            row.subject_id: row.decision_id
            for row in self.uow.connection.execute(
                select(enrolments.c.subject_id, enrolments.c.decision_id).where(
                    enrolments.c.programme == code
                )
            )
        }
        gone = sorted(set(current) - set(enrolled))
        for chunk in _chunks(gone):
            self.uow.connection.execute(
                delete(enrolments).where(
                    and_(enrolments.c.programme == code, enrolments.c.subject_id.in_(chunk))
                )
            )
        now = utc_now()
        added = [
            {
                "programme": code,
                "subject_id": subject,
                "subject_type": target.value,
                "decision_id": decision_id,
                "since": now,
            }
            for subject, decision_id in sorted(enrolled.items())
            if subject not in current
        ]
        for chunk in _chunks(added, BATCH_ROWS):
            self.uow.connection.execute(insert(enrolments), chunk)
        changed = [
            {"the_programme": code, "the_subject": subject, "new_decision": decision_id}
            for subject, decision_id in sorted(enrolled.items())
            if subject in current and current[subject] != decision_id
        ]
        for chunk in _chunks(changed, BATCH_ROWS):
            self.uow.connection.execute(
                update(enrolments)
                .where(
                    and_(
                        enrolments.c.programme == bindparam("the_programme"),
                        enrolments.c.subject_id == bindparam("the_subject"),
                    )
                )
                .values(decision_id=bindparam("new_decision")),
                chunk,
            )

    # ---- decisions and explanations -----------------------------------------------------

    def explain_decision(
        self, actor: Actor, person_id: str, programme: str | None = None, language: str = "en"
    ) -> list[Explanation]:
        """The decisions in force about a person (and their household), each explained in
        plain language ('en' or 'es'). A decision on appeal is shown with the rule's.

        Decisions of programmes that read health data are left out unless the purpose is a
        health one (the person's own view is). Raises UnknownPerson, UnknownProgramme,
        InvalidInput (language), PurposeNotAllowed.
        """
        authorize(
            self.uow,
            actor,
            READ_DECISIONS,
            "person",
            person_id[:36],
            Tag.ELIGIBILITY_DECISION_READ,
            own_person_ids=frozenset({person_id}),
        )
        check_language(language)
        with self.uow:
            household_id = self._household_of(person_id)
            if programme is not None:
                storage.load_programme(self.uow, programme)
            catalogue = catalogue_services.load(self.uow)
            labels = self._labels(catalogue)
            explanations = [
                self._explanation(rows, catalogue, labels, language, actor.sees_health)
                for rows in self._decisions_in_force([person_id, household_id], programme)
                if actor.sees_health or not rows[0].needs_health
            ]
            audit.record(
                self.uow,
                [
                    self._request(
                        actor,
                        Tag.ELIGIBILITY_DECISION_READ,
                        e.decision.subject_type,
                        e.decision.subject_id,
                        e.fields_shown,
                    )
                    for e in explanations
                ],
            )
            self.uow.commit()
        return explanations

    def _household_of(self, person_id: str) -> str:
        household_id = self.uow.connection.execute(
            select(people.c.household_id).where(people.c.id == person_id)
        ).scalar_one_or_none()
        if household_id is None:
            raise UnknownPerson(person_id)
        return str(household_id)

    def _decisions_in_force(
        self, subject_ids: list[str], programme: str | None
    ) -> list[tuple[Any, Any | None]]:
        """Per programme: the latest rule decision, and the overturn in force over it."""
        query = (
            select(decisions, rule_versions.c.needs_health)
            .join(rule_versions, rule_versions.c.id == decisions.c.rule_version_id)
            .where(decisions.c.subject_id.in_(subject_ids))
        )
        if programme is not None:
            query = query.where(decisions.c.programme == programme)
        rows = self.uow.connection.execute(
            query.order_by(decisions.c.decided_at.desc(), decisions.c.id)
        ).all()
        latest: dict[str, Any] = {}
        for row in rows:
            if row.basis == DecisionBasis.RULE and row.programme not in latest:
                latest[row.programme] = row
        result = []
        for code in sorted(latest):
            automated = latest[code]
            human = next(
                (
                    row
                    for row in rows
                    if row.programme == code
                    and row.basis == DecisionBasis.APPEAL
                    and row.subject_id == automated.subject_id
                    and row.content_hash == automated.content_hash
                ),
                None,
            )
            result.append((automated, human))
        return result

    def _open_facts(self, row: Any, with_health: bool) -> str | None:
        if not row.facts_sealed:
            return str(row.facts)
        if not with_health:
            return None
        return self.cipher.open(row.facts, _facts_scope(row.subject_id, row.id))

    def _labels(self, catalogue: Catalogue) -> dict[str, str]:
        # Core fields have hand-written labels in both languages in explain.py; custom fields
        # have only their catalogue label, in the language it was declared in.
        return {
            d.name: d.label[:1].lower() + d.label[1:]
            for d in catalogue.fields.values()
            if not d.core
        }

    def _explanation(
        self,
        rows: tuple[Any, Any | None],
        catalogue: Catalogue,
        labels: dict[str, str],
        language: str,
        with_health: bool,
    ) -> Explanation:
        automated, human = rows
        version = storage.version_by_id(self.uow, automated.rule_version_id)
        programme = storage.load_programme(self.uow, automated.programme)
        text = self._open_facts(automated, with_health)
        facts: dict[str, Any] | None = None
        if text is None:
            rule_lines = [words(language, "hidden")]
        else:
            rule = self._version_rule(version, catalogue)
            facts = facts_from_json(rule, text)
            evaluation = evaluate(rule, facts, json.loads(automated.enrolled_in))
            rule_lines = list(
                explain(rule, evaluation, language, labels if language == "en" else None)
            )
        in_force = human if human is not None else automated
        benefit = benefit_text(version.asset, version.amount, version.period, language)
        key = "eligible" if in_force.eligible else "not_eligible"
        if in_force.subject_type == Target.HOUSEHOLD.value:
            key = f"household_{key}"
        lines = [words(language, key, programme=programme.name, benefit=benefit)]
        if human is not None:
            lines.append(
                words(
                    language,
                    "overturned",
                    date=as_utc(human.decided_at).date().isoformat(),
                    reason=human.reason or "",
                )
            )
            lines.append(words(language, "automated", version=version.version))
        lines += rule_lines
        return Explanation(
            decision=storage.decision_from_row(in_force, facts),
            programme_name=programme.name,
            benefit=benefit,
            lines=tuple(lines),
            superseded_by_human=human is not None,
            fields_shown=() if facts is None else version.field_names,
        )

    # ---- appeals ------------------------------------------------------------------------

    def file_appeal(self, actor: Actor, decision_id: str, reason: str) -> Appeal:
        """Contest a decision with a reason: the person, or a caseworker for them.

        Returns the open appeal with its due date. Raises UnknownDecision, InvalidInput
        (no reason), AppealClosed (an appeal on it is already open), PurposeNotAllowed.
        """
        with self.uow:
            row = self.uow.connection.execute(
                select(decisions, rule_versions.c.needs_health)
                .join(rule_versions, rule_versions.c.id == decisions.c.rule_version_id)
                .where(decisions.c.id == decision_id[:36])
            ).first()
            own = self._people_concerned(row) if row is not None else frozenset()
        authorize(
            self.uow,
            actor,
            FILE_APPEAL,
            "decision",
            decision_id[:36],
            Tag.ELIGIBILITY_APPEAL_FILE,
            own_person_ids=own,
        )
        if row is None:
            raise UnknownDecision(decision_id)
        self._require_health_purpose(actor, row, Tag.ELIGIBILITY_APPEAL_FILE)
        reason = require_reason(reason)
        with self.uow:
            if storage.open_appeal_for(self.uow, row.id) is not None:
                raise AppealClosed(
                    "an appeal against this decision is already open; it will be decided by a "
                    "caseworker"
                )
            now = utc_now()
            appeal = Appeal(
                id=_new_id(),
                decision_id=row.id,
                programme=row.programme,
                subject_type=row.subject_type,
                subject_id=row.subject_id,
                status=AppealStatus.OPEN,
                reason=reason,
                filed_by=actor.username,
                filed_at=now,
                due_on=due_date(now.date(), self.appeal_days),
            )
            self.uow.connection.execute(
                insert(appeals).values(
                    id=appeal.id,
                    decision_id=appeal.decision_id,
                    programme=appeal.programme,
                    subject_type=appeal.subject_type,
                    subject_id=appeal.subject_id,
                    status=appeal.status.value,
                    reason=appeal.reason,
                    filed_by=appeal.filed_by,
                    filed_role=actor.role.value,
                    filed_at=now,
                    due_on=appeal.due_on,
                )
            )
            self._log(
                actor, Tag.ELIGIBILITY_APPEAL_FILE, row.subject_type, row.subject_id, ("reason",)
            )
            self.uow.commit()
        return appeal

    def _people_concerned(self, decision: Any) -> frozenset[str]:
        """Whose decision it is: the person, or every member of the household."""
        if decision.subject_type == Target.PERSON.value:
            return frozenset({decision.subject_id})
        return frozenset(
            row.id
            for row in self.uow.connection.execute(
                select(people.c.id).where(people.c.household_id == decision.subject_id)
            )
        )

    def appeal_queue(
        self, actor: Actor, status: str | None = AppealStatus.OPEN, today: date | None = None
    ) -> list[QueuedAppeal]:
        """Appeals for caseworkers to decide, overdue first, then by due date.

        Raises InvalidInput (unknown status), PurposeNotAllowed.
        """
        authorize(self.uow, actor, REVIEW_APPEALS, "appeal", "queue", Tag.ELIGIBILITY_APPEAL_READ)
        if status is not None and status not in {s.value for s in AppealStatus}:
            raise InvalidInput(
                f"appeal status {status[:20]!r} is not known; use open, upheld or overturned"
            )
        query = self._appeals().order_by(appeals.c.due_on, appeals.c.filed_at).limit(500)
        if status is not None:
            query = query.where(appeals.c.status == status)
        if not actor.sees_health:
            query = query.where(rule_versions.c.needs_health.is_(False))
        with self.uow:
            queued = self._queued(self.uow.connection.execute(query).all(), today)
            audit.record(
                self.uow,
                [
                    self._request(
                        actor,
                        Tag.ELIGIBILITY_APPEAL_READ,
                        q.appeal.subject_type,
                        q.appeal.subject_id,
                        ("reason", "status"),
                    )
                    for q in queued
                ],
            )
            self.uow.commit()
        return sorted(queued, key=lambda q: (not q.overdue, q.appeal.due_on, q.appeal.filed_at))

    def appeals_for(
        self, actor: Actor, person_id: str, today: date | None = None
    ) -> list[QueuedAppeal]:
        """The appeals about a person and their household, with their outcome.

        Raises UnknownPerson, PurposeNotAllowed.
        """
        authorize(
            self.uow,
            actor,
            READ_OWN_APPEALS,
            "person",
            person_id[:36],
            Tag.ELIGIBILITY_APPEAL_READ,
            own_person_ids=frozenset({person_id}),
        )
        with self.uow:
            household_id = self._household_of(person_id)
            query = (
                self._appeals()
                .where(appeals.c.subject_id.in_([person_id, household_id]))
                .order_by(appeals.c.filed_at.desc())
            )
            if not actor.sees_health:
                query = query.where(rule_versions.c.needs_health.is_(False))
            queued = self._queued(self.uow.connection.execute(query).all(), today)
            self._log(
                actor,
                Tag.ELIGIBILITY_APPEAL_READ,
                "person",
                person_id,
                ("reason", "status") if queued else (),
            )
            self.uow.commit()
        return queued

    def _appeals(self) -> Select[Any]:
        """Appeals with whether their programme reads health data."""
        return (
            select(appeals, rule_versions.c.needs_health)
            .join(decisions, decisions.c.id == appeals.c.decision_id)
            .join(rule_versions, rule_versions.c.id == decisions.c.rule_version_id)
        )

    def _require_health_purpose(self, actor: Actor, row: Any, action: str) -> None:
        """Refuse (logged) a decision or appeal of a health programme outside health purposes."""
        if row.needs_health and not actor.sees_health:
            deny(self.uow, actor, row.subject_type, row.subject_id, action)
            raise PurposeNotAllowed(
                "this concerns a programme that reads health data; act for purpose "
                f"{Purpose.HEALTH_ASSESSMENT.value!r} to see or decide it"
            )

    def _queued(self, rows: Sequence[Any], today: date | None) -> list[QueuedAppeal]:
        today = today or date.today()
        names = {p.code: p.name for p in storage.all_programmes(self.uow)}
        result = []
        for row in rows:
            appeal = storage.appeal_from_row(row)
            result.append(
                QueuedAppeal(appeal, appeal.is_overdue(today), names.get(appeal.programme, ""))
            )
        return result

    def decide_appeal(
        self, actor: Actor, appeal_id: str, outcome: AppealOutcome | str, reason: str
    ) -> Appeal:
        """Uphold the decision, or overturn it with a reason. An overturn is a new decision by
        the caseworker that supersedes the automated one; both are kept.

        Raises UnknownAppeal, AppealClosed (already decided), InvalidInput (no reason or
        unknown outcome), PurposeNotAllowed.
        """
        try:
            outcome = AppealOutcome(outcome)
        except ValueError:
            raise InvalidInput(
                "decide an appeal with 'uphold' or 'overturn'",
                errors=[{"field": "outcome", "reason": "uphold or overturn"}],
            ) from None
        with self.uow:
            row = self.uow.connection.execute(
                self._appeals().where(appeals.c.id == appeal_id[:36])
            ).first()
        authorize(
            self.uow,
            actor,
            REVIEW_APPEALS,
            "appeal" if row is None else row.subject_type,
            appeal_id[:36] if row is None else row.subject_id,
            Tag.ELIGIBILITY_APPEAL_DECIDE,
        )
        if row is None:
            raise UnknownAppeal(appeal_id)
        self._require_health_purpose(actor, row, Tag.ELIGIBILITY_APPEAL_DECIDE)
        if row.status != AppealStatus.OPEN:
            raise AppealClosed(f"appeal {row.id} was already decided ({row.status})")
        reason = require_reason(reason)
        with self.uow:
            now = utc_now()
            outcome_id = None
            if outcome is AppealOutcome.OVERTURN:
                outcome_id = self._overturn(actor, row, reason, now)
            status = (
                AppealStatus.OVERTURNED
                if outcome is AppealOutcome.OVERTURN
                else AppealStatus.UPHELD
            )
            changed = self.uow.connection.execute(
                update(appeals)
                .where(and_(appeals.c.id == row.id, appeals.c.status == AppealStatus.OPEN))
                .values(
                    status=status.value,
                    decided_by=actor.username,
                    decided_at=now,
                    decision_reason=reason,
                    outcome_decision_id=outcome_id,
                )
            )
            if changed.rowcount != 1:
                raise AppealClosed(f"appeal {row.id} was already decided ({row.status})")
            self._log(
                actor,
                Tag.ELIGIBILITY_APPEAL_DECIDE,
                row.subject_type,
                row.subject_id,
                ("eligible", "reason") if outcome_id else ("reason",),
            )
            final = self.uow.connection.execute(select(appeals).where(appeals.c.id == row.id)).one()
            self.uow.commit()
        return storage.appeal_from_row(final)

    def _overturn(self, actor: Actor, appeal: Any, reason: str, now: Any) -> str:
        original = self.uow.connection.execute(
            select(decisions).where(decisions.c.id == appeal.decision_id)
        ).one()
        decision_id = _new_id()
        facts = original.facts
        if original.facts_sealed:
            # The caseworker's decision rests on the same facts, sealed to its own id.
            facts = self.cipher.seal(
                self._open_facts(original, True) or "{}",
                _facts_scope(original.subject_id, decision_id),
            )
        self.uow.connection.execute(
            insert(decisions).values(
                id=decision_id,
                run_id=original.run_id,
                programme=original.programme,
                rule_version_id=original.rule_version_id,
                version=original.version,
                content_hash=original.content_hash,
                subject_type=original.subject_type,
                subject_id=original.subject_id,
                eligible=not original.eligible,
                facts=facts,
                facts_sealed=original.facts_sealed,
                enrolled_in=original.enrolled_in,
                basis=DecisionBasis.APPEAL.value,
                decided_by=actor.username,
                decided_at=now,
                supersedes=original.id,
                appeal_id=appeal.id,
                reason=reason,
            )
        )
        last = storage.latest_run(self.uow, original.programme)
        if last is not None and last.content_hash == original.content_hash:
            # The overturn changes who is paid now only if it is about the rule in force.
            self.uow.connection.execute(
                delete(enrolments).where(
                    and_(
                        enrolments.c.programme == original.programme,
                        enrolments.c.subject_id == original.subject_id,
                    )
                )
            )
            if not original.eligible:
                self.uow.connection.execute(
                    insert(enrolments).values(
                        programme=original.programme,
                        subject_id=original.subject_id,
                        subject_type=original.subject_type,
                        decision_id=decision_id,
                        since=now,
                    )
                )
        return decision_id

    # ---- access log ---------------------------------------------------------------------

    def _request(
        self,
        actor: Actor,
        tag: Tag,
        subject_type: str,
        subject_id: str,
        fields: tuple[str, ...] = (),
    ) -> AccessRequest:
        return access_request(
            actor,
            tag,
            subject_type,
            subject_id,
            fields,
        )

    def _log(
        self,
        actor: Actor,
        tag: Tag,
        subject_type: str,
        subject_id: str,
        fields: tuple[str, ...] = (),
    ) -> None:
        audit.record(self.uow, [self._request(actor, tag, subject_type, subject_id, fields)])

    def _health_entries(
        self, actor: Actor, health_read: dict[str, tuple[str, ...]]
    ) -> list[AccessRequest]:
        """One entry per person whose health values were opened, naming the fields."""
        return [
            self._request(actor, Tag.ELIGIBILITY_HEALTH_READ, "person", person_id, fields)
            for person_id, fields in sorted(health_read.items())
        ]
