"""The registry as DuckDB relations, for evaluating compiled rules in batch.

Only what a programme declared is loaded: its person and household fields, and health values
only for the health fields it declares (opened here, one access-log entry per person by the
caller). Derived facts are computed once, the same way for every rule:

- `people(person_id, household_id, <declared person fields>, age)`, age in completed years on
  the reference date;
- `households(household_id, <declared household fields>, size, total_income,
  income_per_person)`, income per person rounded half up to the cent;
- `enrolments(programme, subject_id)`, the current enrolments of the programmes a rule names;
- `person_profiles` and `household_profiles`, the columns simulation breakdowns group by
  (region, sex, age, household size); compiled rules never read them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Select, select

from fairshare.catalogue.model import Catalogue, Entity, FieldDefinition, FieldType
from fairshare.db import UnitOfWork
from fairshare.dedup.orm import dedup_merges
from fairshare.keys import FieldCipher
from fairshare.registry.orm import health_values, households, people

BATCH_ROWS = 50_000
_ALWAYS_LOADED = frozenset({"date_of_birth", "sex", "relationship_to_head", "monthly_income"})


@dataclass
class RegistryFacts:
    """An in-process DuckDB database holding the relations compiled rules select from."""

    connection: duckdb.DuckDBPyConnection
    people: int
    households: int
    # person id → health fields whose sealed values were opened for this load
    health_read: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def rows(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> Iterator[Any]:
        """The rows of a query, fetched in batches so a large registry streams through."""
        cursor = self.connection.execute(sql, parameters)
        while batch := cursor.fetchmany(BATCH_ROWS):
            yield from batch

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> RegistryFacts:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def arrow_type(definition: FieldDefinition) -> pa.DataType:
    """The typed column a catalogue field becomes, so rules compare numbers as numbers."""
    return {
        FieldType.TEXT: pa.string(),
        FieldType.ENUMERATION: pa.string(),
        FieldType.INTEGER: pa.int64(),
        FieldType.DECIMAL: pa.decimal128(18, definition.scale),
        FieldType.DATE: pa.date32(),
        FieldType.BOOLEAN: pa.bool_(),
    }[definition.type]


def split_fields(
    catalogue: Catalogue, names: Iterable[str]
) -> tuple[list[FieldDefinition], list[FieldDefinition], list[FieldDefinition]]:
    """Declared fields as (person fields held in the clear, person health fields, household)."""
    plain: list[FieldDefinition] = []
    health: list[FieldDefinition] = []
    household: list[FieldDefinition] = []
    for name in sorted(set(names)):
        person_field = catalogue.get(Entity.PERSON, name)
        if person_field is not None:
            (health if person_field.is_health else plain).append(person_field)
            continue
        household_field = catalogue.get(Entity.HOUSEHOLD, name)
        if household_field is not None:
            household.append(household_field)
    return plain, health, household


def load_registry(
    uow: UnitOfWork,
    cipher: FieldCipher,
    catalogue: Catalogue,
    *,
    fields: Collection[str],
    reference_date: date,
    enrolments: Iterable[tuple[str, str]] = (),
) -> RegistryFacts:
    """Copy the registry's declared facts into a fresh DuckDB database. Caller owns the uow.

    `enrolments` are (programme, subject id) pairs for the programmes the rule may name.
    Raises SealedValueError if a health value does not open with the keys at hand.
    """
    plain, health, household_fields = split_fields(catalogue, fields)
    opened = _health(uow, cipher, catalogue, [d.name for d in health])
    connection = duckdb.connect(":memory:")
    try:
        person_table = _people_table(uow, plain, health, opened)
        household_table = _household_table(uow, household_fields)
        connection.register("registry_people", person_table)
        connection.register("registry_households", household_table)
        _derive(connection, plain + health, household_fields, reference_date)
        connection.register(
            "registry_enrolments",
            pa.table(
                {
                    "programme": pa.array([p for p, _ in enrolments], pa.string()),
                    "subject_id": pa.array([s for _, s in enrolments], pa.string()),
                }
            ),
        )
        connection.execute("CREATE TABLE enrolments AS SELECT * FROM registry_enrolments")
        for name in ("registry_people", "registry_households", "registry_enrolments"):
            connection.unregister(name)
    except BaseException:
        connection.close()
        raise
    health_read = {
        person_id: tuple(sorted(values)) for person_id, values in opened.items() if values
    }
    return RegistryFacts(connection, person_table.num_rows, household_table.num_rows, health_read)


def _health(
    uow: UnitOfWork, cipher: FieldCipher, catalogue: Catalogue, names: list[str]
) -> dict[str, dict[str, Any]]:
    """Open the sealed values of the declared health fields, and of no other field."""
    if not names:
        return {}
    values: dict[str, dict[str, Any]] = {}
    query = select(health_values.c.person_id, health_values.c.field, health_values.c.sealed).where(
        health_values.c.field.in_(names)
    )
    for row in uow.connection.execute(query.execution_options(yield_per=BATCH_ROWS)):
        definition = catalogue.require(Entity.PERSON, row.field)
        plain = cipher.open(row.sealed, f"{row.person_id}:{row.field}")
        values.setdefault(row.person_id, {})[row.field] = definition.from_storage(json.loads(plain))
    return values


def _batches(uow: UnitOfWork, query: Select[Any]) -> Iterator[list[Any]]:
    result = uow.connection.execute(query.execution_options(yield_per=BATCH_ROWS))
    for partition in result.partitions(BATCH_ROWS):
        yield list(partition)


def _value(definition: FieldDefinition, row: Any, extra: dict[str, Any] | None) -> Any:
    if definition.core:
        return definition.from_storage(getattr(row, definition.name))
    return definition.from_storage((extra or {}).get(definition.name))


def _people_table(
    uow: UnitOfWork,
    plain: list[FieldDefinition],
    health: list[FieldDefinition],
    opened: dict[str, dict[str, Any]],
) -> pa.Table:
    core = [d for d in plain if d.core]
    wants_extra = any(not d.core for d in plain)
    columns = [
        people.c.id,
        people.c.household_id,
        people.c.date_of_birth,
        people.c.sex,
        people.c.relationship_to_head,
        people.c.monthly_income,
        *[people.c[d.name] for d in core if d.name not in _ALWAYS_LOADED],
    ]
    if wants_extra:
        columns.append(people.c.extra)
    schema = pa.schema(
        [
            ("person_id", pa.string()),
            ("household_id", pa.string()),
            ("date_of_birth", pa.date32()),
            ("profile_sex", pa.string()),
            ("profile_is_head", pa.bool_()),
            ("income_for_household", pa.decimal128(18, 2)),
            *[(d.name, arrow_type(d)) for d in plain + health if d.name != "date_of_birth"],
        ]
    )
    batches = []
    # A record merged into its survivor by deduplication is the same person counted twice:
    # it is left out, so nobody is decided about (and paid) once per registration.
    merged = select(dedup_merges.c.merged_id).where(dedup_merges.c.unmerged_at.is_(None))
    query = select(*columns).where(people.c.id.not_in(merged)).order_by(people.c.id)
    for rows in _batches(uow, query):
        data: dict[str, list[Any]] = {
            "person_id": [r.id for r in rows],
            "household_id": [r.household_id for r in rows],
            "date_of_birth": [r.date_of_birth for r in rows],
            "profile_sex": [r.sex for r in rows],
            "profile_is_head": [r.relationship_to_head == "head" for r in rows],
            "income_for_household": [r.monthly_income for r in rows],
        }
        extras = [json.loads(r.extra) for r in rows] if wants_extra else [None] * len(rows)
        for definition in plain:
            if definition.name == "date_of_birth":
                continue
            data[definition.name] = [
                _value(definition, r, e) for r, e in zip(rows, extras, strict=True)
            ]
        for definition in health:
            data[definition.name] = [opened.get(r.id, {}).get(definition.name) for r in rows]
        batches.append(pa.record_batch([data[n] for n in schema.names], schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _household_table(uow: UnitOfWork, fields: list[FieldDefinition]) -> pa.Table:
    core = [d for d in fields if d.core and d.name != "region"]
    wants_extra = any(not d.core for d in fields)
    columns = [households.c.id, households.c.region, *[households.c[d.name] for d in core]]
    if wants_extra:
        columns.append(households.c.extra)
    schema = pa.schema(
        [
            ("household_id", pa.string()),
            ("profile_region", pa.string()),
            *[(d.name, arrow_type(d)) for d in fields],
        ]
    )
    batches = []
    for rows in _batches(uow, select(*columns).order_by(households.c.id)):
        extras = [json.loads(r.extra) for r in rows] if wants_extra else [None] * len(rows)
        data: dict[str, list[Any]] = {
            "household_id": [r.id for r in rows],
            "profile_region": [r.region for r in rows],
        }
        for definition in fields:
            data[definition.name] = [
                _value(definition, r, e) for r, e in zip(rows, extras, strict=True)
            ]
        batches.append(pa.record_batch([data[n] for n in schema.names], schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _quoted(name: str) -> str:
    # Catalogue names are already [a-z][a-z0-9_]*; quoting keeps reserved words usable.
    return '"' + name.replace('"', '""') + '"'


def _derive(
    connection: duckdb.DuckDBPyConnection,
    person_fields: list[FieldDefinition],
    household_fields: list[FieldDefinition],
    reference_date: date,
) -> None:
    person_columns = "".join(f", {_quoted(d.name)}" for d in person_fields)
    household_columns = "".join(f", h.{_quoted(d.name)}" for d in household_fields)
    connection.execute(
        f"""
        CREATE TABLE person_profiles AS
        SELECT person_id, household_id, profile_sex AS sex, profile_is_head AS is_head,
               income_for_household,
               CAST(year($reference) - year(date_of_birth)
                    - CASE WHEN month($reference) * 100 + day($reference)
                                < month(date_of_birth) * 100 + day(date_of_birth)
                           THEN 1 ELSE 0 END AS INTEGER) AS age
                   {person_columns}
        FROM registry_people
        """,  # noqa: S608 - column names come from the catalogue pattern, values are parameters
        {"reference": reference_date},
    )
    connection.execute(
        f"""
        CREATE TABLE people AS
        SELECT person_id, household_id {person_columns}, age FROM person_profiles
        """  # noqa: S608 - catalogue column names only
    )
    # Incomes are summed in cents and divided in integers, so a household's income per person
    # is exact to the cent (half up) on every database, never a binary fraction.
    connection.execute(
        f"""
        CREATE TABLE household_profiles AS
        SELECT h.household_id, h.profile_region AS region,
               CAST(coalesce(m.size, 0) AS INTEGER) AS size,
               coalesce(m.total_cents, 0) AS total_cents,
               head.sex AS head_sex, head.age AS head_age
               {household_columns}
        FROM registry_households h
        LEFT JOIN (
            SELECT household_id, count(*) AS size,
                   CAST(sum(coalesce(income_for_household, 0) * 100) AS BIGINT) AS total_cents
            FROM person_profiles GROUP BY household_id
        ) m ON m.household_id = h.household_id
        LEFT JOIN (
            SELECT household_id, any_value(sex) AS sex, any_value(age) AS age
            FROM person_profiles WHERE is_head GROUP BY household_id
        ) head ON head.household_id = h.household_id
        """  # noqa: S608 - catalogue column names only
    )
    household_plain = "".join(f", {_quoted(d.name)}" for d in household_fields)
    connection.execute(
        f"""
        CREATE TABLE households AS
        SELECT household_id {household_plain}, size,
               CAST(CAST(total_cents AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(14, 2))
                   AS total_income,
               CAST(CAST(CASE WHEN size = 0 THEN 0
                              ELSE (total_cents * 2 + size) // (2 * size) END
                         AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(14, 2)) AS income_per_person
        FROM household_profiles
        WHERE size > 0  -- a household left empty by merges has nobody to decide about
        """  # noqa: S608 - catalogue column names only
    )
