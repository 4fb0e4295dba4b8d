"""What a merchant may hand out to the person at the till, before redeeming.

A merchant acts for `redemption`, which may not read anyone's balances by id
(`READ_ENTITLEMENTS`). The proof the person brings — their card, or a caseworker's in-person
verification — is what opens their entitlements here: it is checked exactly as a redemption
checks it, and only then are the holder's and their household's open entitlements listed,
cut down to the assets this merchant hands out. The merchant sees the beneficiary id the
redemption needs, the programme, what is available and until when; from the card, the name
and birth year printed on it. Health programmes stay hidden as everywhere else (decision
0011). Each listing is written to the access log under the redemption purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from fairshare.audit import services as audit
from fairshare.audit.model import Tag, utc_now
from fairshare.credentials.card import format_card_id, read_claims
from fairshare.credentials.model import (
    Authorisation,
    AuthorisationMethod,
    AuthorisationRefused,
    UnknownVerification,
)
from fairshare.credentials.orm import cards, identity_verifications
from fairshare.credentials.services import check_authorisation
from fairshare.db import UnitOfWork
from fairshare.eligibility.orm import programmes
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed
from fairshare.ledger import store
from fairshare.ledger.model import AccountKind
from fairshare.ledger.orm import ledger_merchant_users, ledger_merchants
from fairshare.registry.orm import people

CHECK = frozenset({Purpose.REDEMPTION})


@dataclass(frozen=True)
class RedeemableLine:
    """One open entitlement the merchant may draw from."""

    beneficiary_id: str
    household: bool
    programme: str
    asset: str
    available: int
    period: str | None
    expires_on: date | None


@dataclass(frozen=True)
class Redeemable:
    """What the proof opens: the card's printed name and id (empty for an in-person
    verification) and the lines this merchant may redeem."""

    method: AuthorisationMethod
    card_id: str
    name: str
    birth_year: int | None
    lines: tuple[RedeemableLine, ...]


def redeemable(
    uow: UnitOfWork, actor: Actor, authorisation: Authorisation, *, today: date | None = None
) -> Redeemable:
    """The holder's open entitlements this merchant hands out, once the proof checks.

    Raises PurposeNotAllowed (logged; also when the till user acts for no merchant),
    InvalidCredential (a card that is malformed, forged, expired or revoked),
    UnknownVerification, AuthorisationRefused (an expired verification).
    """
    authorize(uow, actor, CHECK, "beneficiary", "point-of-sale", Tag.LEDGER_ENTITLEMENT_READ)
    day = today or date.today()
    with uow:
        connection = uow.connection
        accepts = connection.execute(
            select(ledger_merchants.c.accepts)
            .join(
                ledger_merchant_users, ledger_merchant_users.c.merchant_id == ledger_merchants.c.id
            )
            .where(ledger_merchant_users.c.username == actor.username)
        ).scalar()
        if accepts is None:
            raise PurposeNotAllowed(
                f"user {actor.username!r} does not act for any registered merchant; an "
                "administrator links till users to their merchant"
            )
        name, birth_year, card_id = "", None, ""
        if authorisation.method is AuthorisationMethod.CARD:
            claims = read_claims(authorisation.reference)
            holder = None
            if claims is not None:
                holder = connection.execute(
                    select(cards.c.person_id, people.c.household_id)
                    .join(people, people.c.id == cards.c.person_id)
                    .where(cards.c.id == claims.card_id)
                ).first()
            if claims is None or holder is None:
                # Not readable, or not ours: the full check raises the error that says which.
                check_authorisation(connection, authorisation, "person", "")
                raise AuthorisationRefused("the card was not issued by this deployment")
            name, birth_year, card_id = (
                claims.name,
                claims.birth_year,
                format_card_id(claims.card_id),
            )
        elif authorisation.method is AuthorisationMethod.CASEWORKER:
            holder = connection.execute(
                select(identity_verifications.c.person_id, people.c.household_id)
                .join(people, people.c.id == identity_verifications.c.person_id)
                .where(identity_verifications.c.id == authorisation.reference[:36])
            ).first()
            if holder is None:
                raise UnknownVerification(authorisation.reference)
        else:
            raise AuthorisationRefused("offline receipts are checked by the sync, not at a till")
        # Signature, expiry and revocation, exactly as the redemption will check them.
        check_authorisation(connection, authorisation, "person", holder.person_id, utc_now())
        hidden: set[str] = set()
        if not actor.sees_health:
            hidden = set(
                connection.execute(
                    select(programmes.c.code).where(programmes.c.needs_health.is_(True))
                ).scalars()
            )
        handed_out = set(json.loads(accepts))
        accounts = store.accounts_of(
            connection, [holder.person_id, holder.household_id], kind=AccountKind.ENTITLEMENT
        )
        lines = tuple(
            RedeemableLine(
                beneficiary_id=account.owner_id or "",
                household=account.owner_type == "household",
                programme=account.programme or "",
                asset=account.asset,
                available=account.available,
                period=account.period,
                expires_on=account.expires_on,
            )
            for account in sorted(accounts, key=lambda a: (a.programme or "", a.code))
            if account.asset in handed_out
            and account.programme not in hidden
            and account.available > 0
            and (account.expires_on is None or account.expires_on >= day)
        )
        audit.record(
            uow,
            [
                access_request(
                    actor,
                    Tag.LEDGER_ENTITLEMENT_READ,
                    "beneficiary",
                    subject,
                    ("entitlement_balance",),
                )
                for subject in (holder.person_id, holder.household_id)
            ],
        )
        uow.commit()
    return Redeemable(authorisation.method, card_id, name, birth_year, lines)
