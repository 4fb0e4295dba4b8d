"""Concurrent writers keep the access-log chain whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select

from fairshare.audit import services as audit_services
from fairshare.audit.model import AccessRequest, entry_hash
from fairshare.audit.orm import access_log
from fairshare.db import UnitOfWork

WRITERS, ROUNDS = 6, 15


def write(engine: Engine, writer: int) -> None:
    for round_ in range(ROUNDS):
        with UnitOfWork(engine) as uow:
            audit_services.record(
                uow,
                [
                    AccessRequest(
                        f"writer{writer}",
                        "caseworker",
                        "case_management",
                        "registry:person:read",
                        "person",
                        f"p{writer}-{round_}-{i}",
                    )
                    for i in range(3)
                ],
            )
            uow.commit()


def test_parallel_transactions_extend_one_chain(engine: Engine) -> None:
    """Writers in parallel transactions each append after the last; the chain verifies."""
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(access_log)).scalar_one()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(lambda w: write(engine, w), range(WRITERS)))
    with engine.connect() as connection:
        after = connection.execute(select(func.count()).select_from(access_log)).scalar_one()
    assert after - before == WRITERS * ROUNDS * 3
    result = audit_services.verify(UnitOfWork(engine))
    assert result.ok, result.describe()


def write_one_at_a_time(engine: Engine, writer: int) -> None:
    """Single-entry records: on PostgreSQL the database chains these itself (chain_one)."""
    for round_ in range(ROUNDS):
        with UnitOfWork(engine) as uow:
            [entry] = audit_services.record(
                uow,
                [
                    AccessRequest(
                        f'niño "{writer}" \\ ñ',  # quotes, a backslash and accents in the JSON
                        "caseworker",
                        "case_management",
                        "registry:person:read",
                        "person",
                        f"p{writer}-{round_}-é",
                        ("given_name", "date_of_birth"),
                    )
                ],
            )
            uow.commit()
        assert entry.hash == entry_hash(
            entry.sequence,
            entry.at,
            AccessRequest(
                entry.actor,
                entry.role,
                entry.purpose,
                entry.action,
                entry.subject_type,
                entry.subject_id,
                entry.fields,
            ),
            entry.previous_hash,
        )


def test_single_entries_in_parallel_are_chained_as_python_would(engine: Engine) -> None:
    """The hash the database computes for a single entry is the one Python computes, and
    parallel single-entry writers still leave one chain that verifies."""
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(lambda w: write_one_at_a_time(engine, w), range(WRITERS)))
    result = audit_services.verify(UnitOfWork(engine))
    assert result.ok, result.describe()
