"""Tables of the access log. Append-only: the application never updates or deletes them."""

from __future__ import annotations

import json
import secrets
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

from fairshare.audit.model import (
    GENESIS_HASH,
    AccessEntry,
    AccessRequest,
    as_utc,
    canonical_json,
    chain,
)
from fairshare.db import metadata
from fairshare.driver import Sql, bind_datetime, to_datetime

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

# Entries of hot paths (redemption) on PostgreSQL, written in the business transaction without
# taking the chain head, and chained into access_log, in id order, by `chain_pending` (decision
# 0027). Readers of the log chain them first, so no reader sees the log without them.
access_log_outbox = Table(
    "access_log_outbox",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("role", String(40), nullable=False),
    Column("purpose", String(60), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject_type", String(40), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("fields", Text, nullable=False),
    Column("outcome", String(10), nullable=False),
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
# PostgreSQL chains one entry in one statement: lock the head, hash the entry after it, insert
# it and move the head. The hash is computed by the database over the same canonical JSON as
# `entry_hash` (a test checks them byte for byte): Python renders it with two unguessable
# tokens where the sequence and previous hash go, and the statement puts them in.
_CHAIN_ONE_POSTGRESQL = Sql(
    "WITH head AS (SELECT sequence, hash FROM access_log_head WHERE id = 1 FOR UPDATE), "
    "entry AS (SELECT sequence + 1 AS sequence, hash AS previous_hash, encode(sha256(convert_to("
    "replace(replace(CAST(:template AS text), CAST(:sequence_token AS text), "
    "CAST(sequence + 1 AS text)), CAST(:previous_token AS text), hash), 'UTF8')), 'hex') AS hash "
    "FROM head), "
    "appended AS (INSERT INTO access_log (sequence, at, actor, role, purpose, action, "
    "subject_type, subject_id, fields, outcome, previous_hash, hash) SELECT sequence, "
    "CAST(:at AS timestamptz), CAST(:actor AS text), CAST(:role AS text), "
    "CAST(:purpose AS text), CAST(:action AS text), CAST(:subject_type AS text), "
    "CAST(:subject_id AS text), CAST(:fields AS text), CAST(:outcome AS text), previous_hash, "
    "hash FROM entry RETURNING sequence, previous_hash, hash) "
    "UPDATE access_log_head SET sequence = appended.sequence, hash = appended.hash "
    "FROM appended WHERE access_log_head.id = 1 "
    "RETURNING appended.sequence, appended.previous_hash, appended.hash"
)


OUTBOX_COLUMNS = (
    "at",
    "actor",
    "role",
    "purpose",
    "action",
    "subject_type",
    "subject_id",
    "fields",
    "outcome",
)
_DEFER = Sql(
    f"INSERT INTO access_log_outbox ({', '.join(OUTBOX_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + name for name in OUTBOX_COLUMNS)})"
)


def outbox_row(connection: Connection, request: AccessRequest, at: datetime) -> dict[str, Any]:
    """An outbox entry's values (OUTBOX_COLUMNS) as the driver takes them."""
    return {
        "at": bind_datetime(connection, at),
        "actor": request.actor,
        "role": request.role,
        "purpose": request.purpose,
        "action": request.action,
        "subject_type": request.subject_type,
        "subject_id": request.subject_id,
        "fields": json.dumps(sorted(request.fields)),
        "outcome": request.outcome,
    }


_ANY_PENDING = Sql("SELECT 1 FROM access_log_outbox LIMIT 1")
_PENDING = Sql(
    "SELECT id, at, actor, role, purpose, action, subject_type, subject_id, fields, outcome "
    "FROM access_log_outbox ORDER BY id LIMIT :limit"
)
CHAIN_BATCH = 5000  # outbox entries chained per transaction
_CHAINED = Sql("DELETE FROM access_log_outbox WHERE id <= :last")


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
        rows = [
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
        ]
        if len(rows) == 1:
            _APPEND.run(self.connection, rows[0])
        else:
            _APPEND.run_many(self.connection, rows)
        last = entries[-1]
        _MOVE_HEAD.run(self.connection, {"sequence": last.sequence, "hash": last.hash})

    def chain_one(self, request: AccessRequest, at: datetime) -> AccessEntry:
        """Append one entry after the head, chained by the database (PostgreSQL only): one
        round trip instead of lock, insert and head update."""
        sequence_token = str(10**17 + secrets.randbelow(9 * 10**17))
        previous_token = secrets.token_hex(32)
        at_text = as_utc(at).isoformat(timespec="milliseconds")
        template = canonical_json(0, at_text, request, previous_token).replace(
            '"sequence":0,', f'"sequence":{sequence_token},', 1
        )
        row = _CHAIN_ONE_POSTGRESQL.run(
            self.connection,
            {
                "template": template,
                "sequence_token": sequence_token,
                "previous_token": previous_token,
                **outbox_row(self.connection, request, at),
            },
        ).fetchone()
        if row is None:
            raise RuntimeError("the access-log head row is missing; run `fairshare db upgrade`")
        sequence, previous_hash, digest = int(row[0]), str(row[1]), str(row[2])
        return AccessEntry(
            sequence,
            at,
            request.actor,
            request.role,
            request.purpose,
            request.action,
            request.subject_type,
            request.subject_id,
            tuple(sorted(request.fields)),
            request.outcome,
            previous_hash,
            digest,
        )

    def defer(self, requests: list[AccessRequest], at: datetime) -> None:
        """Write entries to the outbox, to be chained by `chain_pending` (PostgreSQL hot paths:
        no wait for the chain head, which a chained append holds until its commit)."""
        for request in requests:
            _DEFER.run(self.connection, outbox_row(self.connection, request, at))

    def chain_pending(self, limit: int = CHAIN_BATCH) -> int:
        """Chain up to `limit` outbox entries after the head, oldest id first, in the caller's
        transaction; returns how many. The head lock makes chainers take turns; the entries
        keep the time of the access they record."""
        if _ANY_PENDING.run(self.connection).fetchone() is None:
            return 0
        sequence, head = self.lock_head()
        rows = _PENDING.run(self.connection, {"limit": limit}).fetchall()
        entries = []
        for row in rows:
            request = AccessRequest(
                actor=row[2],
                role=row[3],
                purpose=row[4],
                action=row[5],
                subject_type=row[6],
                subject_id=row[7],
                fields=tuple(json.loads(row[8])),
                outcome=row[9],
            )
            at = as_utc(to_datetime(row[1]))  # type: ignore[arg-type]
            [entry] = chain([request], sequence, head, at)
            entries.append(entry)
            sequence, head = entry.sequence, entry.hash
        self.append(entries)
        if rows:
            _CHAINED.run(self.connection, {"last": rows[-1][0]})
        return len(rows)

    def _chain_all_pending(self) -> None:
        """Before the log is read: nothing recorded may be missing from what a reader sees."""
        while self.chain_pending() == CHAIN_BATCH:
            pass

    def head(self) -> tuple[int, str]:
        self._chain_all_pending()
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
        self._chain_all_pending()
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
        self._chain_all_pending()
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
