"""ledger accounts: the programme-and-period index ends with the id, for expiry's batches

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 14:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Expiry reads an ended period's quotas in id order, batch after batch; with the id in
    # the index each batch is one range instead of a sort of every quota left. Plain index
    # operations: no table is copied, on SQLite either.
    op.create_index(
        "ix_ledger_accounts_programme_period_id",
        "ledger_accounts",
        ["programme", "period", "id"],
        unique=False,
    )
    op.drop_index("ix_ledger_accounts_programme_period", table_name="ledger_accounts")


def downgrade() -> None:
    op.create_index(
        "ix_ledger_accounts_programme_period",
        "ledger_accounts",
        ["programme", "period"],
        unique=False,
    )
    op.drop_index("ix_ledger_accounts_programme_period_id", table_name="ledger_accounts")
