"""Use cases of the access log: record accesses, verify the chain, report to a person."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fairshare.audit.model import AccessEntry, AccessRequest, VerificationResult, chain, utc_now
from fairshare.audit.model import verify as verify_chain
from fairshare.audit.orm import CHAIN_BATCH, AccessLogRepository
from fairshare.db import UnitOfWork


def record(uow: UnitOfWork, requests: Iterable[AccessRequest]) -> list[AccessEntry]:
    """Append entries inside the caller's transaction, so they commit or roll back with it."""
    batch = list(requests)
    if not batch:
        return []
    repository = AccessLogRepository(uow.connection)
    if len(batch) == 1 and uow.connection.dialect.name == "postgresql":
        return [repository.chain_one(batch[0], utc_now())]
    sequence, head = repository.lock_head()
    entries = chain(batch, sequence, head, utc_now())
    repository.append(entries)
    return entries


def record_soon(uow: UnitOfWork, requests: Iterable[AccessRequest]) -> None:
    """`record` for hot paths: on PostgreSQL the entries go to the outbox in the caller's
    transaction and are chained by `chain_pending` (run by the server every second and by
    every reader of the log first), so concurrent requests do not queue for the chain head
    through their commits. SQLite, whose writers take turns anyway, records at once."""
    batch = list(requests)
    if uow.connection.dialect.name != "postgresql":
        record(uow, batch)
    elif batch:
        AccessLogRepository(uow.connection).defer(batch, utc_now())


def chain_pending(uow_factory: Callable[[], UnitOfWork]) -> int:
    """Chain every outbox entry into the log, in transactions of CHAIN_BATCH; returns how
    many were chained."""
    total = 0
    while True:
        with uow_factory() as uow:
            done = AccessLogRepository(uow.connection).chain_pending()
            uow.commit()
        total += done
        if done < CHAIN_BATCH:
            return total


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

        result = verify_chain(counted(), head_sequence, head_hash)
        uow.commit()  # keeps what head() chained from the outbox
        return result


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
