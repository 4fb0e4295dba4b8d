"""Rows of the eligibility tables to domain objects and back, and the lookups services share.

Every function here runs on the caller's unit of work; none of them commits or logs.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, select

from fairshare.audit.model import as_utc
from fairshare.db import UnitOfWork
from fairshare.eligibility.model import (
    Appeal,
    AppealStatus,
    CyclePeriod,
    Decision,
    DecisionBasis,
    DeclaredField,
    Programme,
    RuleVersion,
    Run,
    Target,
    UnknownProgramme,
)
from fairshare.eligibility.orm import (
    appeals,
    decisions,
    eligibility_runs,
    enrolments,
    programmes,
    rule_versions,
)


def declared_to_json(declared: tuple[DeclaredField, ...]) -> str:
    return json.dumps(
        [{"name": d.name, "purpose": d.purpose} for d in declared], ensure_ascii=False
    )


def declared_from_json(text: str) -> tuple[DeclaredField, ...]:
    return tuple(DeclaredField(item["name"], item["purpose"]) for item in json.loads(text))


def programme_from_row(row: Any) -> Programme:
    return Programme(
        code=row.code,
        name=row.name,
        description=row.description,
        target=Target(row.target),
        asset=row.asset,
        amount=int(row.amount),
        period=CyclePeriod(row.period),
        declared=declared_from_json(row.declared_fields),
        depends_on=tuple(json.loads(row.depends_on)),
        rule=row.rule,
        needs_health=bool(row.needs_health),
        published_version=row.published_version,
        updated_at=as_utc(row.updated_at),
        updated_by=row.updated_by,
    )


def programme_values(programme: Programme) -> dict[str, Any]:
    """The draft columns of a programme row."""
    return {
        "name": programme.name,
        "description": programme.description,
        "target": programme.target.value,
        "asset": programme.asset,
        "amount": programme.amount,
        "period": programme.period.value,
        "declared_fields": declared_to_json(programme.declared),
        "depends_on": json.dumps(list(programme.depends_on)),
        "needs_health": programme.needs_health,
        "rule": programme.rule,
    }


def version_from_row(row: Any) -> RuleVersion:
    return RuleVersion(
        id=row.id,
        programme=row.programme,
        version=int(row.version),
        source=row.source,
        content_hash=row.content_hash,
        target=Target(row.target),
        asset=row.asset,
        amount=int(row.amount),
        period=CyclePeriod(row.period),
        declared=declared_from_json(row.declared_fields),
        depends_on=tuple(json.loads(row.depends_on)),
        needs_health=bool(row.needs_health),
        fields_used=tuple(json.loads(row.fields_used)),
        published_at=as_utc(row.published_at),
        published_by=row.published_by,
    )


def run_from_row(row: Any) -> Run:
    return Run(
        id=row.id,
        programme=row.programme,
        version=int(row.version),
        content_hash=row.content_hash,
        reference_date=row.reference_date,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        run_by=row.run_by,
        subjects=int(row.subjects),
        eligible=int(row.eligible),
        cost=int(row.cost),
    )


def decision_from_row(row: Any, facts: dict[str, Any] | None) -> Decision:
    return Decision(
        id=row.id,
        run_id=row.run_id,
        programme=row.programme,
        version=int(row.version),
        content_hash=row.content_hash,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        eligible=bool(row.eligible),
        facts=facts,
        enrolled_in=tuple(json.loads(row.enrolled_in)),
        decided_at=as_utc(row.decided_at),
        basis=DecisionBasis(row.basis),
        decided_by=row.decided_by,
        supersedes=row.supersedes,
        appeal_id=row.appeal_id,
        reason=row.reason,
    )


def appeal_from_row(row: Any) -> Appeal:
    return Appeal(
        id=row.id,
        decision_id=row.decision_id,
        programme=row.programme,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        status=AppealStatus(row.status),
        reason=row.reason,
        filed_by=row.filed_by,
        filed_at=as_utc(row.filed_at),
        due_on=row.due_on,
        decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else as_utc(row.decided_at),
        decision_reason=row.decision_reason,
        outcome_decision_id=row.outcome_decision_id,
    )


def load_programme(uow: UnitOfWork, code: str, *, for_update: bool = False) -> Programme:
    """The programme; raises UnknownProgramme."""
    query = select(programmes).where(programmes.c.code == code)
    if for_update and uow.dialect == "postgresql":
        query = query.with_for_update()
    row = uow.connection.execute(query).first()
    if row is None:
        raise UnknownProgramme(code)
    return programme_from_row(row)


def all_programmes(uow: UnitOfWork) -> list[Programme]:
    rows = uow.connection.execute(select(programmes).order_by(programmes.c.code)).all()
    return [programme_from_row(row) for row in rows]


def latest_version(uow: UnitOfWork, code: str) -> RuleVersion | None:
    row = uow.connection.execute(
        select(rule_versions)
        .where(rule_versions.c.programme == code)
        .order_by(rule_versions.c.version.desc())
        .limit(1)
    ).first()
    return None if row is None else version_from_row(row)


def versions(uow: UnitOfWork, code: str) -> list[RuleVersion]:
    rows = uow.connection.execute(
        select(rule_versions)
        .where(rule_versions.c.programme == code)
        .order_by(rule_versions.c.version)
    ).all()
    return [version_from_row(row) for row in rows]


def version_by_id(uow: UnitOfWork, version_id: str) -> RuleVersion:
    row = uow.connection.execute(
        select(rule_versions).where(rule_versions.c.id == version_id)
    ).one()
    return version_from_row(row)


def latest_run(uow: UnitOfWork, code: str) -> Run | None:
    row = uow.connection.execute(
        select(eligibility_runs)
        .where(eligibility_runs.c.programme == code)
        .order_by(eligibility_runs.c.started_at.desc(), eligibility_runs.c.id)
        .limit(1)
    ).first()
    return None if row is None else run_from_row(row)


def runs(uow: UnitOfWork, code: str, limit: int) -> list[Run]:
    """The programme's runs, newest first, at most `limit`."""
    rows = uow.connection.execute(
        select(eligibility_runs)
        .where(eligibility_runs.c.programme == code)
        .order_by(eligibility_runs.c.started_at.desc(), eligibility_runs.c.id)
        .limit(limit)
    )
    return [run_from_row(row) for row in rows]


