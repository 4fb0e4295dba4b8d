"""Imports every area's table module so the shared metadata knows all tables (for Alembic)."""

from fairshare.audit import orm as audit_tables
from fairshare.catalogue import orm as catalogue_tables
from fairshare.db import metadata
from fairshare.identity import orm as identity_tables
from fairshare.registry import orm as registry_tables

__all__ = ["audit_tables", "catalogue_tables", "identity_tables", "metadata", "registry_tables"]
