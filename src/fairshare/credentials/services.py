"""Identity checks for redemption.

A caseworker checks a person's identity in person and records how and why; the record id
then authorises redemptions for that person and their household until it expires. This is
the card-less path of DESIGN red line 5, and every programme can be redeemed through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from fairshare.audit import services as audit
from fairshare.audit.model import Tag, as_utc, utc_now
from fairshare.credentials.card import (
    MAX_NAME_LENGTH,
    CardCheck,
    CardClaims,
    CardStatus,
    InvalidCredential,
    Reason,
    TrustedKey,
    Verifier,
    format_card_id,
    new_card_id,
    peek,
    read_claims,
    sign_card,
)
from fairshare.credentials.issuer_keys import IssuerKeyInfo, IssuerKeys, generate_issuer_key
from fairshare.credentials.lists import (
    b64,
    revocation_list_document,
    trust_list_document,
    unb64,
)
from fairshare.credentials.model import (
    VERIFICATION_VALID_FOR,
    Authorisation,
    AuthorisationMethod,
    AuthorisationRefused,
    UnknownVerification,
    Verification,
    VerificationMethod,
    covers,
    holder_covers,
    parse_method,
)
from fairshare.credentials.orm import (
    card_issuer_keys,
    card_revocations,
    cards,
    identity_verifications,
    offline_receipts,
)
from fairshare.db import UnitOfWork
from fairshare.driver import Sql, to_datetime
from fairshare.errors import Conflict, NotFound
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ids import new_id
from fairshare.registry.model import UnknownPerson, require_reason
from fairshare.registry.orm import people

VERIFY = frozenset({Purpose.IDENTITY_VERIFICATION})
V = identity_verifications
# Every redemption checks one verification: run on the driver (see fairshare/driver.py).
# A verification with its person's household, as `check_authorisation` reads it (redemption
# also reads it inside a larger statement, see ledger/autocommit_redemption.py).
VERIFICATION_COLUMNS = (
    "v.id, v.person_id, v.method, v.reason, v.verified_by, v.verified_at, v.expires_at, "
    "p.household_id"
)
VERIFICATION_FROM = "identity_verifications v JOIN people p ON p.id = v.person_id"
_VERIFICATION_ROW = Sql(
    f"SELECT {VERIFICATION_COLUMNS} FROM {VERIFICATION_FROM} WHERE v.id = :id"  # noqa: S608
)


def verify_in_person(
    uow: UnitOfWork, actor: Actor, person_id: str, method: str, reason: str
) -> Verification:
    """Record that a caseworker checked this person's identity face to face.

    Raises PurposeNotAllowed (logged), UnknownPerson, InvalidInput (method, reason).
    """
    checked = parse_method(method)
    why = require_reason(reason)
    authorize(uow, actor, VERIFY, "person", person_id, Tag.CREDENTIALS_IDENTITY_VERIFY)
    with uow:
        household = uow.connection.execute(
            select(people.c.household_id).where(people.c.id == person_id)
        ).scalar()
        if household is None:
            raise UnknownPerson(person_id)
        now = utc_now()
        verification = Verification(
            id=new_id(),
            person_id=person_id,
            household_id=household,
            method=checked,
            reason=why,
            verified_by=actor.username,
            verified_at=now,
            expires_at=now + VERIFICATION_VALID_FOR,
        )
        uow.connection.execute(
            insert(V).values(
                id=verification.id,
                person_id=person_id,
                method=checked.value,
                reason=why,
                verified_by=actor.username,
                verified_at=now,
                expires_at=verification.expires_at,
            )
        )
        audit.record(
            uow,
            [
                access_request(
                    actor,
                    Tag.CREDENTIALS_IDENTITY_VERIFY,
                    "person",
                    person_id,
                    ("identity",),
                )
            ],
        )
        uow.commit()
    return verification


def check_authorisation(
    connection: Connection,
    authorisation: Authorisation,
    subject_type: str,
    subject_id: str,
    now: datetime | None = None,
    *,
    verification: Sequence[Any] | None = None,
    card: CardRows | None = None,
) -> str:
    """Raise AuthorisationRefused unless the authorisation proves the right to redeem this
    subject's entitlement now; returns a short description for the transfer's record.

    `verification` (VERIFICATION_COLUMNS) and `card` (`read_card_rows`) are the rows to check
    against when the caller read them already, as a redemption does in its one statement;
    whatever is not given is read here."""
    moment = now or utc_now()
    if authorisation.method is AuthorisationMethod.CASEWORKER:
        found = verification or (
            _VERIFICATION_ROW.run(connection, {"id": authorisation.reference[:36]}).fetchone()
        )
        return _check_verification(found, authorisation, subject_type, subject_id, moment)
    if authorisation.method is AuthorisationMethod.OFFLINE_RECEIPT:
        return _check_offline_receipt(connection, authorisation.reference, subject_type, subject_id)
    return _check_card(connection, authorisation.reference, subject_type, subject_id, moment, card)


def _check_verification(
    found: Sequence[Any] | None,
    authorisation: Authorisation,
    subject_type: str,
    subject_id: str,
    moment: datetime,
) -> str:
    """`check_authorisation` of a caseworker's verification, given its row (VERIFICATION_COLUMNS,
    None when there is no such verification)."""
    if found is None:
        raise UnknownVerification(authorisation.reference)
    verification = Verification(
        id=found[0],
        person_id=found[1],
        household_id=found[7],
        method=VerificationMethod(found[2]),
        reason=found[3],
        verified_by=found[4],
        verified_at=as_utc(to_datetime(found[5])),  # type: ignore[arg-type]
        expires_at=as_utc(to_datetime(found[6])),  # type: ignore[arg-type]
    )
    if not verification.valid_at(moment):
        raise AuthorisationRefused(
            "the in-person verification has expired; ask a caseworker to check the "
            "person's identity again"
        )
    if not covers(verification, subject_type, subject_id):
        raise AuthorisationRefused(
            "the in-person verification is for another person; it authorises redeeming "
            "only that person's own entitlements and their household's"
        )
    return f"in person ({verification.method.value}) by {verification.verified_by}"


def _check_offline_receipt(
    connection: Connection, receipt_id: str, subject_type: str, subject_id: str
) -> str:
    """A receipt the offline sync has checked (signature, allowance) and is now posting."""
    row = connection.execute(
        select(offline_receipts.c.device_id, C.c.person_id, people.c.household_id)
        .join(C, C.c.id == offline_receipts.c.card_id)
        .join(people, people.c.id == C.c.person_id)
        .where(offline_receipts.c.id == receipt_id, offline_receipts.c.outcome == "checked")
    ).first()
    if row is None:
        raise AuthorisationRefused(
            "no checked offline receipt by that id; offline receipts are posted by the sync"
        )
    if not holder_covers(row.person_id, row.household_id, subject_type, subject_id):
        raise AuthorisationRefused("the receipt's card is another person's")
    return f"offline receipt {receipt_id[:40]} from device {row.device_id}"


# ---- cards ------------------------------------------------------------------------------------

CARD_VALID_FOR = timedelta(days=5 * 365)
ISSUE = frozenset({Purpose.REGISTRATION, Purpose.CASE_MANAGEMENT, Purpose.IDENTITY_VERIFICATION})
# A citizen may report their own card lost; caseworkers revoke on the person's behalf.
REVOKE = frozenset({Purpose.CASE_MANAGEMENT, Purpose.IDENTITY_VERIFICATION, Purpose.SELF_SERVICE})
CHECK = frozenset({Purpose.REDEMPTION, Purpose.IDENTITY_VERIFICATION, Purpose.CASE_MANAGEMENT})
LISTS = frozenset(
    {
        Purpose.REDEMPTION,
        Purpose.IDENTITY_VERIFICATION,
        Purpose.CASE_MANAGEMENT,
        Purpose.ADMINISTRATION,
    }
)
KEYS = frozenset({Purpose.ADMINISTRATION})
CARD_FIELDS = ("given_names", "family_names", "date_of_birth")
C, K, RV = cards, card_issuer_keys, card_revocations


class UnknownCard(NotFound):
    def __init__(self, card_id: str) -> None:
        super().__init__(f"no card {card_id[:40]!r}; check the card id printed under the QR code")


@dataclass(frozen=True)
class IssuedCard:
    """A card as printed: its claims, QR text and the person it was issued to."""

    person_id: str
    claims: CardClaims
    qr_text: str
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    @property
    def card_id(self) -> str:
        return self.claims.card_id


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# Every card shown at a till reads the issuer keys and its card row: on the driver (see
# fairshare/driver.py), where SQLAlchemy's statement handling cost more than the signature check.
_TRUSTED_KEYS = Sql("SELECT key_id, public_key, retired_at FROM card_issuer_keys")
# The one key and the card row a QR text names, as `check_authorisation` reads them (a redemption
# reads them inside its one statement, see ledger/autocommit_redemption.py).
CARD_KEY_COLUMNS = "k.key_id, k.public_key, k.retired_at"
CARD_KEY_FROM = "card_issuer_keys k"
CARD_HOLDER_COLUMNS = "c.id, c.person_id, c.revoked_at, p.household_id"
CARD_HOLDER_FROM = "cards c JOIN people p ON p.id = c.person_id"
_CARD_KEY = Sql(f"SELECT {CARD_KEY_COLUMNS} FROM {CARD_KEY_FROM} WHERE k.key_id = :key_id")  # noqa: S608
_CARD_HOLDER = Sql(f"SELECT {CARD_HOLDER_COLUMNS} FROM {CARD_HOLDER_FROM} WHERE c.id = :id")  # noqa: S608


@dataclass(frozen=True)
class CardRows:
    """The issuer key row and the card row a QR text names (None where there is none), read
    before the text is checked: only what to check it against, never a verdict."""

    key: Sequence[Any] | None  # CARD_KEY_COLUMNS
    holder: Sequence[Any] | None  # CARD_HOLDER_COLUMNS


def read_card_rows(connection: Connection, text: str) -> CardRows:
    """`CardRows` of a QR text, in (at most) two statements."""
    key_id, card_id = peek(text)
    key = _CARD_KEY.run(connection, {"key_id": key_id}).fetchone() if key_id else None
    holder = _CARD_HOLDER.run(connection, {"id": card_id}).fetchone() if card_id else None
    return CardRows(key, holder)


def _trusted_key(row: Sequence[Any]) -> TrustedKey:
    key_id, public_key, retired_at = row
    return TrustedKey(
        key_id,
        unb64(public_key),
        None if retired_at is None else epoch(as_utc(to_datetime(retired_at))),  # type: ignore[arg-type]
    )


def _trusted_keys(connection: Connection) -> list[TrustedKey]:
    return [_trusted_key(row) for row in _TRUSTED_KEYS.run(connection).fetchall()]


def _check_card(
    connection: Connection,
    text: str,
    subject_type: str,
    subject_id: str,
    moment: datetime,
    rows: CardRows | None = None,
) -> str:
    """`check_authorisation` of a card's QR text, against `rows` when they were read
    already. The verifier only ever looks up the key the text names, so checking against
    that one row is checking against the whole trust list."""
    rows = rows or read_card_rows(connection, text)
    keys = [_trusted_key(rows.key)] if rows.key is not None else []
    check = Verifier(keys).verify(text, epoch(moment))
    if check.claims is None:
        raise InvalidCredential(check)
    row = rows.holder
    if row is None or row[0] != check.claims.card_id:  # not the card the text was read for
        row = _CARD_HOLDER.run(connection, {"id": check.claims.card_id}).fetchone()
    if row is None:
        raise InvalidCredential(
            CardCheck(
                CardStatus.UNKNOWN_ISSUER,
                Reason.KEY_UNKNOWN,
                "the card was not issued by this deployment",
                check.claims,
            )
        )
    _card_id, person_id, revoked_at, household_id = row
    if revoked_at is not None:
        raise InvalidCredential(
            CardCheck(
                CardStatus.REVOKED,
                Reason.REVOKED,
                "the card was reported lost or stolen",
                check.claims,
            )
        )
    if not check.valid:
        raise InvalidCredential(check)
    if not holder_covers(person_id, household_id, subject_type, subject_id):
        raise AuthorisationRefused(
            "the card is another person's; it authorises redeeming only its holder's own "
            "entitlements and their household's"
        )
    return f"card {format_card_id(check.claims.card_id)}"


def _card_from_row(row: Any) -> IssuedCard:
    claims = read_claims(row.payload)
    if claims is None:  # only if the stored text was damaged; the row still says what it was
        raise Conflict(f"the stored QR text of card {row.id} is damaged; issue a new card")
    return IssuedCard(
        person_id=row.person_id,
        claims=claims,
        qr_text=row.payload,
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
        revoke_reason=row.revoke_reason,
    )


class Cards:
    """Issuing, revoking and checking cards; the trust and revocation lists."""

    def __init__(self, uow: UnitOfWork, key_dir: Path) -> None:
        self.uow = uow
        self.key_dir = key_dir
        self._keys: IssuerKeys | None = None

    @property
    def keys(self) -> IssuerKeys:
        if self._keys is None:
            self._keys = IssuerKeys.from_directory(self.key_dir)
        return self._keys

    def _register_keys(self, connection: Connection, now: datetime) -> frozenset[str]:
        """Record any issuer key of the directory the database does not know; returns the ids
        of retired keys."""
        known = {row.key_id: row.retired_at for row in connection.execute(select(K))}
        missing = [info for info in self.keys.infos() if info.key_id not in known]
        if missing:
            connection.execute(
                insert(K),
                [
                    {"key_id": i.key_id, "public_key": b64(i.public_key), "created_at": now}
                    for i in missing
                ],
            )
        return frozenset(kid for kid, retired in known.items() if retired is not None)

    def issue(
        self,
        actor: Actor,
        person_id: str,
        *,
        photo_hash: bytes | None = None,
        now: datetime | None = None,
    ) -> IssuedCard:
        """Issue a new card to the person; their earlier cards are revoked as replaced.

        Raises PurposeNotAllowed (logged), UnknownPerson, KeyDirectoryError.
        """
        return self.issue_many(actor, [person_id], photo_hashes={person_id: photo_hash}, now=now)[0]

    def issue_many(
        self,
        actor: Actor,
        person_ids: Sequence[str],
        *,
        photo_hashes: Mapping[str, bytes | None] | None = None,
        now: datetime | None = None,
    ) -> list[IssuedCard]:
        """Issue a card to each person in one transaction (a print run); see `issue`."""
        for person_id in person_ids:
            authorize(
                uow=self.uow,
                actor=actor,
                needed=ISSUE,
                subject_type="person",
                subject_id=person_id,
                action=Tag.CREDENTIALS_CARD_ISSUE,
            )
        moment = (now or utc_now()).replace(microsecond=0)
        issued: list[IssuedCard] = []
        with self.uow:
            connection = self.uow.connection
            retired = self._register_keys(connection, moment)
            signing = self.keys.newest(excluding=retired)
            private = self.keys.signer(signing.key_id)
            found = {
                row.id: row
                for start in range(0, len(person_ids), 500)
                for row in connection.execute(
                    select(
                        people.c.id,
                        people.c.given_names,
                        people.c.family_names,
                        people.c.date_of_birth,
                    ).where(people.c.id.in_(person_ids[start : start + 500]))
                )
            }
            for person_id in person_ids:
                if person_id not in found:
                    raise UnknownPerson(person_id)
            self._replace_earlier(connection, actor, person_ids, moment)
            rows = []
            for person_id in person_ids:
                person = found[person_id]
                claims = CardClaims(
                    card_id=new_card_id(),
                    name=f"{person.given_names} {person.family_names}"[:MAX_NAME_LENGTH],
                    birth_year=person.date_of_birth.year,
                    key_id=signing.key_id,
                    issued_at=epoch(moment),
                    expires_at=epoch(moment + CARD_VALID_FOR),
                    photo_hash=(photo_hashes or {}).get(person_id),
                )
                text = sign_card(claims, private)
                issued.append(IssuedCard(person_id, claims, text))
                rows.append(
                    {
                        "id": claims.card_id,
                        "person_id": person_id,
                        "key_id": signing.key_id,
                        "issued_by": actor.username,
                        "issued_at": moment,
                        "expires_at": from_epoch(claims.expires_at),
                        "payload": text,
                    }
                )
            if rows:
                connection.execute(insert(C), rows)
            audit.record(
                self.uow,
                [
                    access_request(actor, Tag.CREDENTIALS_CARD_ISSUE, "person", p, CARD_FIELDS)
                    for p in person_ids
                ],
            )
            self.uow.commit()
        return issued

    def _replace_earlier(
        self, connection: Connection, actor: Actor, person_ids: Sequence[str], moment: datetime
    ) -> None:
        earlier = [
            row.id
            for start in range(0, len(person_ids), 500)
            for row in connection.execute(
                select(C.c.id).where(
                    C.c.person_id.in_(person_ids[start : start + 500]),
                    C.c.revoked_at.is_(None),
                    C.c.expires_at > moment,
                )
            )
        ]
        for card_id in earlier:
            self._revoke_in(connection, actor, card_id, "replaced by a new card", moment)

    def _revoke_in(
        self, connection: Connection, actor: Actor, card_id: str, reason: str, moment: datetime
    ) -> None:
        connection.execute(
            update(C)
            .where(C.c.id == card_id, C.c.revoked_at.is_(None))
            .values(revoked_at=moment, revoke_reason=reason)
        )
        connection.execute(
            insert(RV).values(
                card_id=card_id, revoked_by=actor.username, revoked_at=moment, reason=reason
            )
        )

    def _person_of(self, connection: Connection, card_id: str) -> Any:
        row = connection.execute(
            select(C.c.person_id, C.c.revoked_at, people.c.household_id)
            .join(people, people.c.id == C.c.person_id)
            .where(C.c.id == card_id)
        ).first()
        if row is None:
            raise UnknownCard(card_id)
        return row

    def revoke(self, actor: Actor, card_id: str, reason: str) -> None:
        """Revoke a lost or stolen card: it is refused online at once, and offline once
        verifiers load the next revocation list. Revoking a revoked card changes nothing.

        Raises PurposeNotAllowed (logged), UnknownCard, InvalidInput (reason).
        """
        why = require_reason(reason)
        card_id = card_id.replace("-", "").strip().upper()[:40]
        if actor.role is not Role.CITIZEN:  # a citizen's check needs the holder, looked up next
            authorize(self.uow, actor, REVOKE, "card", card_id, Tag.CREDENTIALS_CARD_REVOKE)
        with self.uow:
            holder = self._person_of(self.uow.connection, card_id)
        authorize(
            self.uow,
            actor,
            REVOKE,
            "person",
            holder.person_id,
            Tag.CREDENTIALS_CARD_REVOKE,
            own_person_ids=frozenset({holder.person_id}),
        )
        with self.uow:
            if holder.revoked_at is None:
                self._revoke_in(self.uow.connection, actor, card_id, why, utc_now())
            audit.record(
                self.uow,
                [access_request(actor, Tag.CREDENTIALS_CARD_REVOKE, "person", holder.person_id)],
            )
            self.uow.commit()

    def cards_of(self, actor: Actor, person_id: str) -> list[IssuedCard]:
        """The person's cards, newest first, with their QR text (for reprinting).

        Raises PurposeNotAllowed (logged)."""
        authorize(
            self.uow,
            actor,
            ISSUE | {Purpose.SELF_SERVICE},
            "person",
            person_id,
            Tag.CREDENTIALS_CARD_READ,
            own_person_ids=frozenset({person_id}),
        )
        with self.uow:
            rows = self.uow.connection.execute(
                select(C).where(C.c.person_id == person_id).order_by(C.c.issued_at.desc(), C.c.id)
            ).all()
            audit.record(
                self.uow,
                [
                    access_request(
                        actor, Tag.CREDENTIALS_CARD_READ, "person", person_id, CARD_FIELDS
                    )
                ],
            )
            self.uow.commit()
        return [_card_from_row(row) for row in rows]

    def current_card(self, actor: Actor, person_id: str) -> IssuedCard:
        """The person's newest card that is neither revoked nor expired; raises UnknownCard."""
        now = utc_now()
        for card in self.cards_of(actor, person_id):
            if card.revoked_at is None and from_epoch(card.claims.expires_at) > now:
                return card
        raise UnknownCard(f"for person {person_id[:36]}")

    def check(self, actor: Actor, qr_text: str, now: datetime | None = None) -> CardCheck:
        """Verify a card online (current keys and revocations); logged against its holder
        when the card is ours. Raises PurposeNotAllowed (logged); a bad card is a verdict."""
        authorize(self.uow, actor, CHECK, "card", "check", Tag.CREDENTIALS_CARD_VERIFY)
        moment = now or utc_now()
        with self.uow:
            connection = self.uow.connection
            check = Verifier(_trusted_keys(connection)).verify(qr_text, epoch(moment))
            if check.claims is not None:
                row = connection.execute(
                    select(C.c.person_id, C.c.revoked_at).where(C.c.id == check.claims.card_id)
                ).first()
                if row is None:
                    check = CardCheck(
                        CardStatus.UNKNOWN_ISSUER,
                        Reason.KEY_UNKNOWN,
                        "the card was not issued by this deployment",
                        check.claims,
                    )
                else:
                    if row.revoked_at is not None:
                        check = CardCheck(
                            CardStatus.REVOKED,
                            Reason.REVOKED,
                            "the card was reported lost or stolen",
                            check.claims,
                        )
                    audit.record(
                        self.uow,
                        [
                            access_request(
                                actor,
                                Tag.CREDENTIALS_CARD_VERIFY,
                                "person",
                                row.person_id,
                                ("given_names", "family_names", "date_of_birth"),
                            )
                        ],
                    )
            self.uow.commit()
        return check

    def trust_list(self, now: datetime | None = None) -> str:
        """The signed trust list (public: issuer public keys only, nobody's data)."""
        moment = now or utc_now()
        with self.uow:
            self._register_keys(self.uow.connection, moment)
            keys = _trusted_keys(self.uow.connection)
            self.uow.commit()
        return trust_list_document(keys, epoch(moment), self.keys.root)

    def revocation_list(self, actor: Actor, now: datetime | None = None) -> str:
        """The signed list of revoked card ids for offline verifiers.

        Raises PurposeNotAllowed (logged)."""
        authorize(self.uow, actor, LISTS, "card", "revocations", Tag.CREDENTIALS_REVOCATION_EXPORT)
        moment = now or utc_now()
        with self.uow:
            revoked = (
                self.uow.connection.execute(
                    select(C.c.id).where(C.c.revoked_at.is_not(None), C.c.expires_at > moment)
                )
                .scalars()
                .all()
            )
            audit.record(
                self.uow,
                [access_request(actor, Tag.CREDENTIALS_REVOCATION_EXPORT, "card", "revocations")],
            )
            self.uow.commit()
        return revocation_list_document(revoked, epoch(moment), self.keys.root)

    @property
    def anchor(self) -> bytes:
        """The root public key verifiers pin (public)."""
        return self.keys.anchor

    def rotate_key(self, actor: Actor) -> IssuerKeyInfo:
        """Add a new issuer key; new cards are signed with it, old keys keep verifying.

        Raises PurposeNotAllowed (logged)."""
        authorize(self.uow, actor, KEYS, "card", "keys", Tag.CREDENTIALS_KEY_ROTATE)
        generate_issuer_key(self.key_dir)
        self._keys = None
        info = self.keys.infos()[-1]
        with self.uow:
            self._register_keys(self.uow.connection, utc_now())
            audit.record(
                self.uow, [access_request(actor, Tag.CREDENTIALS_KEY_ROTATE, "card", "keys")]
            )
            self.uow.commit()
        return info

    def retire_key(self, actor: Actor, key_id: str, now: datetime | None = None) -> None:
        """Stop trusting an issuer key: cards signed with it are refused from now on (reissue
        them first). The newest key cannot be retired; rotate first.

        Raises PurposeNotAllowed (logged), NotFound, Conflict."""
        authorize(self.uow, actor, KEYS, "card", "keys", Tag.CREDENTIALS_KEY_RETIRE)
        moment = now or utc_now()
        with self.uow:
            connection = self.uow.connection
            retired = self._register_keys(connection, moment)
            if (
                key_id not in {info.key_id for info in self.keys.infos()}
                and not connection.execute(select(K.c.key_id).where(K.c.key_id == key_id)).first()
            ):
                raise NotFound(f"no card issuer key {key_id[:20]!r}; see `fairshare card keys`")
            if self.keys.newest(excluding=retired).key_id == key_id:
                raise Conflict(
                    f"key {key_id} signs new cards; run `fairshare card keys rotate` first"
                )
            connection.execute(
                update(K)
                .where(K.c.key_id == key_id, K.c.retired_at.is_(None))
                .values(retired_at=moment)
            )
            audit.record(
                self.uow, [access_request(actor, Tag.CREDENTIALS_KEY_RETIRE, "card", key_id)]
            )
            self.uow.commit()

    def key_states(self) -> list[tuple[str, datetime, datetime | None]]:
        """Every issuer key the database knows: id, added, retired (public)."""
        with self.uow:
            self._register_keys(self.uow.connection, utc_now())
            rows = self.uow.connection.execute(select(K).order_by(K.c.created_at)).all()
            self.uow.commit()
        return [
            (r.key_id, as_utc(r.created_at), None if r.retired_at is None else as_utc(r.retired_at))
            for r in rows
        ]
