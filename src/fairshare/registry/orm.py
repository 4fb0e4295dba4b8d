"""Registry tables. Core fields have their own columns; custom fields live in `extra` (JSON);
health values are sealed (AES-256-GCM) in `health_values`, never stored in the clear."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)

from fairshare.db import metadata

households = Table(
    "households",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_ref", String(64), nullable=True, unique=True),
    Column("region", String(80), nullable=False, index=True),
    Column("municipality", String(80), nullable=True),
    Column("address", String(200), nullable=False),
    Column("dwelling_type", String(40), nullable=True),
    Column("dwelling_tenure", String(40), nullable=True),
    Column("land_hectares", Numeric(12, 2), nullable=True),
    Column("owns_vehicle", Boolean, nullable=True),
    Column("extra", Text, nullable=False, default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, default=1),
)

people = Table(
    "people",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("record_ref", String(64), nullable=True, unique=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False, index=True),
    Column("given_names", String(100), nullable=False),
    Column("family_names", String(100), nullable=False),
    # Given and family names folded (lowercase, no accents) so "perez" finds "Pérez".
    Column("name_key", String(201), nullable=False, index=True),
    Column("date_of_birth", Date, nullable=False, index=True),
    Column("sex", String(10), nullable=False),
    Column("national_id", String(32), nullable=True, index=True),
    Column("phone", String(20), nullable=True),
    Column("relationship_to_head", String(30), nullable=False),
    Column("employment_status", String(30), nullable=True),
    Column("monthly_income", Numeric(14, 2), nullable=True),
    Column("extra", Text, nullable=False, default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, default=1),
)

health_values = Table(
    "health_values",
    metadata,
    Column("person_id", String(36), ForeignKey("people.id"), primary_key=True),
    Column("field", String(63), primary_key=True),
    Column("sealed", Text, nullable=False),
)

income_records = Table(
    "income_records",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("person_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("monthly_income", Numeric(14, 2), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(80), nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("scope", String(40), nullable=False),
    Column("method", String(80), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("granted_by", String(80), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    Column("withdrawn_by", String(80), nullable=True),
)

record_changes = Table(
    "record_changes",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("subject_type", String(20), nullable=False),
    Column("subject_id", String(36), nullable=False, index=True),
    Column("field", String(63), nullable=False),
    # JSON-encoded values; for health fields a sealed string (or null once erased).
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("sealed", Boolean, nullable=False, default=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("role", String(40), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("correction_id", String(36), nullable=True),
)

correction_requests = Table(
    "correction_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("field", String(63), nullable=False),
    Column("requested_value", Text, nullable=True),
    Column("sealed", Boolean, nullable=False, default=False),
    Column("reason", String(500), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("requested_by", String(80), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(80), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decision_reason", String(500), nullable=True),
)
