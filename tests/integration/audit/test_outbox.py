"""Hot paths log through the outbox on PostgreSQL (audit.record_soon, decision 0027): the
entries commit with the operation, readers never miss them, and the chain they join verifies.
SQLite records them at once."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fairshare.api import app as api_app
from fairshare.audit import services as audit_services
from fairshare.audit.model import AccessRequest
from fairshare.audit.orm import AccessLogRepository, access_log, access_log_outbox
from fairshare.bootstrap import Services
from fairshare.db import UnitOfWork
from fairshare.settings import Settings


def _request(subject: str) -> AccessRequest:
    return AccessRequest(
        "till-1", "merchant", "redemption", "registry:person:read", "person", subject
    )


def _counts(engine: Engine, subjects: list[str]) -> tuple[int, int]:
    """(in the outbox, in the chained log) for these subjects."""
    with engine.connect() as connection:
        pending = connection.execute(
            select(func.count())
            .select_from(access_log_outbox)
            .where(access_log_outbox.c.subject_id.in_(subjects))
        ).scalar_one()
        chained = connection.execute(
            select(func.count())
            .select_from(access_log)
            .where(access_log.c.subject_id.in_(subjects))
        ).scalar_one()
    return int(pending), int(chained)


def test_deferred_entries_are_seen_by_readers_in_order_and_the_chain_verifies(
    engine: Engine,
) -> None:
    subjects = [f"outbox-{uuid.uuid4().hex[:8]}-{n}" for n in range(3)]
    for subject in subjects:
        with UnitOfWork(engine) as uow:
            audit_services.record_soon(uow, [_request(subject)])
            uow.commit()
    postgres = engine.dialect.name == "postgresql"
    assert _counts(engine, subjects) == ((3, 0) if postgres else (0, 3))

    with UnitOfWork(engine) as uow:  # a reader chains what is pending before it reads
        found = AccessLogRepository(uow.connection).search(subject_ids=subjects)
        uow.commit()
    assert [entry.subject_id for entry in reversed(found)] == subjects  # oldest first
    assert _counts(engine, subjects) == (0, 3)
    result = audit_services.verify(UnitOfWork(engine))
    assert result.ok, result.describe()


def test_a_rolled_back_operation_leaves_no_deferred_entry(engine: Engine) -> None:
    subject = f"outbox-{uuid.uuid4().hex[:8]}-rolled-back"
    with UnitOfWork(engine) as uow:
        audit_services.record_soon(uow, [_request(subject)])
        # no commit: the operation failed
    assert _counts(engine, [subject]) == (0, 0)


def test_chain_pending_chains_everything_waiting(engine: Engine) -> None:
    subjects = [f"outbox-{uuid.uuid4().hex[:8]}-{n}" for n in range(5)]
    with UnitOfWork(engine) as uow:
        audit_services.record_soon(uow, [_request(subject) for subject in subjects])
        uow.commit()
    audit_services.chain_pending(lambda: UnitOfWork(engine))
    assert _counts(engine, subjects) == (0, 5)


@pytest.mark.postgres
def test_the_server_chains_the_outbox_while_it_runs(
    postgresql_engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The application's lifespan task chains waiting entries without anyone reading."""
    monkeypatch.setattr(api_app, "CHAIN_EVERY_SECONDS", 0.05)
    subject = f"outbox-{uuid.uuid4().hex[:8]}-server"
    app = api_app.create_app(Services(settings, postgresql_engine))
    with TestClient(app):
        with UnitOfWork(postgresql_engine) as uow:
            audit_services.record_soon(uow, [_request(subject)])
            uow.commit()
        deadline = time.monotonic() + 10
        while _counts(postgresql_engine, [subject]) != (0, 1) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert _counts(postgresql_engine, [subject]) == (0, 1)
