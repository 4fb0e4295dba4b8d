"""`audit verify` on a real database catches any change, removal or reordering of entries."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, delete, func, select, update

from fairshare.audit import services as audit_services
from fairshare.audit.model import AccessRequest
from fairshare.audit.orm import access_log, access_log_head
from fairshare.bootstrap import Services


def fill(services: Services, count: int = 6) -> None:
    with services.uow() as uow:
        audit_services.record(
            uow,
            [
                AccessRequest(
                    f"user{i}",
                    "caseworker",
                    "case_management",
                    "registry:person:read",
                    "person",
                    f"person-{i}",
                    ("given_names", "date_of_birth"),
                )
                for i in range(count)
            ],
        )
        uow.commit()


def first_sequence(connection: Connection) -> int:
    return int(connection.execute(select(func.min(access_log.c.sequence))).scalar_one())


def test_entries_commit_with_their_operation(services: Services) -> None:
    """Entries recorded in a unit of work that is not committed are not kept."""
    with services.uow() as uow:
        before = uow.connection.execute(select(func.count()).select_from(access_log)).scalar()
    with services.uow() as uow:
        audit_services.record(
            uow,
            [
                AccessRequest(
                    "a", "caseworker", "case_management", "registry:person:read", "person", "x"
                )
            ],
        )
    with services.uow() as uow:
        after = uow.connection.execute(select(func.count()).select_from(access_log)).scalar()
    assert after == before
    assert audit_services.verify(services.uow()).ok


@pytest.mark.parametrize("tamper", ["change", "delete", "reorder", "truncate", "insert"])
def test_verify_names_the_tampered_entry(
    services: Services, connection: Connection, tamper: str
) -> None:
    """Whatever was done to a stored entry, verification fails and names where."""
    fill(services)
    assert audit_services.verify(services.uow()).ok
    start = first_sequence(connection)
    target = start + 2
    if tamper == "change":
        connection.execute(
            update(access_log).where(access_log.c.sequence == target).values(purpose="audit")
        )
    elif tamper == "delete":
        connection.execute(delete(access_log).where(access_log.c.sequence == target))
    elif tamper == "reorder":
        rows = {
            r.sequence: r
            for r in connection.execute(
                select(access_log).where(access_log.c.sequence.in_([target, target + 1]))
            )
        }
        for sequence, other in ((target, target + 1), (target + 1, target)):
            source = rows[other]
            connection.execute(
                update(access_log)
                .where(access_log.c.sequence == sequence)
                .values(
                    actor=source.actor,
                    subject_id=source.subject_id,
                    previous_hash=source.previous_hash,
                    hash=source.hash,
                )
            )
    elif tamper == "truncate":
        last = connection.execute(select(func.max(access_log.c.sequence))).scalar_one()
        connection.execute(delete(access_log).where(access_log.c.sequence == last))
    elif tamper == "insert":
        head = connection.execute(select(access_log_head)).one()
        connection.execute(update(access_log_head).values(sequence=head.sequence + 1))
    result = audit_services.verify(services.uow())
    assert not result.ok
    assert result.first_bad_sequence is not None
    if tamper in ("change", "delete", "reorder"):
        assert result.first_bad_sequence == target
    assert str(result.first_bad_sequence) in result.describe()
