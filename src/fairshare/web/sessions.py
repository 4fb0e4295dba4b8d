"""Server-side web sessions: opened at login, resolved on each request, revoked at logout.

The browser holds only a random token in an HttpOnly cookie; the table keeps its SHA-256
digest, the user, the purpose the user chose, a CSRF secret and the timestamps that bound the
session's life: an idle timeout (no request for a while) and an absolute one (since login).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, or_, select, update

from fairshare.audit.model import as_utc, utc_now
from fairshare.db import UnitOfWork
from fairshare.identity.model import Purpose
from fairshare.identity.services import User
from fairshare.web.orm import web_sessions

COOKIE_NAME = "__Host-fairshare"


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives. Idle: since the last request; absolute: since login."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=8)
    # last_seen is written at most this often, so reading pages does not write on every request.
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class WebSession:
    id: str
    user_id: str
    username: str
    purpose: Purpose | None
    csrf_secret: str
    expires_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    uow: UnitOfWork, user: User, purpose: Purpose | None, policy: SessionPolicy
) -> tuple[str, WebSession]:
    """Start a session for a user who has just logged in; returns the cookie token and it.

    Sessions that ended long ago are deleted on the way, so the table stays small.
    """
    token = secrets.token_urlsafe(32)
    now = utc_now()
    session = WebSession(
        digest(token),
        user.id,
        user.username,
        purpose,
        secrets.token_urlsafe(32),
        now + policy.absolute,
    )
    with uow:
        uow.connection.execute(
            delete(web_sessions).where(
                or_(
                    web_sessions.c.expires_at < now - policy.absolute,
                    web_sessions.c.revoked_at < now - policy.absolute,
                )
            )
        )
        uow.connection.execute(
            insert(web_sessions).values(
                id=session.id,
                user_id=user.id,
                username=user.username,
                purpose=None if purpose is None else purpose.value,
                csrf_secret=session.csrf_secret,
                created_at=now,
                last_seen_at=now,
                expires_at=session.expires_at,
            )
        )
        uow.commit()
    return token, session


def find_session(uow: UnitOfWork, token: str, policy: SessionPolicy) -> WebSession | None:
    """The live session for a cookie token, or None if unknown, revoked, idle or expired."""
    now = utc_now()
    with uow:
        row = uow.connection.execute(
            select(web_sessions).where(web_sessions.c.id == digest(token))
        ).first()
        if (
            row is None
            or row.revoked_at is not None
            or as_utc(row.expires_at) <= now
            or as_utc(row.last_seen_at) + policy.idle <= now
        ):
            return None
        if as_utc(row.last_seen_at) + policy.touch_every <= now:
            uow.connection.execute(
                update(web_sessions).where(web_sessions.c.id == row.id).values(last_seen_at=now)
            )
            uow.commit()
    return WebSession(
        row.id,
        row.user_id,
        row.username,
        None if row.purpose is None else Purpose(row.purpose),
        row.csrf_secret,
        as_utc(row.expires_at),
    )


def choose_purpose(uow: UnitOfWork, session_id: str, purpose: Purpose) -> None:
    with uow:
        uow.connection.execute(
            update(web_sessions)
            .where(web_sessions.c.id == session_id)
            .values(purpose=purpose.value)
        )
        uow.commit()


def revoke(uow: UnitOfWork, session_id: str) -> None:
    """End one session (logout); its cookie no longer opens anything."""
    with uow:
        uow.connection.execute(
            update(web_sessions)
            .where(and_(web_sessions.c.id == session_id, web_sessions.c.revoked_at.is_(None)))
            .values(revoked_at=utc_now())
        )
        uow.commit()


def revoke_for_user(uow: UnitOfWork, user_id: str) -> None:
    """End every session of an account (it was deactivated)."""
    with uow:
        uow.connection.execute(
            update(web_sessions)
            .where(and_(web_sessions.c.user_id == user_id, web_sessions.c.revoked_at.is_(None)))
            .values(revoked_at=utc_now())
        )
        uow.commit()
