"""Registry use cases. The API, the web pages and the CLI call these and nothing below them.

Every method checks the actor's purpose, does its work in one transaction and writes the
access-log entries for it in that same transaction: either both land or neither does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, select, update

from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, as_utc, utc_now
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import (
    CORE_HOUSEHOLD_COLUMNS,
    CORE_PERSON_COLUMNS,
    Catalogue,
    Entity,
    FieldDefinition,
    FieldValueError,
    clean_text,
)
from fairshare.db import UnitOfWork
from fairshare.errors import Conflict, InvalidInput
from fairshare.identity.guard import access_request, authorize
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ids import new_id
from fairshare.keys import FieldCipher
from fairshare.registry.model import (
    HEALTH_SCOPE,
    Change,
    ConsentRequired,
    CorrectionStatus,
    Household,
    Person,
    UnknownCorrection,
    UnknownHousehold,
    UnknownPerson,
    changes_between,
    name_key,
    require_reason,
)
from fairshare.registry.orm import (
    consents,
    correction_requests,
    health_values,
    households,
    income_records,
    people,
    record_changes,
)

P = Purpose
REGISTER = frozenset({P.REGISTRATION, P.BULK_REGISTRATION})
READ = frozenset(
    {
        P.CASE_MANAGEMENT,
        P.HEALTH_ASSESSMENT,
        P.CORRECTION_HANDLING,
        P.DATA_SUBJECT_REQUEST,
        P.DUPLICATE_REVIEW,
        P.APPEAL_REVIEW,
        P.IDENTITY_VERIFICATION,
        P.REGISTRATION,
        P.SELF_SERVICE,
    }
)
SEARCH = frozenset(
    {
        P.REGISTRATION,
        P.CASE_MANAGEMENT,
        P.HEALTH_ASSESSMENT,
        P.CORRECTION_HANDLING,
        P.DATA_SUBJECT_REQUEST,
        P.DUPLICATE_REVIEW,
        P.APPEAL_REVIEW,
        P.IDENTITY_VERIFICATION,
    }
)
UPDATE = frozenset({P.CASE_MANAGEMENT, P.HEALTH_ASSESSMENT, P.CORRECTION_HANDLING})
CONSENT = frozenset({P.REGISTRATION, P.CASE_MANAGEMENT, P.HEALTH_ASSESSMENT, P.SELF_SERVICE})
REQUEST_CORRECTION = frozenset({P.SELF_SERVICE, P.CASE_MANAGEMENT, P.CORRECTION_HANDLING})
DECIDE_CORRECTION = frozenset({P.CORRECTION_HANDLING})
EXPORT = frozenset({P.SELF_SERVICE, P.DATA_SUBJECT_REQUEST})
ACCESS_REPORT = frozenset({P.SELF_SERVICE, P.DATA_SUBJECT_REQUEST, P.AUDIT})
SEARCH_LIMIT = 50
SUMMARY_FIELDS = ("given_names", "family_names", "date_of_birth", "region")


@dataclass(frozen=True)
class MemberInput:
    """One person to register: catalogue values (health ones included) and consent."""

    values: dict[str, Any]
    health_consent: bool = False
    consent_method: str = "recorded at registration"
    record_ref: str | None = None


@dataclass(frozen=True)
class PersonSummary:
    id: str
    household_id: str
    given_names: str
    family_names: str
    date_of_birth: date
    region: str


@dataclass(frozen=True)
class HistoryEntry:
    field: str
    old: Any
    new: Any
    changed_at: str
    actor: str
    role: str
    reason: str
    correction_id: str | None


@dataclass(frozen=True)
class CorrectionRequest:
    id: str
    person_id: str
    field: str
    requested_value: Any
    reason: str
    status: str
    requested_by: str
    requested_at: str
    decided_by: str | None
    decision_reason: str | None


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Registry:
    """People, households, consent, corrections and exports, with access logging."""

    def __init__(self, uow: UnitOfWork, cipher: FieldCipher) -> None:
        self.uow = uow
        self.cipher = cipher

    # ---- registration -------------------------------------------------------------------

    def register_household(
        self,
        actor: Actor,
        values: dict[str, Any],
        members: list[MemberInput],
        household_ref: str | None = None,
    ) -> Household:
        """Register a household with its members, all or nothing.

        Raises InvalidInput (bad values, not exactly one head, health without consent),
        UnknownField, PurposeNotAllowed, Conflict (reference already registered).
        """
        authorize(self.uow, actor, REGISTER, "household", "new", Tag.REGISTRY_HOUSEHOLD_CREATE)
        if not members:
            raise InvalidInput(
                "a household needs at least one member",
                errors=[{"field": "members", "reason": "is empty"}],
            )
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            parsed_household = catalogue.parse_values(Entity.HOUSEHOLD, values)
            parsed_members = [
                self._parse_member(catalogue, m, index) for index, m in enumerate(members)
            ]
            heads = sum(1 for p, _ in parsed_members if p.get("relationship_to_head") == "head")
            if heads != 1:
                raise InvalidInput(
                    f"a household needs exactly one member whose relationship_to_head is "
                    f"'head'; this one has {heads}",
                    errors=[{"field": "members", "reason": "exactly one head"}],
                )
            household = Household(new_id(), parsed_household, household_ref)
            self._insert_household(catalogue, household)
            log: list[AccessRequest] = [
                self._request(
                    actor,
                    Tag.REGISTRY_HOUSEHOLD_CREATE,
                    "household",
                    household.id,
                    parsed_household,
                )
            ]
            for person_values, member in parsed_members:
                person = self._insert_person(catalogue, actor, household.id, person_values, member)
                if not actor.sees_health:
                    person.health = {}
                household.members.append(person)
                log.append(
                    self._request(
                        actor, Tag.REGISTRY_PERSON_CREATE, "person", person.id, person_values
                    )
                )
            audit.record(self.uow, log)
            self.uow.commit()
        return household

    def add_member(self, actor: Actor, household_id: str, member: MemberInput) -> Person:
        """Add a person to an existing household; raises UnknownHousehold, InvalidInput, ..."""
        authorize(self.uow, actor, REGISTER, "household", household_id, Tag.REGISTRY_PERSON_CREATE)
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            if self._household_row(household_id) is None:
                raise UnknownHousehold(household_id)
            person_values, member = self._parse_member(catalogue, member, None)
            if (
                person_values.get("relationship_to_head") == "head"
                and self.uow.connection.execute(
                    select(people.c.id).where(
                        and_(
                            people.c.household_id == household_id,
                            people.c.relationship_to_head == "head",
                        )
                    )
                ).first()
            ):
                raise InvalidInput(
                    "this household already has a head; choose another relationship_to_head",
                    errors=[{"field": "relationship_to_head", "reason": "household has a head"}],
                )
            person = self._insert_person(catalogue, actor, household_id, person_values, member)
            audit.record(
                self.uow,
                [
                    self._request(
                        actor, Tag.REGISTRY_PERSON_CREATE, "person", person.id, person_values
                    )
                ],
            )
            self.uow.commit()
        return person

    def _parse_member(
        self, catalogue: Catalogue, member: MemberInput, index: int | None
    ) -> tuple[dict[str, Any], MemberInput]:
        try:
            parsed = catalogue.parse_values(Entity.PERSON, member.values)
        except InvalidInput as error:
            if index is None:
                raise
            for item in error.errors:
                item["member"] = index
            error.message = f"member {index + 1}: {error.message}"
            error.args = (error.message,)
            raise
        health = [
            n for n, v in parsed.items() if v is not None and _definition(catalogue, n).is_health
        ]
        if health and not member.health_consent:
            raise ConsentRequired(health)
        return parsed, member

    def _insert_household(self, catalogue: Catalogue, household: Household) -> None:
        now = utc_now()
        core, extra = _split(catalogue, Entity.HOUSEHOLD, household.values, CORE_HOUSEHOLD_COLUMNS)
        if (
            household.household_ref
            and self.uow.connection.execute(
                select(households.c.id).where(households.c.household_ref == household.household_ref)
            ).first()
        ):
            raise Conflict(f"household reference {household.household_ref!r} is already registered")
        self.uow.connection.execute(
            insert(households).values(
                id=household.id,
                household_ref=household.household_ref,
                extra=_to_json(extra),
                created_at=now,
                updated_at=now,
                version=1,
                **core,
            )
        )

    def _insert_person(
        self,
        catalogue: Catalogue,
        actor: Actor,
        household_id: str,
        values: dict[str, Any],
        member: MemberInput,
    ) -> Person:
        now = utc_now()
        person_id = new_id()
        plain = {n: v for n, v in values.items() if not _definition(catalogue, n).is_health}
        health = {
            n: v for n, v in values.items() if _definition(catalogue, n).is_health and v is not None
        }
        core, extra = _split(catalogue, Entity.PERSON, plain, CORE_PERSON_COLUMNS)
        if (
            member.record_ref
            and self.uow.connection.execute(
                select(people.c.id).where(people.c.record_ref == member.record_ref)
            ).first()
        ):
            raise Conflict(f"record reference {member.record_ref!r} is already registered")
        self.uow.connection.execute(
            insert(people).values(
                id=person_id,
                household_id=household_id,
                record_ref=member.record_ref,
                name_key=name_key(core.get("given_names"), core.get("family_names")),
                extra=_to_json(extra),
                created_at=now,
                updated_at=now,
                version=1,
                **core,
            )
        )
        if member.health_consent:
            self.uow.connection.execute(
                insert(consents).values(
                    id=new_id(),
                    person_id=person_id,
                    scope=HEALTH_SCOPE,
                    method=clean_text(member.consent_method, max_length=80) or "recorded",
                    granted_at=now,
                    granted_by=actor.username,
                )
            )
        for name, value in health.items():
            self.uow.connection.execute(
                insert(health_values).values(
                    person_id=person_id,
                    field=name,
                    sealed=self._seal(catalogue, person_id, name, value),
                )
            )
        if plain.get("monthly_income") is not None:
            self.uow.connection.execute(
                insert(income_records).values(
                    person_id=person_id,
                    monthly_income=plain["monthly_income"],
                    effective_from=now.date(),
                    recorded_at=now,
                    recorded_by=actor.username,
                )
            )
        return Person(person_id, household_id, plain, health, member.record_ref)

    # ---- reading ------------------------------------------------------------------------

    def search(
        self,
        actor: Actor,
        *,
        name: str | None = None,
        national_id: str | None = None,
        date_of_birth: date | None = None,
        region: str | None = None,
        limit: int = SEARCH_LIMIT,
    ) -> list[PersonSummary]:
        """Find people by name, national ID or date of birth; each result is logged as read.

        Raises InvalidInput when no criterion is given (records are shown only after a search).
        """
        authorize(self.uow, actor, SEARCH, "person", "search", Tag.REGISTRY_PERSON_SEARCH)
        criteria: list[ColumnElement[bool]] = []
        if name:
            try:
                words = clean_text(name, max_length=100).lower().split()
            except FieldValueError as error:
                raise InvalidInput(f"name {error}") from None
            for word in name_key(" ".join(words)).split()[:5]:
                pattern = f"%{word.replace('%', '').replace('_', '')}%"
                criteria.append(people.c.name_key.like(pattern))
        if national_id:
            criteria.append(people.c.national_id == national_id.strip()[:32])
        if date_of_birth:
            criteria.append(people.c.date_of_birth == date_of_birth)
        if not criteria:
            raise InvalidInput(
                "give a name, national ID or date of birth to search for; records are shown "
                "only in answer to a search",
                errors=[{"field": "name", "reason": "a search criterion is required"}],
            )
        if region:
            criteria.append(households.c.region == region)
        limit = max(1, min(limit, SEARCH_LIMIT))
        with self.uow:
            rows = self.uow.connection.execute(
                select(
                    people.c.id,
                    people.c.household_id,
                    people.c.given_names,
                    people.c.family_names,
                    people.c.date_of_birth,
                    households.c.region,
                )
                .join(households, households.c.id == people.c.household_id)
                .where(and_(*criteria))
                .order_by(people.c.family_names, people.c.given_names)
                .limit(limit)
            ).all()
            results = [
                PersonSummary(
                    r.id, r.household_id, r.given_names, r.family_names, r.date_of_birth, r.region
                )
                for r in rows
            ]
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_PERSON_SEARCH,
                        "person",
                        r.id,
                        SUMMARY_FIELDS,
                    )
                    for r in results
                ],
            )
            self.uow.commit()
        return results

    def get_person(self, actor: Actor, person_id: str) -> Person:
        """The person's record; health values only under a purpose that needs them.

        Raises UnknownPerson, PurposeNotAllowed (logged).
        """
        authorize(
            self.uow,
            actor,
            READ,
            "person",
            person_id,
            Tag.REGISTRY_PERSON_READ,
            own_person_ids=frozenset({person_id}),
        )
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            person = self._load_person(catalogue, person_id, with_health=actor.sees_health)
            fields = [*person.values, *person.health]
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_PERSON_READ,
                        "person",
                        person_id,
                        tuple(fields),
                    )
                ],
            )
            self.uow.commit()
        return person

    def get_household(self, actor: Actor, household_id: str) -> tuple[Household, list[Person]]:
        """The household and its members (no health values: those are read per person)."""
        with self.uow:
            member_ids = [
                r.id
                for r in self.uow.connection.execute(
                    select(people.c.id).where(people.c.household_id == household_id)
                )
            ]
        authorize(
            self.uow,
            actor,
            READ,
            "household",
            household_id,
            Tag.REGISTRY_HOUSEHOLD_READ,
            own_person_ids=frozenset(member_ids),
        )
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            household = self._load_household(catalogue, household_id)
            members = [self._load_person(catalogue, m, with_health=False) for m in member_ids]
            log = [
                self._request(
                    actor, Tag.REGISTRY_HOUSEHOLD_READ, "household", household_id, household.values
                )
            ]
            log += [
                self._request(actor, Tag.REGISTRY_HOUSEHOLD_READ, "person", m.id, m.values)
                for m in members
            ]
            audit.record(self.uow, log)
            self.uow.commit()
        return household, members

    def _load_person(self, catalogue: Catalogue, person_id: str, *, with_health: bool) -> Person:
        row = self.uow.connection.execute(select(people).where(people.c.id == person_id)).first()
        if row is None:
            raise UnknownPerson(person_id)
        values: dict[str, Any] = {}
        for definition in catalogue.for_entity(Entity.PERSON):
            if definition.is_health:
                continue
            if definition.core:
                values[definition.name] = definition.from_storage(getattr(row, definition.name))
            else:
                values[definition.name] = definition.from_storage(
                    json.loads(row.extra).get(definition.name)
                )
        health: dict[str, Any] = {}
        if with_health:
            for item in self.uow.connection.execute(
                select(health_values).where(health_values.c.person_id == person_id)
            ):
                definition = _definition(catalogue, item.field)
                health[item.field] = definition.from_storage(
                    json.loads(self.cipher.open(item.sealed, f"{person_id}:{item.field}"))
                )
        return Person(row.id, row.household_id, values, health, row.record_ref, row.version)

    def _load_household(self, catalogue: Catalogue, household_id: str) -> Household:
        row = self._household_row(household_id)
        if row is None:
            raise UnknownHousehold(household_id)
        values: dict[str, Any] = {}
        extra = json.loads(row.extra)
        for definition in catalogue.for_entity(Entity.HOUSEHOLD):
            stored = (
                getattr(row, definition.name) if definition.core else extra.get(definition.name)
            )
            values[definition.name] = definition.from_storage(stored)
        return Household(row.id, values, row.household_ref, row.version)

    def _household_row(self, household_id: str) -> Any:
        return self.uow.connection.execute(
            select(households).where(households.c.id == household_id)
        ).first()

    # ---- changes ------------------------------------------------------------------------

    def update_person(
        self,
        actor: Actor,
        person_id: str,
        changes: dict[str, Any],
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> Person:
        """Change fields of a person with a reason; the old values go to the record history.

        Raises UnknownPerson, InvalidInput, ConsentRequired, Conflict (stale version).
        """
        authorize(self.uow, actor, UPDATE, "person", person_id, Tag.REGISTRY_PERSON_UPDATE)
        reason = require_reason(reason)
        with self.uow:
            person = self._apply_person_changes(
                actor, person_id, changes, reason, None, expected_version
            )
            self.uow.commit()
        return person

    def _apply_person_changes(
        self,
        actor: Actor,
        person_id: str,
        raw: dict[str, Any],
        reason: str,
        correction_id: str | None,
        expected_version: int | None,
    ) -> Person:
        catalogue = catalogue_services.load(self.uow)
        parsed = catalogue.parse_values(Entity.PERSON, raw, partial=True)
        for name in ("given_names", "family_names", "date_of_birth", "sex", "relationship_to_head"):
            if name in parsed and parsed[name] is None:
                raise InvalidInput(
                    f"{name} is required and cannot be removed",
                    errors=[{"field": name, "reason": "is required"}],
                )
        current = self._load_person(catalogue, person_id, with_health=True)
        if expected_version is not None and expected_version != current.version:
            raise Conflict(
                f"the record changed since you loaded it (version {current.version}, "
                f"you had {expected_version}); reload it and apply your change again"
            )
        health_names = {n for n in parsed if _definition(catalogue, n).is_health}
        if (
            health_names
            and any(parsed[n] is not None for n in health_names)
            and not self._has_consent(person_id)
        ):
            raise ConsentRequired(sorted(health_names))
        old = {**current.values, **current.health}
        changes = changes_between(old, parsed)
        if not changes:
            # Nothing to write, but the caller still reads the record: per purpose, logged.
            unchanged = self._load_person(catalogue, person_id, with_health=actor.sees_health)
            audit.record(
                self.uow,
                [
                    self._request(
                        actor,
                        Tag.REGISTRY_PERSON_READ,
                        "person",
                        person_id,
                        {**unchanged.values, **unchanged.health},
                    )
                ],
            )
            return unchanged
        now = utc_now()
        plain_changes = {c.field: c.new for c in changes if c.field not in health_names}
        if plain_changes:
            core, extra_changes = _split(
                catalogue, Entity.PERSON, plain_changes, CORE_PERSON_COLUMNS
            )
            row = self.uow.connection.execute(
                select(people.c.extra).where(people.c.id == person_id)
            ).one()
            extra = {**json.loads(row.extra), **extra_changes}
            if "given_names" in core or "family_names" in core:
                names = {**current.values, **core}
                core["name_key"] = name_key(names["given_names"], names["family_names"])
            self.uow.connection.execute(
                update(people)
                .where(people.c.id == person_id)
                .values(extra=_to_json(extra), updated_at=now, version=people.c.version + 1, **core)
            )
            if "monthly_income" in plain_changes and plain_changes["monthly_income"] is not None:
                self.uow.connection.execute(
                    insert(income_records).values(
                        person_id=person_id,
                        monthly_income=plain_changes["monthly_income"],
                        effective_from=now.date(),
                        recorded_at=now,
                        recorded_by=actor.username,
                    )
                )
        else:
            self.uow.connection.execute(
                update(people)
                .where(people.c.id == person_id)
                .values(updated_at=now, version=people.c.version + 1)
            )
        for change in changes:
            if change.field in health_names:
                self._write_health(catalogue, person_id, change)
        self._record_changes(
            catalogue, actor, "person", person_id, changes, reason, correction_id, now
        )
        audit.record(
            self.uow,
            [
                access_request(
                    actor,
                    Tag.REGISTRY_PERSON_UPDATE,
                    "person",
                    person_id,
                    tuple(c.field for c in changes),
                )
            ],
        )
        return self._load_person(catalogue, person_id, with_health=actor.sees_health)

    def update_household(
        self, actor: Actor, household_id: str, changes: dict[str, Any], reason: str
    ) -> Household:
        """Change household fields with a reason; raises UnknownHousehold, InvalidInput."""
        authorize(self.uow, actor, UPDATE, "household", household_id, Tag.REGISTRY_HOUSEHOLD_UPDATE)
        reason = require_reason(reason)
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            parsed = catalogue.parse_values(Entity.HOUSEHOLD, changes, partial=True)
            for name in ("region", "address"):
                if name in parsed and parsed[name] is None:
                    raise InvalidInput(f"{name} is required and cannot be removed")
            current = self._load_household(catalogue, household_id)
            diff = changes_between(current.values, parsed)
            if diff:
                now = utc_now()
                core, extra_changes = _split(
                    catalogue,
                    Entity.HOUSEHOLD,
                    {c.field: c.new for c in diff},
                    CORE_HOUSEHOLD_COLUMNS,
                )
                extra = {**json.loads(self._household_row(household_id).extra), **extra_changes}
                self.uow.connection.execute(
                    update(households)
                    .where(households.c.id == household_id)
                    .values(
                        extra=_to_json(extra),
                        updated_at=now,
                        version=households.c.version + 1,
                        **core,
                    )
                )
                self._record_changes(
                    catalogue, actor, "household", household_id, diff, reason, None, now
                )
                audit.record(
                    self.uow,
                    [
                        access_request(
                            actor,
                            Tag.REGISTRY_HOUSEHOLD_UPDATE,
                            "household",
                            household_id,
                            tuple(c.field for c in diff),
                        )
                    ],
                )
            household = self._load_household(catalogue, household_id)
            self.uow.commit()
        return household

    def _write_health(self, catalogue: Catalogue, person_id: str, change: Change) -> None:
        self.uow.connection.execute(
            delete(health_values).where(
                and_(health_values.c.person_id == person_id, health_values.c.field == change.field)
            )
        )
        if change.new is not None:
            self.uow.connection.execute(
                insert(health_values).values(
                    person_id=person_id,
                    field=change.field,
                    sealed=self._seal(catalogue, person_id, change.field, change.new),
                )
            )

    def _record_changes(
        self,
        catalogue: Catalogue,
        actor: Actor,
        subject_type: str,
        subject_id: str,
        changes: Iterable[Change],
        reason: str,
        correction_id: str | None,
        now: Any,
    ) -> None:
        entity = Entity.PERSON if subject_type == "person" else Entity.HOUSEHOLD
        rows = []
        for change in changes:
            definition = catalogue.get(entity, change.field)
            assert definition is not None
            sealed = definition.is_health
            rows.append(
                {
                    "subject_type": subject_type,
                    "subject_id": subject_id,
                    "field": change.field,
                    "old_value": self._history_value(catalogue, definition, subject_id, change.old),
                    "new_value": self._history_value(catalogue, definition, subject_id, change.new),
                    "sealed": sealed,
                    "changed_at": now,
                    "actor": actor.username,
                    "role": actor.role.value,
                    "reason": reason,
                    "correction_id": correction_id,
                }
            )
        if rows:
            self.uow.connection.execute(insert(record_changes), rows)

    def _history_value(
        self, catalogue: Catalogue, definition: FieldDefinition, subject_id: str, value: Any
    ) -> str | None:
        if value is None:
            return None
        if definition.is_health:
            return self._seal(catalogue, subject_id, definition.name, value, history=True)
        return _to_json(definition.to_storage(value))

    def _seal(
        self, catalogue: Catalogue, person_id: str, name: str, value: Any, history: bool = False
    ) -> str:
        definition = _definition(catalogue, name)
        scope = "history" if history else "value"
        return self.cipher.seal(
            _to_json(definition.to_storage(value)),
            f"{person_id}:{name}" if not history else f"{person_id}:{name}:{scope}",
        )

    def history(self, actor: Actor, person_id: str) -> list[HistoryEntry]:
        """Every change to the person's record, oldest first; health values per purpose."""
        authorize(
            self.uow,
            actor,
            READ,
            "person",
            person_id,
            Tag.REGISTRY_PERSON_HISTORY,
            own_person_ids=frozenset({person_id}),
        )
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            if (
                self.uow.connection.execute(
                    select(people.c.id).where(people.c.id == person_id)
                ).first()
                is None
            ):
                raise UnknownPerson(person_id)
            entries = self._history_entries(catalogue, person_id, actor.sees_health)
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_PERSON_HISTORY,
                        "person",
                        person_id,
                        tuple(sorted({e.field for e in entries})),
                    )
                ],
            )
            self.uow.commit()
        return entries

    def _history_entries(
        self, catalogue: Catalogue, person_id: str, with_health: bool
    ) -> list[HistoryEntry]:
        entries = []
        for row in self.uow.connection.execute(
            select(record_changes)
            .where(
                and_(
                    record_changes.c.subject_type == "person",
                    record_changes.c.subject_id == person_id,
                )
            )
            .order_by(record_changes.c.id)
        ):
            if row.sealed and not with_health:
                continue
            entries.append(
                HistoryEntry(
                    row.field,
                    self._open_history(row, row.old_value, person_id),
                    self._open_history(row, row.new_value, person_id),
                    as_utc(row.changed_at).isoformat(timespec="seconds"),
                    row.actor,
                    row.role,
                    row.reason,
                    row.correction_id,
                )
            )
        return entries

    def _open_history(self, row: Any, stored: str | None, person_id: str) -> Any:
        if stored is None:
            return None
        if row.sealed:
            return json.loads(self.cipher.open(stored, f"{person_id}:{row.field}:history"))
        return json.loads(stored)

    # ---- consent ------------------------------------------------------------------------

    def _has_consent(self, person_id: str, scope: str = HEALTH_SCOPE) -> bool:
        return (
            self.uow.connection.execute(
                select(consents.c.id).where(
                    and_(
                        consents.c.person_id == person_id,
                        consents.c.scope == scope,
                        consents.c.withdrawn_at.is_(None),
                    )
                )
            ).first()
            is not None
        )

    def grant_consent(
        self, actor: Actor, person_id: str, method: str, scope: str = HEALTH_SCOPE
    ) -> None:
        """Record the person's consent to hold health data; idempotent while it stands."""
        authorize(
            self.uow,
            actor,
            CONSENT,
            "person",
            person_id,
            Tag.REGISTRY_CONSENT_GRANT,
            own_person_ids=frozenset({person_id}),
        )
        if scope != HEALTH_SCOPE:
            raise InvalidInput(f"consent scope {scope!r} is not known; use 'health'")
        try:
            method = clean_text(method, max_length=80)
        except FieldValueError as error:
            raise InvalidInput(f"method {error}") from None
        if len(method) < 3:
            raise InvalidInput("say how consent was given (e.g. 'signed form', 'verbal')")
        with self.uow:
            self._require_person(person_id)
            if not self._has_consent(person_id, scope):
                self.uow.connection.execute(
                    insert(consents).values(
                        id=new_id(),
                        person_id=person_id,
                        scope=scope,
                        method=method,
                        granted_at=utc_now(),
                        granted_by=actor.username,
                    )
                )
                audit.record(
                    self.uow,
                    [
                        access_request(
                            actor,
                            Tag.REGISTRY_CONSENT_GRANT,
                            "person",
                            person_id,
                            (scope,),
                        )
                    ],
                )
            self.uow.commit()

    def withdraw_consent(self, actor: Actor, person_id: str, scope: str = HEALTH_SCOPE) -> int:
        """Withdraw consent and erase the health values it covered; returns how many."""
        authorize(
            self.uow,
            actor,
            CONSENT,
            "person",
            person_id,
            Tag.REGISTRY_CONSENT_WITHDRAW,
            own_person_ids=frozenset({person_id}),
        )
        if scope != HEALTH_SCOPE:
            raise InvalidInput(f"consent scope {scope[:40]!r} is not known; use 'health'")
        with self.uow:
            self._require_person(person_id)
            now = utc_now()
            # Open corrections that carry a health value lose it too.
            self.uow.connection.execute(
                update(correction_requests)
                .where(
                    and_(
                        correction_requests.c.person_id == person_id,
                        correction_requests.c.sealed.is_(True),
                    )
                )
                .values(requested_value=None)
            )
            self.uow.connection.execute(
                update(correction_requests)
                .where(
                    and_(
                        correction_requests.c.person_id == person_id,
                        correction_requests.c.sealed.is_(True),
                        correction_requests.c.status == CorrectionStatus.OPEN,
                    )
                )
                .values(
                    status=CorrectionStatus.REJECTED,
                    decided_by=actor.username,
                    decided_at=now,
                    decision_reason="health consent withdrawn",
                )
            )
            self.uow.connection.execute(
                update(consents)
                .where(
                    and_(
                        consents.c.person_id == person_id,
                        consents.c.scope == scope,
                        consents.c.withdrawn_at.is_(None),
                    )
                )
                .values(withdrawn_at=now, withdrawn_by=actor.username)
            )
            erased = [
                r.field
                for r in self.uow.connection.execute(
                    select(health_values.c.field).where(health_values.c.person_id == person_id)
                )
            ]
            self.uow.connection.execute(
                delete(health_values).where(health_values.c.person_id == person_id)
            )
            # The history keeps that a value existed and when it was erased, not the value.
            self.uow.connection.execute(
                update(record_changes)
                .where(
                    and_(
                        record_changes.c.subject_id == person_id, record_changes.c.sealed.is_(True)
                    )
                )
                .values(old_value=None, new_value=None)
            )
            if erased:
                self.uow.connection.execute(
                    insert(record_changes),
                    [
                        {
                            "subject_type": "person",
                            "subject_id": person_id,
                            "field": name,
                            "old_value": None,
                            "new_value": None,
                            "sealed": True,
                            "changed_at": now,
                            "actor": actor.username,
                            "role": actor.role.value,
                            "reason": "erased: health consent withdrawn",
                            "correction_id": None,
                        }
                        for name in erased
                    ],
                )
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_CONSENT_WITHDRAW,
                        "person",
                        person_id,
                        tuple(erased),
                    )
                ],
            )
            self.uow.commit()
        return len(erased)

    def _require_person(self, person_id: str) -> Any:
        row = self.uow.connection.execute(
            select(people.c.id, people.c.household_id).where(people.c.id == person_id)
        ).first()
        if row is None:
            raise UnknownPerson(person_id)
        return row

    # ---- corrections --------------------------------------------------------------------

    def request_correction(
        self, actor: Actor, person_id: str, field: str, value: Any, reason: str
    ) -> CorrectionRequest:
        """A person (or a caseworker for them) asks for a field to be corrected."""
        authorize(
            self.uow,
            actor,
            REQUEST_CORRECTION,
            "person",
            person_id,
            Tag.REGISTRY_CORRECTION_REQUEST,
            own_person_ids=frozenset({person_id}),
        )
        reason = require_reason(reason)
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            self._require_person(person_id)
            parsed = catalogue.parse_values(Entity.PERSON, {field: value}, partial=True)
            definition = _definition(catalogue, field)
            stored = (
                None
                if parsed[field] is None
                else (
                    self.cipher.seal(
                        _to_json(definition.to_storage(parsed[field])),
                        f"{person_id}:{field}:correction",
                    )
                    if definition.is_health
                    else _to_json(definition.to_storage(parsed[field]))
                )
            )
            request = CorrectionRequest(
                new_id(),
                person_id,
                field,
                parsed[field],
                reason,
                CorrectionStatus.OPEN,
                actor.username,
                utc_now().isoformat(timespec="seconds"),
                None,
                None,
            )
            self.uow.connection.execute(
                insert(correction_requests).values(
                    id=request.id,
                    person_id=person_id,
                    field=field,
                    requested_value=stored,
                    sealed=definition.is_health,
                    reason=reason,
                    status=CorrectionStatus.OPEN,
                    requested_by=actor.username,
                    requested_at=utc_now(),
                )
            )
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_CORRECTION_REQUEST,
                        "person",
                        person_id,
                        (field,),
                    )
                ],
            )
            self.uow.commit()
        return request

    def corrections(
        self,
        actor: Actor,
        *,
        person_id: str | None = None,
        status: str | None = CorrectionStatus.OPEN,
    ) -> list[CorrectionRequest]:
        """Correction requests: a citizen sees their own; caseworkers the queue."""
        if actor.role is Role.CITIZEN:
            authorize(
                self.uow,
                actor,
                REQUEST_CORRECTION,
                "person",
                person_id or "queue",
                Tag.REGISTRY_CORRECTION_REQUEST,
                own_person_ids=frozenset({person_id or ""}),
            )
        else:
            authorize(
                self.uow,
                actor,
                DECIDE_CORRECTION | REQUEST_CORRECTION,
                "person",
                person_id or "queue",
                Tag.REGISTRY_CORRECTION_REQUEST,
            )
        query = select(correction_requests).order_by(correction_requests.c.requested_at)
        if person_id:
            query = query.where(correction_requests.c.person_id == person_id)
        if status:
            query = query.where(correction_requests.c.status == status)
        with self.uow:
            rows = self.uow.connection.execute(query.limit(500)).all()
            result = [self._correction(row, actor.sees_health) for row in rows]
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_CORRECTION_REQUEST,
                        "person",
                        r.person_id,
                        (r.field,),
                    )
                    for r in result
                ],
            )
            self.uow.commit()
        return result

    def _correction(self, row: Any, with_health: bool) -> CorrectionRequest:
        value: Any = None
        if row.requested_value is not None:
            if row.sealed:
                value = (
                    json.loads(
                        self.cipher.open(
                            row.requested_value, f"{row.person_id}:{row.field}:correction"
                        )
                    )
                    if with_health
                    else "(health value hidden for this purpose)"
                )
            else:
                value = json.loads(row.requested_value)
        return CorrectionRequest(
            row.id,
            row.person_id,
            row.field,
            value,
            row.reason,
            row.status,
            row.requested_by,
            as_utc(row.requested_at).isoformat(timespec="seconds"),
            row.decided_by,
            row.decision_reason,
        )

    def decide_correction(
        self, actor: Actor, correction_id: str, apply: bool, reason: str
    ) -> CorrectionRequest:
        """Apply or reject an open correction request, with a reason; logged and recorded."""
        reason = require_reason(reason)
        with self.uow:
            row = self.uow.connection.execute(
                select(correction_requests).where(correction_requests.c.id == correction_id)
            ).first()
        if row is None:
            raise UnknownCorrection(correction_id)
        authorize(
            self.uow,
            actor,
            DECIDE_CORRECTION,
            "person",
            row.person_id,
            Tag.REGISTRY_CORRECTION_DECIDE,
        )
        if row.status != CorrectionStatus.OPEN:
            raise Conflict(f"correction {correction_id} was already {row.status}")
        with self.uow:
            if apply:
                catalogue = catalogue_services.load(self.uow)
                value = self._correction(row, True).requested_value
                definition = _definition(catalogue, row.field)
                raw = definition.to_storage(definition.from_storage(value))
                self._apply_person_changes(
                    actor,
                    row.person_id,
                    {row.field: raw},
                    f"correction request: {reason}",
                    correction_id,
                    None,
                )
            status = CorrectionStatus.APPLIED if apply else CorrectionStatus.REJECTED
            changed = self.uow.connection.execute(
                update(correction_requests)
                .where(
                    and_(
                        correction_requests.c.id == correction_id,
                        correction_requests.c.status == CorrectionStatus.OPEN,
                    )
                )
                .values(
                    status=status,
                    decided_by=actor.username,
                    decided_at=utc_now(),
                    decision_reason=reason,
                )
            )
            if changed.rowcount != 1:
                raise Conflict(f"correction {correction_id} was decided by someone else")
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_CORRECTION_DECIDE,
                        "person",
                        row.person_id,
                        (row.field,),
                    )
                ],
            )
            self.uow.commit()
        with self.uow:
            final = self.uow.connection.execute(
                select(correction_requests).where(correction_requests.c.id == correction_id)
            ).one()
            return self._correction(final, actor.sees_health)

    # ---- the person's own view ----------------------------------------------------------

    def export(self, actor: Actor, person_id: str) -> dict[str, Any]:
        """Everything held about the person, as JSON-ready data, with each field's purpose."""
        authorize(
            self.uow,
            actor,
            EXPORT,
            "person",
            person_id,
            Tag.REGISTRY_PERSON_EXPORT,
            own_person_ids=frozenset({person_id}),
        )
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            person = self._load_person(catalogue, person_id, with_health=True)
            household = self._load_household(catalogue, person.household_id)
            members = self.uow.connection.execute(
                select(people.c.id, people.c.given_names, people.c.relationship_to_head).where(
                    people.c.household_id == person.household_id
                )
            ).all()

            def described(entity: Entity, values: dict[str, Any]) -> list[dict[str, Any]]:
                out = []
                for name, value in values.items():
                    definition = _definition(catalogue, name, entity)
                    out.append(
                        {
                            "field": name,
                            "label": definition.label,
                            "value": definition.to_storage(value),
                            "purpose": definition.purpose,
                            "sensitivity": definition.sensitivity.value,
                            "programmes": list(definition.programmes),
                        }
                    )
                return out

            data = {
                "person_id": person.id,
                "record_ref": person.record_ref,
                "fields": described(Entity.PERSON, {**person.values, **person.health}),
                "household": {
                    "household_id": household.id,
                    "fields": described(Entity.HOUSEHOLD, household.values),
                    "members": [
                        {
                            "person_id": m.id,
                            "given_names": m.given_names,
                            "relationship_to_head": m.relationship_to_head,
                        }
                        for m in members
                    ],
                },
                "consents": [
                    {
                        "scope": c.scope,
                        "method": c.method,
                        "granted_at": as_utc(c.granted_at).isoformat(timespec="seconds"),
                        "withdrawn_at": None
                        if c.withdrawn_at is None
                        else as_utc(c.withdrawn_at).isoformat(timespec="seconds"),
                    }
                    for c in self.uow.connection.execute(
                        select(consents).where(consents.c.person_id == person_id)
                    )
                ],
                "income_history": [
                    {
                        "monthly_income": str(r.monthly_income),
                        "effective_from": r.effective_from.isoformat(),
                    }
                    for r in self.uow.connection.execute(
                        select(income_records)
                        .where(income_records.c.person_id == person_id)
                        .order_by(income_records.c.id)
                    )
                ],
                "history": [e.__dict__ for e in self._history_entries(catalogue, person_id, True)],
                "correction_requests": [
                    self._correction(r, True).__dict__
                    for r in self.uow.connection.execute(
                        select(correction_requests).where(
                            correction_requests.c.person_id == person_id
                        )
                    )
                ],
                "access_log": [
                    line.__dict__
                    for line in audit.access_report(self.uow, [person_id, person.household_id])
                ],
            }
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.REGISTRY_PERSON_EXPORT,
                        "person",
                        person_id,
                        tuple([*person.values, *person.health]),
                    )
                ],
            )
            self.uow.commit()
        exported: dict[str, Any] = _jsonable(data)
        return exported

    def access_report(self, actor: Actor, person_id: str) -> list[audit.AccessReportLine]:
        """Who read or changed this person's record (or their household's), when and why."""
        authorize(
            self.uow,
            actor,
            ACCESS_REPORT,
            "person",
            person_id,
            Tag.AUDIT_REPORT_READ,
            own_person_ids=frozenset({person_id}),
        )
        with self.uow:
            row = self._require_person(person_id)
            lines = audit.access_report(self.uow, [person_id, row.household_id])
            audit.record(
                self.uow,
                [
                    access_request(
                        actor,
                        Tag.AUDIT_REPORT_READ,
                        "person",
                        person_id,
                        ("access_log",),
                    )
                ],
            )
            self.uow.commit()
        return lines

    def _request(
        self, actor: Actor, tag: Tag, subject_type: str, subject_id: str, values: dict[str, Any]
    ) -> AccessRequest:
        return access_request(
            actor,
            tag,
            subject_type,
            subject_id,
            tuple(n for n, v in values.items() if v is not None),
        )


def _definition(catalogue: Catalogue, name: str, entity: Entity = Entity.PERSON) -> FieldDefinition:
    definition = catalogue.get(entity, name)
    assert definition is not None, f"{name} passed catalogue validation but is not declared"
    return definition


def _split(
    catalogue: Catalogue, entity: Entity, values: dict[str, Any], core_columns: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Core values go to their columns; custom ones to the JSON `extra` column."""
    core = {n: v for n, v in values.items() if n in core_columns}
    extra = {
        n: _definition(catalogue, n, entity).to_storage(v)
        for n, v in values.items()
        if n not in core_columns
    }
    return core, extra


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
