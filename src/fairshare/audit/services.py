"""Use cases of the access log: record accesses, verify the chain, report to a person."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fairshare.audit.model import AccessEntry, AccessRequest, VerificationResult, chain, utc_now
from fairshare.audit.model import verify as verify_chain
from fairshare.audit.orm import AccessLogRepository
from fairshare.db import UnitOfWork


def record(uow: UnitOfWork, requests: Iterable[AccessRequest]) -> list[AccessEntry]:
    """Append entries inside the caller's transaction, so they commit or roll back with it."""
    batch = list(requests)
    if not batch:
        return []
    repository = AccessLogRepository(uow.connection)
    sequence, head = repository.lock_head()
    entries = chain(batch, sequence, head, utc_now())
    repository.append(entries)
    return entries


def record_alone(uow_factory: Callable[[], UnitOfWork], request: AccessRequest) -> None:
    """Record in a transaction of its own: for refusals, whose operation rolls back."""
    with uow_factory() as uow:
        record(uow, [request])
        uow.commit()


def verify(uow: UnitOfWork, progress: Callable[[int], None] | None = None) -> VerificationResult:
    """Walk the whole chain; the result names the first entry changed, removed or reordered."""
    with uow:
        repository = AccessLogRepository(uow.connection)
        head_sequence, head_hash = repository.head()

        def counted() -> Iterable[AccessEntry]:
            for index, entry in enumerate(repository.iterate(), start=1):
                if progress is not None and index % 5000 == 0:
                    progress(index)
                yield entry

        return verify_chain(counted(), head_sequence, head_hash)


@dataclass(frozen=True)
class AccessReportLine:
    """One access to a person's record, as the person sees it."""

    at: str
    actor: str
    role: str
    purpose: str
    action: str
    fields: tuple[str, ...]
    outcome: str


def access_report(
    uow: UnitOfWork, subject_ids: list[str], limit: int = 500
) -> list[AccessReportLine]:
    """Who read or changed these records, when and why, newest first. Caller owns the uow."""
    entries = AccessLogRepository(uow.connection).search(subject_ids=subject_ids, limit=limit)
    return [
        AccessReportLine(
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.role,
            e.purpose,
            e.action,
            e.fields,
            e.outcome,
        )
        for e in entries
    ]
