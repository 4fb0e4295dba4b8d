"""Tables of the access log. Append-only: the application never updates or deletes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    Row,
    String,
    Table,
    Text,
    func,
    select,
)

from fairshare.audit.model import GENESIS_HASH, AccessEntry, as_utc
from fairshare.db import metadata
from fairshare.driver import Sql, bind_datetime

access_log = Table(
    "access_log",
    metadata,
    Column(
        "sequence",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("role", String(40), nullable=False),
    Column("purpose", String(60), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject_type", String(40), nullable=False),
    Column("subject_id", String(64), nullable=False, index=True),
    Column("fields", Text, nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id=1). Writers lock it (FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite) so the
# chain grows one transaction at a time, and its hash catches entries cut off the end.
access_log_head = Table(
    "access_log_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sequence", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)


_READ_HEAD = Sql("SELECT sequence, hash FROM access_log_head WHERE id = 1")
_LOCK_HEAD_POSTGRESQL = Sql("SELECT sequence, hash FROM access_log_head WHERE id = 1 FOR UPDATE")
_APPEND = Sql(
    "INSERT INTO access_log (sequence, at, actor, role, purpose, action, subject_type, "
    "subject_id, fields, outcome, previous_hash, hash) VALUES (:sequence, :at, :actor, :role, "
    ":purpose, :action, :subject_type, :subject_id, :fields, :outcome, :previous_hash, :hash)"
)
_MOVE_HEAD = Sql("UPDATE access_log_head SET sequence = :sequence, hash = :hash WHERE id = 1")


class AccessLogRepository:
    """Reads and appends access-log rows on the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lock_head(self) -> tuple[int, str]:
        """The chain head, locked until the transaction ends (the migration seeds it)."""
        postgres = self.connection.dialect.name == "postgresql"
        row = (_LOCK_HEAD_POSTGRESQL if postgres else _READ_HEAD).run(self.connection).fetchone()
        if row is None:
            raise RuntimeError("the access-log head row is missing; run `fairshare db upgrade`")
        return int(row[0]), str(row[1])

    def append(self, entries: list[AccessEntry]) -> None:
        if not entries:
            return
        # Every service call appends here, so the statements go straight to the driver.
        _APPEND.run_many(
            self.connection,
            [
                {
                    "sequence": e.sequence,
                    "at": bind_datetime(self.connection, e.at),
                    "actor": e.actor,
                    "role": e.role,
                    "purpose": e.purpose,
                    "action": e.action,
                    "subject_type": e.subject_type,
                    "subject_id": e.subject_id,
                    "fields": json.dumps(list(e.fields)),
                    "outcome": e.outcome,
                    "previous_hash": e.previous_hash,
                    "hash": e.hash,
                }
                for e in entries
            ],
        )
        last = entries[-1]
        _MOVE_HEAD.run(self.connection, {"sequence": last.sequence, "hash": last.hash})

    def head(self) -> tuple[int, str]:
        row = self.connection.execute(
            select(access_log_head.c.sequence, access_log_head.c.hash)
        ).first()
        return (0, GENESIS_HASH) if row is None else (int(row.sequence), str(row.hash))

    def iterate(self, batch_size: int = 5000) -> Iterator[AccessEntry]:
        """All entries in sequence order, fetched in batches to keep memory flat."""
        last = 0
        while True:
            rows = self.connection.execute(
                select(access_log)
                .where(access_log.c.sequence > last)
                .order_by(access_log.c.sequence)
                .limit(batch_size)
            ).all()
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            last = rows[-1].sequence

    def search(
        self,
        *,
        subject_ids: list[str] | None = None,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AccessEntry]:
        query = select(access_log)
        if subject_ids is not None:
            query = query.where(access_log.c.subject_id.in_(subject_ids))
        if actor is not None:
            query = query.where(access_log.c.actor == actor)
        if action is not None:
            query = query.where(access_log.c.action == action)
        if outcome is not None:
            query = query.where(access_log.c.outcome == outcome)
        if since is not None:
            query = query.where(access_log.c.at >= since)
        if until is not None:
            query = query.where(access_log.c.at < until)
        query = query.order_by(access_log.c.sequence.desc()).limit(limit).offset(offset)
        return [_entry(row) for row in self.connection.execute(query)]

    def count(self) -> int:
        return int(
            self.connection.execute(select(func.count()).select_from(access_log)).scalar_one()
        )


def _entry(row: Row[Any]) -> AccessEntry:
    return AccessEntry(
        sequence=int(row.sequence),
        at=as_utc(row.at),
        actor=row.actor,
        role=row.role,
        purpose=row.purpose,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        fields=tuple(json.loads(row.fields)),
        outcome=row.outcome,
        previous_hash=row.previous_hash,
        hash=row.hash,
    )
