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
    update,
)

from fairshare.audit.model import GENESIS_HASH, AccessEntry, as_utc
from fairshare.db import bulk_insert, metadata

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


class AccessLogRepository:
    """Reads and appends access-log rows on the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lock_head(self) -> tuple[int, str]:
        """The chain head, locked until the transaction ends (the migration seeds it)."""
        query = select(access_log_head.c.sequence, access_log_head.c.hash).where(
            access_log_head.c.id == 1
        )
        if self.connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.connection.execute(query).one()
        return int(row.sequence), str(row.hash)

    def append(self, entries: list[AccessEntry]) -> None:
        if not entries:
            return
        bulk_insert(
            self.connection,
            access_log,
            [
                {
                    "sequence": e.sequence,
                    "at": e.at,
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
        self.connection.execute(
            update(access_log_head)
            .where(access_log_head.c.id == 1)
            .values(sequence=last.sequence, hash=last.hash)
        )

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
