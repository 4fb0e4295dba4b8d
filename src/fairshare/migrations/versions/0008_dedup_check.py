"""dedup check: registrations confirmed as not duplicates of their likely matches

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Written by hand to match src/fairshare/dedup/orm.py (checked with schema.differences).
    op.create_table(
        "dedup_check_confirmations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("matched_person_id", sa.String(length=36), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("confirmed_by", sa.String(length=120), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["matched_person_id"],
            ["people.id"],
            name=op.f("fk_dedup_check_confirmations_matched_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_dedup_check_confirmations_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["dedup_runs.id"],
            name=op.f("fk_dedup_check_confirmations_run_id_dedup_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedup_check_confirmations")),
    )
    with op.batch_alter_table("dedup_check_confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dedup_check_confirmations_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dedup_check_confirmations_matched_person_id"),
            ["matched_person_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("dedup_check_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dedup_check_confirmations_matched_person_id"))
        batch_op.drop_index(batch_op.f("ix_dedup_check_confirmations_person_id"))

    op.drop_table("dedup_check_confirmations")
