"""The web sessions table: server-side sessions behind an opaque cookie.

The cookie holds a random token; only its SHA-256 digest is stored here, so a copy of the
database cannot be replayed as a login. Each session carries the purpose its user chose and
its own CSRF secret.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, String, Table

from fairshare.db import metadata

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 hex of the cookie token
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    # Kept beside the id so each request can re-check the account through identity services.
    Column("username", String(80), nullable=False),
    Column("purpose", String(60), nullable=True),  # None until a multi-purpose role chooses
    Column("csrf_secret", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
