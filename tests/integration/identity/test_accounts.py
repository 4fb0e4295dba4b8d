"""Accounts: argon2 passwords, lockout after repeated failures, expiring tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fairshare.bootstrap import Services
from fairshare.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from fairshare.identity import services as identity
from fairshare.identity.model import Role
from fairshare.identity.orm import users
from fairshare.identity.services import LoginRefused

PASSWORD = "correct horse battery"


def test_password_is_stored_as_argon2(services: Services) -> None:
    """Only an argon2 hash of the password is stored."""
    identity.create_user(services.uow(), "ana", PASSWORD, Role.CASEWORKER)
    with services.uow() as uow:
        stored = uow.connection.execute(
            select(users.c.password_hash).where(users.c.username == "ana")
        ).scalar_one()
    assert stored.startswith("$argon2")
    assert PASSWORD not in stored


def test_login_and_lockout(services: Services) -> None:
    """Good credentials log in; five wrong ones lock the account, even for the right one."""
    identity.create_user(services.uow(), "luis", PASSWORD, Role.AUDITOR)
    assert identity.authenticate(services.uow(), "luis", PASSWORD).role is Role.AUDITOR
    for _ in range(5):
        with pytest.raises(LoginRefused, match="wrong"):
            identity.authenticate(services.uow(), "luis", "wrong password!")
    with pytest.raises(LoginRefused, match="locked"):
        identity.authenticate(services.uow(), "luis", PASSWORD)


def test_unknown_user_gets_the_same_answer(services: Services) -> None:
    """An unknown username is refused exactly like a wrong password."""
    with pytest.raises(LoginRefused, match="wrong username or password"):
        identity.authenticate(services.uow(), "nobody", PASSWORD)


def test_tokens_resolve_expire_and_revoke(services: Services) -> None:
    """A token resolves to its user until it expires or is revoked."""
    user = identity.create_user(services.uow(), "eva", PASSWORD, Role.MERCHANT)
    token = identity.issue_token(services.uow(), user, timedelta(hours=1))
    assert identity.resolve_token(services.uow(), token).username == "eva"
    identity.revoke_token(services.uow(), token)
    with pytest.raises(Unauthenticated):
        identity.resolve_token(services.uow(), token)
    expired = identity.issue_token(services.uow(), user, timedelta(seconds=-1))
    with pytest.raises(Unauthenticated, match="expired"):
        identity.resolve_token(services.uow(), expired)
    with pytest.raises(Unauthenticated):
        identity.resolve_token(services.uow(), "made-up")


@pytest.mark.parametrize(
    ("username", "password", "role", "person_id", "error"),
    [
        ("A B", PASSWORD, Role.CASEWORKER, None, InvalidInput),
        ("short.pw", "short", Role.CASEWORKER, None, InvalidInput),
        ("nobody.role", PASSWORD, "mayor", None, InvalidInput),
        ("citizen.x", PASSWORD, Role.CITIZEN, None, InvalidInput),
        ("citizen.y", PASSWORD, Role.CITIZEN, "no-such-person", NotFound),
    ],
)
def test_bad_accounts_are_refused(
    services: Services,
    username: str,
    password: str,
    role: Role | str,
    person_id: str | None,
    error: type[Exception],
) -> None:
    """Bad usernames, weak passwords, unknown roles and unlinked citizens are refused."""
    with pytest.raises(error):
        identity.create_user(services.uow(), username, password, role, person_id=person_id)


def test_usernames_are_unique(services: Services) -> None:
    """A second account with the same username is refused."""
    identity.create_user(services.uow(), "dup", PASSWORD, Role.AUDITOR)
    with pytest.raises(Conflict):
        identity.create_user(services.uow(), "DUP", PASSWORD, Role.AUDITOR)


def test_unlock_and_deactivate(services: Services) -> None:
    """An administrator can lift a lockout, and deactivating revokes the account's tokens."""
    user = identity.create_user(services.uow(), "rosa", PASSWORD, Role.CASEWORKER)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            identity.authenticate(services.uow(), "rosa", "wrong password!")
    listed = {s.user.username: s for s in identity.list_users(services.uow())}
    assert listed["rosa"].locked_until is not None
    identity.unlock(services.uow(), "rosa")
    assert identity.authenticate(services.uow(), "rosa", PASSWORD).username == "rosa"
    token = identity.issue_token(services.uow(), user, timedelta(hours=1))
    identity.set_active(services.uow(), "rosa", False)
    with pytest.raises(Unauthenticated):
        identity.resolve_token(services.uow(), token)
    with pytest.raises(LoginRefused):
        identity.authenticate(services.uow(), "rosa", PASSWORD)
    identity.set_active(services.uow(), "rosa", True)
    assert identity.authenticate(services.uow(), "rosa", PASSWORD).active
    with pytest.raises(NotFound):
        identity.unlock(services.uow(), "nobody")
