"""dedup merges: one row per merge of two people's records, kept after an unmerge

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Written by hand to match src/fairshare/dedup/orm.py (checked with schema.differences).
    op.create_table(
        "dedup_merges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pair_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("survivor_id", sa.String(length=36), nullable=False),
        sa.Column("merged_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("merged_by", sa.String(length=120), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unmerged_by", sa.String(length=120), nullable=True),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unmerge_reason", sa.String(length=500), nullable=True),
        sa.Column("moved", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_id"], ["people.id"], name=op.f("fk_dedup_merges_merged_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["dedup_pairs.id"], name=op.f("fk_dedup_merges_pair_id_dedup_pairs")
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"], ["people.id"], name=op.f("fk_dedup_merges_survivor_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedup_merges")),
    )
    with op.batch_alter_table("dedup_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dedup_merges_merged_id"), ["merged_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dedup_merges_survivor_id"), ["survivor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dedup_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dedup_merges_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_dedup_merges_merged_id"))

    op.drop_table("dedup_merges")
