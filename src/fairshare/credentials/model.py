"""Identity verification for redemption, in plain Python.

Red line 5: nobody needs a card or a phone to receive an entitlement. A caseworker who has
checked a person's identity in person records how and why; that record authorises
redemptions for the person (and for the household they belong to) for a few hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fairshare.errors import Forbidden, InvalidInput, NotFound

VERIFICATION_VALID_FOR = timedelta(hours=12)


class VerificationMethod(StrEnum):
    NATIONAL_ID_DOCUMENT = "national_id_document"
    OTHER_DOCUMENT = "other_document"
    KNOWN_TO_CASEWORKER = "known_to_caseworker"
    COMMUNITY_WITNESS = "community_witness"


class AuthorisationMethod(StrEnum):
    CARD = "card"
    CASEWORKER = "caseworker"
    # Set by the offline sync only: a merchant device's signed receipt, checked on sync.
    OFFLINE_RECEIPT = "offline_receipt"


class UnknownVerification(NotFound):
    def __init__(self, verification_id: str) -> None:
        super().__init__(
            f"no in-person verification {verification_id[:40]!r}; a caseworker records one "
            "after checking the person's identity"
        )


class AuthorisationRefused(Forbidden):
    title = "Redemption not authorised"


@dataclass(frozen=True)
class Verification:
    id: str
    person_id: str
    household_id: str
    method: VerificationMethod
    reason: str
    verified_by: str
    verified_at: datetime
    expires_at: datetime

    def valid_at(self, moment: datetime) -> bool:
        return self.verified_at <= moment < self.expires_at


@dataclass(frozen=True)
class Authorisation:
    """How the person redeeming proved who they are: a card credential or a caseworker's
    in-person verification (its id)."""

    method: AuthorisationMethod
    reference: str

    def as_reference(self) -> dict[str, str]:
        return {"method": self.method.value, "reference": self.reference}


def parse_method(raw: str) -> VerificationMethod:
    try:
        return VerificationMethod(raw)
    except ValueError:
        known = ", ".join(m.value for m in VerificationMethod)
        raise InvalidInput(
            f"verification method {raw[:40]!r} is not known; use one of: {known}",
            errors=[{"field": "method", "reason": f"one of {known}"}],
        ) from None


def parse_authorisation(method: str, reference: str) -> Authorisation:
    try:
        kind = AuthorisationMethod(method)
        if kind is AuthorisationMethod.OFFLINE_RECEIPT:
            raise ValueError(method)
    except ValueError:
        raise InvalidInput(
            f"authorisation method {method[:40]!r} is not known; use 'card' or 'caseworker'",
            errors=[{"field": "authorisation.method", "reason": "card or caseworker"}],
        ) from None
    if not reference or len(reference) > 4000:
        raise InvalidInput(
            "the authorisation needs a reference: the card code, or the id of the caseworker's "
            "in-person verification",
            errors=[{"field": "authorisation.reference", "reason": "required"}],
        )
    # A card's Base45 text may end in a space, which belongs to it.
    return Authorisation(kind, reference if kind is AuthorisationMethod.CARD else reference.strip())


def covers(verification: Verification, subject_type: str, subject_id: str) -> bool:
    """Whether a verification of a person allows redeeming this subject's entitlement: their
    own, or their household's."""
    return holder_covers(
        verification.person_id, verification.household_id, subject_type, subject_id
    )


def holder_covers(person_id: str, household_id: str, subject_type: str, subject_id: str) -> bool:
    """Whether a proven person (by card or in person) may redeem this subject's entitlement."""
    if subject_type == "household":
        return household_id == subject_id
    return person_id == subject_id
