"""The auditor's use cases: search the access log and verify its chain.

Both are checked for the audit purpose first (a refusal is logged); a search is itself
written to the log, under the subject searched for, so a person sees that their record was
looked up there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fairshare.audit import services as audit
from fairshare.audit.model import AccessEntry, Tag, VerificationResult
from fairshare.audit.orm import AccessLogRepository
from fairshare.db import UnitOfWork
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose

AUDIT = frozenset({Purpose.AUDIT})
MAX_PAGE = 1000


@dataclass(frozen=True)
class LogQuery:
    """What to look for; None matches anything. `until` is exclusive."""

    subject_id: str | None = None
    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search_log(
    uow: UnitOfWork, actor: Actor, query: LogQuery, *, limit: int = 100, offset: int = 0
) -> list[AccessEntry]:
    """Entries matching the query, newest first. Raises PurposeNotAllowed (logged)."""
    authorize(uow, actor, AUDIT, "access_log", "search", Tag.AUDIT_LOG_SEARCH)
    with uow:
        entries = AccessLogRepository(uow.connection).search(
            subject_ids=None if query.subject_id is None else [query.subject_id],
            actor=query.actor,
            action=query.action,
            outcome=query.outcome,
            since=query.since,
            until=query.until,
            limit=max(1, min(limit, MAX_PAGE)),
            offset=max(0, offset),
        )
        audit.record(
            uow,
            [
                access_request(
                    actor,
                    Tag.AUDIT_LOG_SEARCH,
                    "access_log",
                    query.subject_id or "search",
                )
            ],
        )
        uow.commit()
    return entries


def verify_log(uow: UnitOfWork, actor: Actor) -> VerificationResult:
    """Walk the whole chain; the result names the first entry changed, removed or reordered.

    Raises PurposeNotAllowed (logged).
    """
    authorize(uow, actor, AUDIT, "access_log", "chain", Tag.AUDIT_LOG_SEARCH)
    return audit.verify(uow)
