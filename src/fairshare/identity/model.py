"""Actors, roles and purposes.

Every role has a fixed set of purposes. A request for personal data names one; a purpose the
role does not hold is refused and logged. Health fields are shown only under purposes that
need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fairshare.errors import Forbidden


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    CASEWORKER = "caseworker"
    PROGRAMME_OFFICER = "programme_officer"
    MERCHANT = "merchant"
    AUDITOR = "auditor"
    CITIZEN = "citizen"


class Purpose(StrEnum):
    ADMINISTRATION = "administration"  # catalogue and user management
    BULK_REGISTRATION = "bulk_registration"  # importing registry files
    REGISTRATION = "registration"  # registering households and people
    CASE_MANAGEMENT = "case_management"  # reading and updating a case
    HEALTH_ASSESSMENT = "health_assessment"  # disability / illness-based entitlements
    CORRECTION_HANDLING = "correction_handling"  # deciding correction requests
    DATA_SUBJECT_REQUEST = "data_subject_request"  # export for a person who asked in person
    DUPLICATE_REVIEW = "duplicate_review"
    APPEAL_REVIEW = "appeal_review"
    IDENTITY_VERIFICATION = "identity_verification"  # card-less redemption
    PROGRAMME_DESIGN = "programme_design"  # aggregates only
    DISBURSEMENT = "disbursement"  # funding programmes, entitlement cycles, merchant payouts
    REDEMPTION = "redemption"
    AUDIT = "audit"
    SELF_SERVICE = "self_service"  # a citizen looking at their own record


ROLE_PURPOSES: dict[Role, frozenset[Purpose]] = {
    Role.ADMINISTRATOR: frozenset({Purpose.ADMINISTRATION, Purpose.BULK_REGISTRATION}),
    Role.CASEWORKER: frozenset(
        {
            Purpose.REGISTRATION,
            Purpose.CASE_MANAGEMENT,
            Purpose.HEALTH_ASSESSMENT,
            Purpose.CORRECTION_HANDLING,
            Purpose.DATA_SUBJECT_REQUEST,
            Purpose.DUPLICATE_REVIEW,
            Purpose.APPEAL_REVIEW,
            Purpose.IDENTITY_VERIFICATION,
        }
    ),
    Role.PROGRAMME_OFFICER: frozenset({Purpose.PROGRAMME_DESIGN, Purpose.DISBURSEMENT}),
    Role.MERCHANT: frozenset({Purpose.REDEMPTION}),
    Role.AUDITOR: frozenset({Purpose.AUDIT}),
    Role.CITIZEN: frozenset({Purpose.SELF_SERVICE}),
}

# Health values are decrypted and shown only under these purposes (DESIGN red line 1).
HEALTH_PURPOSES: frozenset[Purpose] = frozenset(
    {
        Purpose.HEALTH_ASSESSMENT,
        Purpose.SELF_SERVICE,
        Purpose.BULK_REGISTRATION,
        Purpose.DATA_SUBJECT_REQUEST,
    }
)

# Purposes under which a person's record may be read or written at all.
PERSONAL_DATA_PURPOSES: frozenset[Purpose] = frozenset(
    {
        Purpose.BULK_REGISTRATION,
        Purpose.REGISTRATION,
        Purpose.CASE_MANAGEMENT,
        Purpose.HEALTH_ASSESSMENT,
        Purpose.CORRECTION_HANDLING,
        Purpose.DATA_SUBJECT_REQUEST,
        Purpose.DUPLICATE_REVIEW,
        Purpose.APPEAL_REVIEW,
        Purpose.IDENTITY_VERIFICATION,
        Purpose.SELF_SERVICE,
    }
)


class PurposeNotAllowed(Forbidden):
    """The purpose named is not one of the role's, or does not allow this operation."""


class UnknownPurpose(Forbidden):
    status = 400
    title = "Purpose required"


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which role, for which purpose. Citizens carry their person id."""

    username: str
    role: Role
    purpose: Purpose
    person_id: str | None = None
    user_id: str | None = None

    @property
    def sees_health(self) -> bool:
        return self.purpose in HEALTH_PURPOSES


def parse_purpose(raw: str | None) -> Purpose:
    """Raises UnknownPurpose naming the valid purposes when raw is missing or unknown."""
    valid = ", ".join(p.value for p in Purpose)
    if not raw:
        raise UnknownPurpose(
            "name the purpose of this request (X-Fairshare-Purpose header or ?purpose=), "
            f"one of: {valid}"
        )
    try:
        return Purpose(raw)
    except ValueError:
        raise UnknownPurpose(
            f"purpose {raw[:60]!r} is not known; name the purpose of this request "
            f"(X-Fairshare-Purpose header or ?purpose=) as one of: {valid}"
        ) from None


def require_purpose(role: Role, purpose: Purpose, needed: frozenset[Purpose]) -> None:
    """Raise PurposeNotAllowed unless the role holds the purpose and the operation accepts it."""
    if purpose not in ROLE_PURPOSES[role]:
        allowed = ", ".join(sorted(p.value for p in ROLE_PURPOSES[role]))
        raise PurposeNotAllowed(
            f"the {role.value} role may not act for purpose {purpose.value!r}; "
            f"its purposes are: {allowed}"
        )
    if purpose not in needed:
        accepted = ", ".join(sorted(p.value for p in needed))
        raise PurposeNotAllowed(
            f"purpose {purpose.value!r} does not cover this operation; it accepts: {accepted}"
        )


def as_actor(username: str, role: Role, purpose: Purpose, **kwargs: str | None) -> Actor:
    """Build an actor, refusing a purpose the role does not hold."""
    if purpose not in ROLE_PURPOSES[role]:
        require_purpose(role, purpose, ROLE_PURPOSES[role])
    return Actor(username, role, purpose, **kwargs)