def enrolment_pairs(uow: UnitOfWork, codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(programme, subject id) for everyone enrolled now in the given programmes."""
    if not codes:
        return []
    rows = uow.connection.execute(
        select(enrolments.c.programme, enrolments.c.subject_id).where(
            enrolments.c.programme.in_(codes)
        )
    ).all()
    return [(row.programme, row.subject_id) for row in rows]


def standing_overturns(uow: UnitOfWork, code: str, content_hash: str) -> dict[str, Any]:
    """Human decisions on appeal under this rule version, newest per subject.

    An overturn stands for the rule version it was made under: a later run of the same
    version must not take back what a caseworker decided on appeal.
    """
    rows = uow.connection.execute(
        select(decisions.c.subject_id, decisions.c.id, decisions.c.eligible)
        .where(
            and_(
                decisions.c.programme == code,
                decisions.c.content_hash == content_hash,
                decisions.c.basis == DecisionBasis.APPEAL.value,
            )
        )
        .order_by(decisions.c.decided_at)
    ).all()
    return {row.subject_id: row for row in rows}


def open_appeal_for(uow: UnitOfWork, decision_id: str) -> str | None:
    return uow.connection.execute(
        select(appeals.c.id).where(
            and_(appeals.c.decision_id == decision_id, appeals.c.status == AppealStatus.OPEN)
        )
    ).scalar_one_or_none()
