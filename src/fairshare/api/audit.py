"""The access log for auditors: search it and verify its chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from fairshare.api.deps import CurrentActor, ServicesDep
from fairshare.api.schemas import AccessEntryPublic, VerificationPublic
from fairshare.audit import services as audit
from fairshare.audit.model import Tag
from fairshare.audit.orm import AccessLogRepository
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Purpose

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
AUDIT = frozenset({Purpose.AUDIT})


@router.get("/verify", response_model=VerificationPublic)
def verify(services: ServicesDep, actor: CurrentActor) -> VerificationPublic:
    """Walk the whole chain and name the first entry changed, removed or reordered."""
    authorize(services.uow(), actor, AUDIT, "access_log", "chain", Tag.AUDIT_LOG_SEARCH)
    result = audit.verify(services.uow())
    return VerificationPublic(
        ok=result.ok,
        entries_checked=result.entries_checked,
        first_bad_sequence=result.first_bad_sequence,
        problem=result.problem,
        message=result.describe(),
    )


@router.get("/entries", response_model=list[AccessEntryPublic])
def search(
    services: ServicesDep,
    actor: CurrentActor,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_name: Annotated[str | None, Query(alias="actor", max_length=120)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    outcome: Annotated[str | None, Query(pattern="^(allowed|denied)$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AccessEntryPublic]:
    """Search the access log, newest first. The search itself is logged."""
    authorize(services.uow(), actor, AUDIT, "access_log", "search", Tag.AUDIT_LOG_SEARCH)
    with services.uow() as uow:
        entries = AccessLogRepository(uow.connection).search(
            subject_ids=None if subject_id is None else [subject_id],
            actor=actor_name,
            action=action,
            outcome=outcome,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        audit.record(
            uow,
            [
                access_request(
                    actor,
                    Tag.AUDIT_LOG_SEARCH,
                    "access_log",
                    subject_id or "search",
                )
            ],
        )
        uow.commit()
    return [
        AccessEntryPublic(
            sequence=e.sequence,
            at=e.at.isoformat(timespec="seconds"),
            actor=e.actor,
            role=e.role,
            purpose=e.purpose,
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            fields=list(e.fields),
            outcome=e.outcome,
            hash=e.hash,
        )
        for e in entries
    ]
