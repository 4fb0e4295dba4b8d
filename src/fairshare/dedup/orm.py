"""Deduplication tables: runs, their scored pairs and their clusters.

A run is written whole in one transaction, never edited afterwards except for the review
columns of its pairs. People are never changed by a run. A later merge refers to a pair (the
decision that two records are one person) and keeps both records; the pair's review columns
hold the caseworker's decision and reason.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fairshare.db import metadata

dedup_runs = Table(
    "dedup_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("started_by", String(120), nullable=False),
    Column("upper_threshold", Float, nullable=False),
    Column("lower_threshold", Float, nullable=False),
    Column("records", Integer, nullable=False),
    Column("pairs_linked", Integer, nullable=False),
    Column("pairs_review", Integer, nullable=False),
    Column("clusters", Integer, nullable=False),  # clusters of two or more people
    # The trained Splink model (settings with m and u values) and notes from training, as
    # JSON: enough to score new registrations against the same model later.
    Column("model", Text, nullable=False),
)

dedup_pairs = Table(
    "dedup_pairs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", String(36), ForeignKey("dedup_runs.id"), nullable=False),
    # person_a < person_b, so a pair is stored once.
    Column("person_a", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("person_b", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("match_probability", Float, nullable=False),
    Column("match_weight", Float, nullable=False),
    # Per compared field: {"level": ..., "match_weight": ..., "bayes_factor": ...}.
    Column("evidence", Text, nullable=False),
    Column("outcome", String(10), nullable=False),  # linked | review
    Column(
        "review_status", String(10), nullable=False
    ),  # automatic | pending | accepted | rejected
    Column("reviewed_by", String(120), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("review_reason", String(500), nullable=True),
    UniqueConstraint("run_id", "person_a", "person_b"),
    Index("ix_dedup_pairs_run_status", "run_id", "review_status"),
)

dedup_clusters = Table(
    "dedup_clusters",
    metadata,
    Column("run_id", String(36), ForeignKey("dedup_runs.id"), primary_key=True),
    Column("person_id", String(36), ForeignKey("people.id"), primary_key=True),
    # The smallest person id in the cluster; people absent from the table are alone.
    Column("cluster_id", String(36), nullable=False),
    Index("ix_dedup_clusters_run_cluster", "run_id", "cluster_id"),
)

# One row per merge, kept after an unmerge (unmerged_by/unmerged_at set). People are never
# changed or deleted: the merged person is the one named here while unmerged_at is null.
dedup_merges = Table(
    "dedup_merges",
    metadata,
    Column("id", String(36), primary_key=True),
    # The reviewed pair behind the merge; null for a cluster linked automatically.
    Column("pair_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("dedup_pairs.id")),
    Column("survivor_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("merged_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("reason", String(500), nullable=False),
    Column("merged_by", String(120), nullable=False),
    Column("merged_at", DateTime(timezone=True), nullable=False),
    Column("unmerged_by", String(120), nullable=True),
    Column("unmerged_at", DateTime(timezone=True), nullable=True),
    Column("unmerge_reason", String(500), nullable=True),
    # JSON: exactly which rows were re-pointed from the merged person to the survivor.
    Column("moved", Text, nullable=False),
)

# A registration that went ahead although the check found likely duplicates: one row per
# likely match the caseworker confirmed is someone else, with their reason. A later batch
# run still scores the pair; the reviewer sees why it was registered.
dedup_check_confirmations = Table(
    "dedup_check_confirmations",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("person_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("matched_person_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("match_probability", Float, nullable=False),
    # The run whose model scored the pair; null for the untrained defaults.
    Column("run_id", String(36), ForeignKey("dedup_runs.id"), nullable=True),
    Column("reason", String(500), nullable=False),
    Column("confirmed_by", String(120), nullable=False),
    Column("confirmed_at", DateTime(timezone=True), nullable=False),
)
