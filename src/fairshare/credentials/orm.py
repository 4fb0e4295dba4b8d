"""Credential tables: in-person identity verifications, card issuer keys, cards, revocations."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, String, Table, Text

from fairshare.db import metadata

identity_verifications = Table(
    "identity_verifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("method", String(30), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("verified_by", String(80), nullable=False),
    Column("verified_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Issuer public keys (the private keys stay in the key directory) and when each was retired.
card_issuer_keys = Table(
    "card_issuer_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
)

# Cards issued: the printed QR text is kept so a lost print can be reprinted unchanged.
cards = Table(
    "cards",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("person_id", String(36), ForeignKey("people.id"), nullable=False, index=True),
    Column("key_id", String(16), ForeignKey("card_issuer_keys.key_id"), nullable=False),
    Column("issued_by", String(80), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoke_reason", String(500), nullable=True),
)

# Every revocation, with who made it: the source of the signed revocation list.
card_revocations = Table(
    "card_revocations",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("card_id", String(32), ForeignKey("cards.id"), nullable=False, unique=True),
    Column("revoked_by", String(80), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(500), nullable=False),
)

# Offline redemption: merchant devices (their public keys), the allowances each list granted,
# and every receipt a device synced, with what became of it.
merchant_devices = Table(
    "merchant_devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("ledger_merchants.id"), nullable=False),
    Column("public_key", String(64), nullable=False, unique=True),
    Column("registered_by", String(80), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

offline_allowances = Table(
    "offline_allowances",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("list_id", String(36), nullable=False, index=True),
    Column("device_id", String(36), ForeignKey("merchant_devices.id"), nullable=False),
    Column("card_id", String(32), ForeignKey("cards.id"), nullable=False),
    Column("programme", String(40), nullable=False),
    Column("asset", String(30), nullable=False),
    Column("beneficiary_type", String(20), nullable=False),
    Column("beneficiary_id", String(36), nullable=False),
    Column("maximum", BigInteger, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
)

offline_receipts = Table(
    "offline_receipts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("device_id", String(36), ForeignKey("merchant_devices.id"), nullable=False, index=True),
    Column("list_id", String(36), nullable=True),
    Column("card_id", String(64), nullable=False),
    Column("programme", String(64), nullable=False),
    Column("asset", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("loss", BigInteger, nullable=False),
)
