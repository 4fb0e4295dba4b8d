"""Imports every area's table module so the shared metadata knows all tables (for Alembic)."""

from fairshare.audit import orm as audit_tables
from fairshare.catalogue import orm as catalogue_tables
from fairshare.credentials import orm as credentials_tables
from fairshare.db import metadata
from fairshare.dedup import orm as dedup_tables
from fairshare.eligibility import orm as eligibility_tables
from fairshare.identity import orm as identity_tables
from fairshare.ledger import orm as ledger_tables
from fairshare.registry import orm as registry_tables
from fairshare.web import orm as web_tables

__all__ = [
    "audit_tables",
    "catalogue_tables",
    "credentials_tables",
    "dedup_tables",
    "eligibility_tables",
    "identity_tables",
    "ledger_tables",
    "metadata",
    "registry_tables",
    "web_tables",
]
