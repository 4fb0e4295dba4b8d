"""cards: issuer keys, cards, revocations; offline redemption devices, allowances, receipts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Written by hand to match src/fairshare/credentials/orm.py (checked with schema.differences).
    op.create_table(
        "card_issuer_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_card_issuer_keys")),
    )
    op.create_table(
        "cards",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("issued_by", sa.String(length=80), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["card_issuer_keys.key_id"],
            name=op.f("fk_cards_key_id_card_issuer_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_cards_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_person_id"), ["person_id"], unique=False)
    op.create_table(
        "card_revocations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("card_id", sa.String(length=32), nullable=False),
        sa.Column("revoked_by", sa.String(length=80), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_revocations_card_id_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_revocations")),
        sa.UniqueConstraint("card_id", name=op.f("uq_card_revocations_card_id")),
    )
    op.create_table(
        "merchant_devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("registered_by", sa.String(length=80), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["ledger_merchants.id"],
            name=op.f("fk_merchant_devices_merchant_id_ledger_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_devices")),
        sa.UniqueConstraint("public_key", name=op.f("uq_merchant_devices_public_key")),
    )
    op.create_table(
        "offline_allowances",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("list_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("card_id", sa.String(length=32), nullable=False),
        sa.Column("programme", sa.String(length=40), nullable=False),
        sa.Column("asset", sa.String(length=30), nullable=False),
        sa.Column("beneficiary_type", sa.String(length=20), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=False),
        sa.Column("maximum", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_offline_allowances_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["merchant_devices.id"],
            name=op.f("fk_offline_allowances_device_id_merchant_devices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_allowances")),
    )
    with op.batch_alter_table("offline_allowances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offline_allowances_list_id"), ["list_id"], unique=False
        )
    op.create_table(
        "offline_receipts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("list_id", sa.String(length=36), nullable=True),
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("loss", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["merchant_devices.id"],
            name=op.f("fk_offline_receipts_device_id_merchant_devices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_receipts")),
    )
    with op.batch_alter_table("offline_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offline_receipts_device_id"), ["device_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("offline_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offline_receipts_device_id"))
    op.drop_table("offline_receipts")
    with op.batch_alter_table("offline_allowances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offline_allowances_list_id"))
    op.drop_table("offline_allowances")
    op.drop_table("merchant_devices")
    op.drop_table("card_revocations")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cards_person_id"))
    op.drop_table("cards")
    op.drop_table("card_issuer_keys")
