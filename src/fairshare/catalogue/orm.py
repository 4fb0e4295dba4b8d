"""Custom field definitions. Core fields live in code (catalogue.model.CORE_FIELDS)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Text, UniqueConstraint

from fairshare.db import metadata

custom_fields = Table(
    "catalogue_fields",
    metadata,
    Column("entity", String(20), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("definition", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(80), nullable=False),
    UniqueConstraint("name", name="uq_catalogue_fields_name"),
)
