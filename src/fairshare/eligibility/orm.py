"""Eligibility tables. Rule versions and decisions are written once and never updated: a
changed rule is a new version, and a human decision on appeal is a new decision that points
at the automated one it supersedes."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fairshare.db import metadata

programmes = Table(
    "programmes",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("description", String(1000), nullable=False, default=""),
    # The draft terms; what is in force is the newest row of rule_versions.
    Column("target", String(20), nullable=False),
    Column("asset", String(30), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("period", String(20), nullable=False),
    Column("declared_fields", Text, nullable=False),  # JSON [{"name", "purpose"}]
    Column("depends_on", Text, nullable=False, default="[]"),  # JSON [code]
    Column("needs_health", Boolean, nullable=False, default=False),
    Column("rule", Text, nullable=False),
    Column("published_version", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(80), nullable=False),
)

rule_versions = Table(
    "rule_versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("target", String(20), nullable=False),
    Column("asset", String(30), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("period", String(20), nullable=False),
    Column("declared_fields", Text, nullable=False),
    Column("depends_on", Text, nullable=False),
    Column("needs_health", Boolean, nullable=False),
    Column("fields_used", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("published_by", String(80), nullable=False),
    UniqueConstraint("programme", "version", name="uq_rule_versions_programme_version"),
)

eligibility_runs = Table(
    "eligibility_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False, index=True),
    Column("rule_version_id", String(36), ForeignKey("rule_versions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("reference_date", Date, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("run_by", String(80), nullable=False),
    Column("subjects", Integer, nullable=False),
    Column("eligible", Integer, nullable=False),
    Column("cost", BigInteger, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("run_id", String(36), ForeignKey("eligibility_runs.id"), nullable=False, index=True),
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False),
    Column("rule_version_id", String(36), ForeignKey("rule_versions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("subject_type", String(20), nullable=False),
    Column("subject_id", String(36), nullable=False),
    Column("eligible", Boolean, nullable=False),
    # The facts the rule read, as JSON; sealed (AES-GCM) when the programme reads health data.
    Column("facts", Text, nullable=False),
    Column("facts_sealed", Boolean, nullable=False, default=False),
    Column("enrolled_in", Text, nullable=False, default="[]"),
    Column("basis", String(20), nullable=False),
    Column("decided_by", String(80), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("supersedes", String(36), ForeignKey("decisions.id"), nullable=True),
    Column("appeal_id", String(36), nullable=True),
    Column("reason", String(500), nullable=True),
    Index("ix_decisions_subject_id_programme", "subject_id", "programme"),
)

appeals = Table(
    "appeals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("decision_id", String(36), ForeignKey("decisions.id"), nullable=False, index=True),
    Column("programme", String(40), ForeignKey("programmes.code"), nullable=False),
    Column("subject_type", String(20), nullable=False),
    Column("subject_id", String(36), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("reason", String(500), nullable=False),
    Column("filed_by", String(80), nullable=False),
    Column("filed_role", String(40), nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("decided_by", String(80), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decision_reason", String(500), nullable=True),
    Column("outcome_decision_id", String(36), ForeignKey("decisions.id"), nullable=True),
)

# Who receives each published programme now: the eligible subjects of its latest run, as
# changed by appeals. The ledger pays from here; rules read it through `enrolled(...)`.
enrolments = Table(
    "enrolments",
    metadata,
    Column("programme", String(40), ForeignKey("programmes.code"), primary_key=True),
    Column("subject_id", String(36), primary_key=True, index=True),
    Column("subject_type", String(20), nullable=False),
    Column("decision_id", String(36), ForeignKey("decisions.id"), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
