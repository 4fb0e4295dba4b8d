"""Concurrent writers keep the access-log chain whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select

from fairshare.audit import services as audit_services
from fairshare.audit.model import AccessRequest
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
