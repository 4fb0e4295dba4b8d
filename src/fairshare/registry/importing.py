"""Bulk import of people and households from CSV or Parquet, through the catalogue.

Validation comes first and covers the whole file; the report lists every problem by row and
field. A file with errors imports nothing, unless the caller asks to skip invalid rows, which
are then written to a file of their own. The import is one transaction: it lands whole or not
at all, with its access-log entries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import select

from fairshare.audit import services as audit
from fairshare.audit.model import AccessRequest, Tag, utc_now
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import (
    CORE_HOUSEHOLD_COLUMNS,
    CORE_PERSON_COLUMNS,
    TRUE_WORDS,
    Catalogue,
    Entity,
    FieldValueError,
    clean_text,
)
from fairshare.catalogue.redline import check_field
from fairshare.db import UnitOfWork, bulk_insert
from fairshare.errors import InvalidInput
from fairshare.identity.guard import authorize
from fairshare.identity.model import Actor, Purpose
from fairshare.ids import new_id
from fairshare.keys import FieldCipher
from fairshare.registry.model import HEALTH_SCOPE, name_key
from fairshare.registry.orm import consents, health_values, households, income_records, people

RECORD_REF, HOUSEHOLD_REF, HEALTH_CONSENT = "record_ref", "household_ref", "health_consent"
RESERVED_COLUMNS = (RECORD_REF, HOUSEHOLD_REF, HEALTH_CONSENT)
MAX_REPORTED_ERRORS = 10_000
BATCH_SIZE = 5_000
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row (the CSV header is not counted)
    field: str
    reason: str

    def describe(self) -> str:
        return f"row {self.row}, {self.field}: {self.reason}"


@dataclass
class ImportReport:
    rows: int
    people: int = 0
    households: int = 0
    rejected_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected_path: Path | None = None
    dry_run: bool = False


class ImportRejected(InvalidInput):
    """The file has invalid rows; nothing was imported."""

    def __init__(self, errors: list[RowError], rows_with_errors: int, rows: int) -> None:
        shown = "; ".join(e.describe() for e in errors[:5])
        super().__init__(
            f"{rows_with_errors} of {rows} rows are invalid, so nothing was imported. "
            f"First problems: {shown}. Fix them, or import with --skip-invalid to import the "
            "valid rows and write the rejected ones to a file.",
            errors=[
                {"row": e.row, "field": e.field, "reason": e.reason}
                for e in errors[:MAX_REPORTED_ERRORS]
            ],
        )
        self.row_errors = errors


def read_table(path: Path, column_map: dict[str, str] | None = None) -> pa.Table:
    """Read a CSV or Parquet file as text columns, renaming columns per `column_map`.

    Raises InvalidInput for a missing, unreadable or unknown-format file.
    """
    if not path.exists():
        raise InvalidInput(f"{path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open("rb") as handle:
                header = handle.readline().decode("utf-8-sig").strip().split(",")
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={name.strip('"'): pa.string() for name in header},
                    strings_can_be_null=True,
                    # Only an empty cell is missing: "NA", "null", "N/A" are kept as text,
                    # as they are from Parquet (pyarrow's defaults would drop them).
                    null_values=[""],
                ),
            )
        elif suffix in (".parquet", ".pq"):
            table = pq.read_table(path)
            table = pa.table(
                {name: table.column(name).cast(pa.string()) for name in table.column_names}
            )
        else:
            raise InvalidInput(f"{path.name}: use a .csv or .parquet file")
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as error:
        raise InvalidInput(f"{path.name} could not be read: {error}") from None
    if column_map:
        missing = sorted(set(column_map) - set(table.column_names))
        if missing:
            raise InvalidInput(f"the column mapping names columns not in the file: {missing}")
        table = table.rename_columns([column_map.get(n, n) for n in table.column_names])
    return table


class Importer:
    """Validates a whole file, then imports it in one transaction."""

    def __init__(self, uow: UnitOfWork, cipher: FieldCipher) -> None:
        self.uow = uow
        self.cipher = cipher

    def import_table(
        self,
        actor: Actor,
        table: pa.Table,
        *,
        skip_invalid: bool = False,
        rejected_path: Path | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        source: str = "file",
    ) -> ImportReport:
        """Import rows; returns the report.

        Raises ImportRejected (invalid rows and not skip_invalid), InvalidInput (unknown
        columns, empty file), PurposeNotAllowed. Nothing is written when it raises.
        """
        authorize(
            self.uow,
            actor,
            frozenset({Purpose.BULK_REGISTRATION, Purpose.REGISTRATION}),
            "import",
            source,
            Tag.REGISTRY_IMPORT_CREATE,
        )
        progress = progress or (lambda _stage, _done, _total: None)
        rows = table.num_rows
        if rows == 0:
            raise InvalidInput("the file has no rows to import")
        with self.uow:
            catalogue = catalogue_services.load(self.uow)
            columns = self._check_columns(catalogue, table.column_names)
            data = {name: table.column(name).to_pylist() for name in table.column_names}
            plan = _Validation(catalogue, data, rows, columns)
            plan.run(progress)
            self._check_existing(plan)
            bad_rows = plan.rejected_rows()
            report = ImportReport(
                rows=rows,
                errors=sorted(plan.errors, key=lambda e: (e.row, e.field)),
                rejected_rows=len(bad_rows),
                dry_run=dry_run,
            )
            if bad_rows and not skip_invalid:
                raise ImportRejected(report.errors, len(bad_rows), rows)
            if bad_rows and rejected_path is not None:
                _write_rejected(rejected_path, table, bad_rows, plan.errors)
                report.rejected_path = rejected_path
            if dry_run:
                report.people = rows - len(bad_rows)
                report.households = len(
                    {plan.household_key(i) for i in range(rows) if i not in bad_rows}
                )
                return report
            report.people, report.households = self._write(actor, plan, bad_rows, progress, source)
            self.uow.commit()
        return report

    def _check_columns(self, catalogue: Catalogue, names: list[str]) -> dict[str, Entity]:
        columns: dict[str, Entity] = {}
        unknown = []
        for name in names:
            if name in RESERVED_COLUMNS:
                continue
            if catalogue.get(Entity.PERSON, name):
                columns[name] = Entity.PERSON
            elif catalogue.get(Entity.HOUSEHOLD, name):
                columns[name] = Entity.HOUSEHOLD
            else:
                unknown.append(name)
        for name in unknown:
            check_field(name)  # a refused category is named as such, not merely "unknown"
        if unknown:
            raise InvalidInput(
                f"column(s) not declared in the data catalogue: {', '.join(sorted(unknown))}. "
                "Map them to declared fields (--map source=field), drop them, or have an "
                "administrator declare them; nothing was imported.",
                errors=[
                    {"field": n, "reason": "not declared in the data catalogue"} for n in unknown
                ],
            )
        missing = [d.name for d in catalogue.fields.values() if d.required and d.name not in names]
        if missing:
            raise InvalidInput(
                f"required column(s) missing: {', '.join(sorted(missing))}; nothing was imported",
                errors=[{"field": n, "reason": "required column missing"} for n in missing],
            )
        return columns

    def _check_existing(self, plan: _Validation) -> None:
        """References already in the registry are errors: re-importing would duplicate."""
        for column, table_column, what in (
            (RECORD_REF, people.c.record_ref, "record"),
            (HOUSEHOLD_REF, households.c.household_ref, "household"),
        ):
            values = plan.data.get(column)
            if not values:
                continue
            wanted = sorted({v for v in values if v})
            existing: set[str] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                existing.update(
                    r[0]
                    for r in self.uow.connection.execute(
                        select(table_column).where(table_column.in_(chunk))
                    )
                )
            if existing:
                for index, value in enumerate(values):
                    if value in existing:
                        plan.error(
                            index,
                            column,
                            f"{what} reference {value!r} is already "
                            "registered (was this file imported before?)",
                        )

    def _write(
        self, actor: Actor, plan: _Validation, bad_rows: set[int], progress: Progress, source: str
    ) -> tuple[int, int]:
        now = utc_now()
        catalogue = plan.catalogue
        household_ids: dict[str, str] = {}
        household_rows: list[dict[str, Any]] = []
        person_rows: list[dict[str, Any]] = []
        health_rows: list[dict[str, Any]] = []
        consent_rows: list[dict[str, Any]] = []
        income_rows: list[dict[str, Any]] = []
        log: list[AccessRequest] = []
        who = (actor.username, actor.role.value, actor.purpose.value)
        total = plan.rows - len(bad_rows)
        done = 0
        for index in range(plan.rows):
            if index in bad_rows:
                continue
            key = plan.household_key(index)
            household_id = household_ids.get(key)
            if household_id is None:
                household_id = household_ids[key] = new_id()
                values = plan.values(index, Entity.HOUSEHOLD)
                core = {n: values.get(n) for n in CORE_HOUSEHOLD_COLUMNS}
                extra = {
                    n: catalogue.require(Entity.HOUSEHOLD, n).to_storage(v)
                    for n, v in values.items()
                    if n not in CORE_HOUSEHOLD_COLUMNS
                }
                household_rows.append(
                    {
                        "id": household_id,
                        "household_ref": plan.cell(HOUSEHOLD_REF, index),
                        "extra": json.dumps(extra),
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                        **core,
                    }
                )
                log.append(
                    AccessRequest(
                        *who,
                        Tag.REGISTRY_HOUSEHOLD_CREATE,
                        "household",
                        household_id,
                        tuple(n for n, v in values.items() if v is not None),
                    )
                )
            person_id = new_id()
            values = plan.values(index, Entity.PERSON)
            core = {n: values.get(n) for n in CORE_PERSON_COLUMNS}
            extra = {}
            for name, value in values.items():
                definition = catalogue.get(Entity.PERSON, name)
                assert definition is not None
                if definition.is_health:
                    if value is not None:
                        health_rows.append(
                            {
                                "person_id": person_id,
                                "field": name,
                                "sealed": self.cipher.seal(
                                    json.dumps(definition.to_storage(value)), f"{person_id}:{name}"
                                ),
                            }
                        )
                elif name not in CORE_PERSON_COLUMNS:
                    extra[name] = definition.to_storage(value)
            person_rows.append(
                {
                    "id": person_id,
                    "record_ref": plan.cell(RECORD_REF, index),
                    "name_key": name_key(values.get("given_names"), values.get("family_names")),
                    "household_id": household_id,
                    "extra": json.dumps(extra, ensure_ascii=False),
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    **core,
                }
            )
            if plan.consent(index):
                consent_rows.append(
                    {
                        "id": new_id(),
                        "person_id": person_id,
                        "scope": HEALTH_SCOPE,
                        "method": f"recorded in import {source}"[:80],
                        "granted_at": now,
                        "granted_by": actor.username,
                    }
                )
            if values.get("monthly_income") is not None:
                income_rows.append(
                    {
                        "person_id": person_id,
                        "monthly_income": values["monthly_income"],
                        "effective_from": now.date(),
                        "recorded_at": now,
                        "recorded_by": actor.username,
                    }
                )
            log.append(
                AccessRequest(
                    *who,
                    Tag.REGISTRY_PERSON_CREATE,
                    "person",
                    person_id,
                    tuple(n for n, v in values.items() if v is not None),
                )
            )
            done += 1
            if len(person_rows) >= BATCH_SIZE:
                self._flush(household_rows, person_rows, health_rows, consent_rows, income_rows)
                progress("import", done, total)
        self._flush(household_rows, person_rows, health_rows, consent_rows, income_rows)
        progress("import", done, total)
        log.append(
            AccessRequest(
                *who, Tag.REGISTRY_IMPORT_CREATE, "import", source[:64], tuple(sorted(plan.columns))
            )
        )
        for start in range(0, len(log), BATCH_SIZE * 4):
            audit.record(self.uow, log[start : start + BATCH_SIZE * 4])
            progress("access log", min(start + BATCH_SIZE * 4, len(log)), len(log))
        return done, len(household_ids)

    def _flush(self, *batches: list[dict[str, Any]]) -> None:
        for table, batch in zip(
            (households, people, health_values, consents, income_records), batches, strict=True
        ):
            if batch:
                bulk_insert(self.uow.connection, table, batch)
                batch.clear()


class _Validation:
    """Parses every cell through the catalogue and checks the rows against each other."""

    def __init__(
        self,
        catalogue: Catalogue,
        data: dict[str, list[Any]],
        rows: int,
        columns: dict[str, Entity],
    ) -> None:
        self.catalogue = catalogue
        self.data = data
        self.rows = rows
        self.columns = columns
        self.parsed: dict[str, list[Any]] = {}
        self.errors: list[RowError] = []
        self._bad: set[int] = set()

    def error(self, index: int, column: str, reason: str) -> None:
        self._bad.add(index)
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(index + 1, column, reason))

    def rejected_rows(self) -> set[int]:
        return set(self._bad)

    def cell(self, column: str, index: int) -> Any:
        values = self.data.get(column)
        return None if values is None else values[index]

    def household_key(self, index: int) -> str:
        return self.cell(HOUSEHOLD_REF, index) or f"row:{index}"

    def consent(self, index: int) -> bool:
        raw = self.cell(HEALTH_CONSENT, index)
        return raw is not None and str(raw).strip().lower() in TRUE_WORDS

    def values(self, index: int, entity: Entity) -> dict[str, Any]:
        return {name: self.parsed[name][index] for name, e in self.columns.items() if e is entity}

    def run(self, progress: Progress) -> None:
        for number, (name, entity) in enumerate(self.columns.items(), start=1):
            definition = self.catalogue.get(entity, name)
            assert definition is not None
            parse = definition.parse
            out: list[Any] = []
            for index, raw in enumerate(self.data[name]):
                try:
                    out.append(parse(raw))
                except FieldValueError as error:
                    out.append(None)
                    self.error(index, name, str(error))
            self.parsed[name] = out
            progress("validate", number, len(self.columns))
        self._check_references()
        self._check_consent()
        self._check_households()

    def _check_references(self) -> None:
        for column in (RECORD_REF, HOUSEHOLD_REF):
            values = self.data.get(column)
            if values is None:
                continue
            for index, value in enumerate(values):
                if value is None:
                    continue
                try:
                    cleaned = clean_text(value, max_length=64)
                except FieldValueError as error:
                    self.error(index, column, str(error))
                    continue
                values[index] = cleaned or None
        refs = self.data.get(RECORD_REF)
        if refs is not None:
            first: dict[str, int] = {}
            for index, value in enumerate(refs):
                if value is None:
                    continue
                if value in first:
                    self.error(
                        index, RECORD_REF, f"repeats the reference of row {first[value] + 1}"
                    )
                else:
                    first[value] = index

    def _check_consent(self) -> None:
        health = [
            n
            for n, e in self.columns.items()
            if e is Entity.PERSON and self.catalogue.require(e, n).is_health
        ]
        if not health:
            return
        for index in range(self.rows):
            if self.consent(index):
                continue
            for name in health:
                if self.parsed[name][index] is not None:
                    self.error(
                        index,
                        name,
                        "health values need health_consent=true (the "
                        "person's recorded consent); leave the value empty otherwise",
                    )

    def _check_households(self) -> None:
        members: dict[str, list[int]] = defaultdict(list)
        for index in range(self.rows):
            members[self.household_key(index)].append(index)
        household_columns = [n for n, e in self.columns.items() if e is Entity.HOUSEHOLD]
        has_relationship = "relationship_to_head" in self.parsed
        for key, indexes in members.items():
            first = indexes[0]
            for index in indexes[1:]:
                for name in household_columns:
                    # Compared as written: a value invalid in the first row is reported
                    # there once, not again as a disagreement on every other row.
                    if _as_written(self.data[name][index]) != _as_written(self.data[name][first]):
                        self.error(
                            index,
                            name,
                            f"differs from row {first + 1} of the same "
                            f"household ({key}); household fields must agree",
                        )
            if not has_relationship:
                continue
            heads = [i for i in indexes if self.parsed["relationship_to_head"][i] == "head"]
            if not heads:
                for index in indexes:
                    self.error(
                        index,
                        "relationship_to_head",
                        f"household {key} has no member whose relationship is 'head'",
                    )
            for extra in heads[1:]:
                self.error(
                    extra,
                    "relationship_to_head",
                    f"household {key} already has a head (row {heads[0] + 1})",
                )
        # A household whose only head row is rejected cannot be imported without it; with a
        # second head flagged, the first (valid) head still carries the household.
        for indexes in members.values():
            if any(i in self._bad for i in indexes) and has_relationship:
                heads = [i for i in indexes if self.parsed["relationship_to_head"][i] == "head"]
                if heads and all(i in self._bad for i in heads):
                    for index in indexes:
                        if index not in self._bad:
                            self.error(
                                index,
                                HOUSEHOLD_REF,
                                "the household's head row is invalid, so the household "
                                "cannot be imported",
                            )


def _as_written(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


def _write_rejected(
    path: Path, table: pa.Table, bad_rows: set[int], errors: list[RowError]
) -> None:
    by_row: dict[int, list[str]] = defaultdict(list)
    for error in errors:
        by_row[error.row - 1].append(f"{error.field}: {error.reason}")
    ordered = sorted(bad_rows)
    rejected = table.take(pa.array(ordered, type=pa.int64()))
    rejected = rejected.append_column("source_row", pa.array([i + 1 for i in ordered]))
    rejected = rejected.append_column("errors", pa.array(["; ".join(by_row[i]) for i in ordered]))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        pq.write_table(rejected, path)
    else:
        pacsv.write_csv(rejected, path)
