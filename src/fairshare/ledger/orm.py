"""Ledger tables.

Account totals are kept on the account row and changed only by the statement that inserts the
transfer moving them, inside one transaction. CHECK constraints hold the account flags, so even
a statement written by hand cannot overdraw an account. Transfers are never updated or
deleted (database triggers refuse it): a hold is closed by a second transfer pointing at it,
and `pending_id` is unique so a hold closes once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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
    text,
)

from fairshare.db import metadata

ENTITLEMENT = "kind = 'entitlement'"
HAS_PENDING = "pending_id IS NOT NULL"
HAS_MERCHANT = "merchant_id IS NOT NULL"

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("code", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("asset", String(30), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("programme", String(40), nullable=True),
    Column("owner_type", String(20), nullable=True),
    Column("owner_id", String(36), nullable=True, index=True),
    Column("period", String(10), nullable=True),
    Column("expires_on", Date, nullable=True),
    Column("debits_pending", BigInteger, nullable=False, default=0),
    Column("debits_posted", BigInteger, nullable=False, default=0),
    Column("credits_pending", BigInteger, nullable=False, default=0),
    Column("credits_posted", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 "
        "AND credits_posted >= 0",
        name="totals_not_negative",
    ),
    CheckConstraint(
        "(flags & 1) = 0 OR debits_posted + debits_pending <= credits_posted",
        name="debits_within_credits",
    ),
    CheckConstraint(
        "(flags & 2) = 0 OR credits_posted + credits_pending <= debits_posted",
        name="credits_within_debits",
    ),
    # With the id last, a period's quotas are read in id order as one range (expiry's
    # batches), and it serves every query by programme and period as the shorter one did.
    Index("ix_ledger_accounts_programme_period_id", "programme", "period", "id"),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column(
        "debit_account_id", String(36), ForeignKey("ledger_accounts.id"), nullable=False, index=True
    ),
    Column(
        "credit_account_id",
        String(36),
        ForeignKey("ledger_accounts.id"),
        nullable=False,
        index=True,
    ),
    Column("asset", String(30), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("flags", Integer, nullable=False, default=0),
    Column("pending_id", String(36), ForeignKey("ledger_transfers.id"), nullable=True),
    Column("timeout_at", DateTime(timezone=True), nullable=True),
    Column("link_id", String(36), nullable=True),
    Column("programme", String(40), nullable=True),
    Column("period", String(10), nullable=True),
    Column("beneficiary_id", String(36), nullable=True, index=True),
    Column("merchant_id", String(36), nullable=True),
    Column("reference", Text, nullable=False, default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("created_by", String(80), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    # No beneficiary is paid twice for one period, whatever the code above does.
    Index(
        "uq_ledger_transfers_entitlement",
        "programme",
        "period",
        "beneficiary_id",
        unique=True,
        sqlite_where=text(ENTITLEMENT),
        postgresql_where=text(ENTITLEMENT),
    ),
    # Partial indexes: most transfers (a cycle's million entitlements) are neither holds'
    # closings nor redemptions, and leaving them out of these indexes keeps cycles fast.
    Index(
        "uq_ledger_transfers_pending_id",
        "pending_id",
        unique=True,
        sqlite_where=text(HAS_PENDING),
        postgresql_where=text(HAS_PENDING),
    ),
    Index(
        "ix_ledger_transfers_merchant_id",
        "merchant_id",
        sqlite_where=text(HAS_MERCHANT),
        postgresql_where=text(HAS_MERCHANT),
    ),
)

ledger_merchants = Table(
    "ledger_merchants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(70), nullable=False),
    Column("category", String(20), nullable=False),
    Column("accepts", Text, nullable=False),  # JSON list of asset codes
    Column("region", String(60), nullable=False),
    Column("iban", String(34), nullable=False),
    Column("bic", String(11), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(80), nullable=False),
)

# Which user accounts act for which merchant (a shop may have several tills).
ledger_merchant_users = Table(
    "ledger_merchant_users",
    metadata,
    Column("username", String(80), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("ledger_merchants.id"), nullable=False),
)

# One row per programme and period that a cycle has started: its terms and where it got to.
ledger_cycles = Table(
    "ledger_cycles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("programme", String(40), nullable=False),
    Column("period", String(10), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("asset", String(30), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("enrolled", Integer, nullable=False, default=0),
    Column("posted", Integer, nullable=False, default=0),
    Column("total", BigInteger, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("run_by", String(80), nullable=False),
    UniqueConstraint("programme", "period", name="uq_ledger_cycles_programme_period"),
)

ledger_payout_batches = Table(
    "ledger_payout_batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(35), nullable=False, unique=True),
    Column("asset", String(30), nullable=False),
    Column("payments", Integer, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("document", Text, nullable=False),  # the pain.001 file, as sent
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(80), nullable=False),
)

ledger_payout_items = Table(
    "ledger_payout_items",
    metadata,
    Column("end_to_end_id", String(35), primary_key=True),
    Column("batch_id", String(36), ForeignKey("ledger_payout_batches.id"), nullable=False),
    Column("merchant_id", String(36), ForeignKey("ledger_merchants.id"), nullable=False),
    Column("transfer_id", String(36), ForeignKey("ledger_transfers.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
)

# The bank's answers, as imported: one row per payment status line, kept as evidence.
ledger_payout_statuses = Table(
    "ledger_payout_statuses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("end_to_end_id", String(35), nullable=False, index=True),
    Column("message_id", String(35), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("status_code", String(4), nullable=False),
    Column("reason_code", String(10), nullable=True),
    Column("transfer_id", String(36), ForeignKey("ledger_transfers.id"), nullable=True),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", String(80), nullable=False),
    UniqueConstraint("end_to_end_id", "message_id", name="uq_ledger_payout_statuses_e2e_msg"),
)

# Database-level immutability of transfers (created by the migration and by create_all).
IMMUTABLE_TRANSFERS_SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers "
    "BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable; post a correction'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers "
    "BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable; post a correction'); END",
)
IMMUTABLE_TRANSFERS_POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION ledger_transfers_immutable() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'ledger transfers are immutable; post a correction'; END; "
    "$$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS ledger_transfers_immutable ON ledger_transfers",
    "CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE OR DELETE ON ledger_transfers "
    "FOR EACH ROW EXECUTE FUNCTION ledger_transfers_immutable()",
)
DROP_IMMUTABLE_SQLITE = (
    "DROP TRIGGER IF EXISTS ledger_transfers_no_update",
    "DROP TRIGGER IF EXISTS ledger_transfers_no_delete",
)
DROP_IMMUTABLE_POSTGRESQL = (
    "DROP TRIGGER IF EXISTS ledger_transfers_immutable ON ledger_transfers",
    "DROP FUNCTION IF EXISTS ledger_transfers_immutable()",
)


def immutability_statements(dialect: str) -> tuple[str, ...]:
    return IMMUTABLE_TRANSFERS_POSTGRESQL if dialect == "postgresql" else IMMUTABLE_TRANSFERS_SQLITE
