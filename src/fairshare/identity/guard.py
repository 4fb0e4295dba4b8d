"""Purpose checks that log their refusals: a refused access is itself an access attempt."""

from __future__ import annotations

from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Outcome, Tag
from fairshare.db import UnitOfWork
from fairshare.errors import Forbidden
from fairshare.identity.model import Actor, PurposeNotAllowed, Role, require_purpose


def access_request(
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: str,
    fields: tuple[str, ...] = (),
    outcome: str = Outcome.ALLOWED,
) -> AccessRequest:
    """An access-log request in the actor's name, role and purpose."""
    return AccessRequest(
        actor.username,
        actor.role.value,
        actor.purpose.value,
        action,
        subject_type,
        subject_id,
        fields,
        outcome,
    )


def deny(uow: UnitOfWork, actor: Actor, subject_type: str, subject_id: str, action: str) -> None:
    """Log a refused access in a transaction of its own (the operation itself rolls back)."""
    audit.record_alone(
        lambda: uow,
        access_request(
            actor,
            action,
            subject_type,
            subject_id,
            (),
            Outcome.DENIED,
        ),
    )


def authorize(
    uow: UnitOfWork,
    actor: Actor,
    needed: frozenset,  # type: ignore[type-arg]
    subject_type: str,
    subject_id: str,
    action: str = Tag.IDENTITY_ACCESS_DENIED,
    *,
    own_person_ids: frozenset[str] | None = None,
) -> None:
    """Raise PurposeNotAllowed (logged) unless the actor's role and purpose allow the operation.

    A citizen additionally passes only for subjects in `own_person_ids` (their own record, or
    their household's), whatever the purpose.
    """
    try:
        require_purpose(actor.role, actor.purpose, needed)
        if actor.role is Role.CITIZEN and (
            own_person_ids is None or actor.person_id not in own_person_ids
        ):
            raise PurposeNotAllowed("a citizen may see and change only their own record")
    except Forbidden:
        deny(uow, actor, subject_type, subject_id, action)
        raise
