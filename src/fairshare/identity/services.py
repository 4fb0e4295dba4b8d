"""Use cases for users and tokens: create, authenticate (with lockout), issue and resolve tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, insert, select, update

from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, as_utc, utc_now
from fairshare.db import UnitOfWork
from fairshare.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from fairshare.identity.model import Actor, Role
from fairshare.identity.orm import api_tokens, users
from fairshare.ids import new_id
from fairshare.registry.orm import people

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()


# Verified against when the username is unknown, so a wrong name costs as long as a wrong
# password and response times do not reveal which usernames exist.
@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("dummy-password-for-timing")


@dataclass(frozen=True)
class User:
    id: str
    username: str
    display_name: str
    role: Role
    person_id: str | None
    active: bool


class LoginRefused(Unauthenticated):
    """Wrong credentials, or the account is locked; the message says which and until when."""


def _user(row: Any) -> User:
    return User(
        row.id, row.username, row.display_name, Role(row.role), row.person_id, bool(row.active)
    )


def create_user(
    uow: UnitOfWork,
    username: str,
    password: str,
    role: Role | str,
    display_name: str = "",
    person_id: str | None = None,
    *,
    created_by: Actor | None = None,
) -> User:
    """Create a user; raises InvalidInput (bad name, weak password, citizen without person)
    or Conflict (username taken)."""
    username = username.strip().lower()
    problems = []
    if not USERNAME.match(username):
        problems.append({"field": "username", "reason": "3-80 lowercase letters, digits, . _ -"})
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            {"field": "password", "reason": f"must be at least {MIN_PASSWORD_LENGTH} characters"}
        )
    try:
        role = Role(role)
    except ValueError:
        problems.append({"field": "role", "reason": f"one of {', '.join(r.value for r in Role)}"})
    if role == Role.CITIZEN and not person_id:
        problems.append({"field": "person_id", "reason": "a citizen account belongs to a person"})
    if problems:
        raise InvalidInput(
            "the user cannot be created: "
            + "; ".join(f"{p['field']} {p['reason']}" for p in problems),
            errors=problems,
        )
    with uow:
        taken = uow.connection.execute(
            select(users.c.id).where(users.c.username == username)
        ).first()
        if taken:
            raise Conflict(f"username {username!r} is taken; choose another")
        if (
            person_id is not None
            and uow.connection.execute(select(people.c.id).where(people.c.id == person_id)).first()
            is None
        ):
            raise NotFound(f"no person with id {person_id}; register the person first")
        user_id = new_id()
        uow.connection.execute(
            insert(users).values(
                id=user_id,
                username=username,
                display_name=display_name or username,
                role=Role(role).value,
                password_hash=_hasher.hash(password),
                person_id=person_id,
                active=True,
                failed_logins=0,
                created_at=utc_now(),
            )
        )
        if created_by is not None:
            # A citizen account opens a person's record to them: that person sees it logged.
            subject = ("person", person_id) if person_id else ("user", user_id)
            audit.record(
                uow,
                [
                    AccessRequest(
                        created_by.username,
                        created_by.role.value,
                        created_by.purpose.value,
                        Tag.IDENTITY_USER_CREATE,
                        subject[0],
                        subject[1],
                        ("username", "role"),
                    )
                ],
            )
        uow.commit()
    return User(user_id, username, display_name or username, Role(role), person_id, True)


def authenticate(
    uow: UnitOfWork,
    username: str,
    password: str,
    *,
    max_failures: int = 5,
    lockout: timedelta = timedelta(minutes=15),
) -> User:
    """Return the user for good credentials; raises LoginRefused otherwise.

    After max_failures wrong passwords in a row the account locks for `lockout`.
    """
    with uow:
        row = uow.connection.execute(
            select(users).where(users.c.username == username.strip().lower())
        ).first()
        if row is None or not row.active:
            _verify(_dummy_hash(), password)
            raise LoginRefused("wrong username or password")
        now = utc_now()
        if row.locked_until is not None and as_utc(row.locked_until) > now:
            raise LoginRefused(
                "this account is locked after repeated failed logins until "
                f"{as_utc(row.locked_until).isoformat(timespec='minutes')}; try again then "
                "or ask an administrator"
            )
        if not _verify(row.password_hash, password):
            failures = row.failed_logins + 1
            values: dict[str, object] = {"failed_logins": failures}
            if failures >= max_failures:
                values = {"failed_logins": 0, "locked_until": now + lockout}
            uow.connection.execute(update(users).where(users.c.id == row.id).values(**values))
            uow.commit()
            raise LoginRefused("wrong username or password")
        if row.failed_logins or row.locked_until is not None:
            uow.connection.execute(
                update(users).where(users.c.id == row.id).values(failed_logins=0, locked_until=None)
            )
        uow.commit()
        return _user(row)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(uow: UnitOfWork, user: User, lifetime: timedelta, label: str = "") -> str:
    """Return a new bearer token; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    with uow:
        uow.connection.execute(
            insert(api_tokens).values(
                id=new_id(),
                token_hash=_digest(token),
                user_id=user.id,
                label=label[:80],
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        uow.commit()
    return token


def resolve_token(uow: UnitOfWork, token: str) -> User:
    """Return the token's user; raises Unauthenticated if unknown, expired or revoked."""
    with uow:
        row = uow.connection.execute(
            select(users, api_tokens.c.expires_at, api_tokens.c.revoked_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == _digest(token))
        ).first()
    if row is None or row.revoked_at is not None or not row.active:
        raise Unauthenticated("the token is not valid; log in again for a new one")
    if as_utc(row.expires_at) <= utc_now():
        raise Unauthenticated("the token has expired; log in again for a new one")
    return _user(row)


def revoke_token(uow: UnitOfWork, token: str) -> None:
    with uow:
        uow.connection.execute(
            update(api_tokens)
            .where(api_tokens.c.token_hash == _digest(token))
            .values(revoked_at=utc_now())
        )
        uow.commit()


def count_users(uow: UnitOfWork) -> int:
    with uow:
        return int(uow.connection.execute(select(func.count()).select_from(users)).scalar_one())


def find_user(uow: UnitOfWork, username: str) -> User | None:
    with uow:
        row = uow.connection.execute(select(users).where(users.c.username == username)).first()
    return None if row is None else _user(row)


@dataclass(frozen=True)
class AccountStatus:
    user: User
    locked_until: str | None
    failed_logins: int


def list_users(uow: UnitOfWork) -> list[AccountStatus]:
    """Every account with its lock state, by username."""
    with uow:
        rows = uow.connection.execute(select(users).order_by(users.c.username)).all()
    return [
        AccountStatus(
            _user(row),
            None
            if row.locked_until is None
            else as_utc(row.locked_until).isoformat(timespec="minutes"),
            row.failed_logins,
        )
        for row in rows
    ]


def unlock(uow: UnitOfWork, username: str) -> None:
    """Lift a lockout after failed logins; raises NotFound for an unknown username."""
    _update_user(uow, username, failed_logins=0, locked_until=None)


def set_active(uow: UnitOfWork, username: str, active: bool) -> None:
    """Deactivate (revoking every token) or reactivate an account; raises NotFound."""
    user_id = _update_user(uow, username, active=active)
    if not active:
        with uow:
            uow.connection.execute(
                update(api_tokens)
                .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            )
            uow.commit()


def _update_user(uow: UnitOfWork, username: str, **values: object) -> str:
    with uow:
        row = uow.connection.execute(
            select(users.c.id).where(users.c.username == username.strip().lower())
        ).first()
        if row is None:
            raise NotFound(f"no user {username!r}; `fairshare users list` shows the accounts")
        uow.connection.execute(update(users).where(users.c.id == row.id).values(**values))
        uow.commit()
    return str(row.id)
