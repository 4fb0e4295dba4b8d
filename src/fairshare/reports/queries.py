"""The database read once into DuckDB, and every report figure computed there by GROUP BY.

Why DuckDB and not GROUP BY in the database: a report joins every entitlement and redemption
of a year (millions of transfers) with each beneficiary's region, age, sex and household, for
five breakdowns and every period and programme. Reading the few columns it needs once
(through the driver, into Arrow) and aggregating in an in-process DuckDB does it in one pass;
as SQL GROUP BY in the database it is one join-heavy query per breakdown, period and
programme (bench/bench_reports.py times one for comparison). Both databases are read the
same way; nothing is written back.

Only these columns are read: people (id, household, date of birth, sex, whether head),
households (id, region), eligibility runs, the outcome of decisions (never their facts),
enrolments, entitlement and redemption transfers, merchants (name, region), and open
appeals. Disability values are not read here: the service opens them, for the purposes
allowed, and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, select

from fairshare.eligibility.orm import eligibility_runs, programmes, rule_versions
from fairshare.ledger.model import Period, in_kind, parse_period, period_of
from fairshare.ledger.orm import ledger_cycles
from fairshare.reports.model import NOT_RECORDED, WITH_DISABILITY, WITHOUT_DISABILITY

FETCH_ROWS = 100_000
HELD_OR_VOID = 1 | 4  # TransferFlag.PENDING | TransferFlag.VOID_PENDING: not value that moved
# Age bands by the birthdays that close them: age <= 4 on a day means born after the day
# five years before it (AGE_BANDS of eligibility.model).
BAND_LIMITS = ((5, "0-4"), (18, "5-17"), (25, "18-24"), (60, "25-59"), (65, "60-64"))
STRING, INTEGER = pa.string(), pa.int64()


@dataclass(frozen=True)
class ProgrammeInfo:
    code: str
    name: str
    target: str
    asset: str
    period_kind: str
    needs_health: bool
    version: int | None


@dataclass(frozen=True)
class RunInfo:
    id: str
    programme: str
    version: int
    reference_date: date
    started_order: int  # position among the programme's runs, oldest first


def _text_date(dialect: str, column: str, length: int = 10, *, timestamp: bool = False) -> str:
    """A date (or timestamp) column as 'YYYY-MM-DD' text or its first `length` characters,
    the same on both databases (SQLite stores them as ISO text; PostgreSQL in UTC)."""
    if dialect == "sqlite":
        return f"substr({column}, 1, {length})"
    pattern = {10: "YYYY-MM-DD", 7: "YYYY-MM"}[length]
    if timestamp:
        return f"to_char({column} AT TIME ZONE 'UTC', '{pattern}')"
    return f"to_char({column}, '{pattern}')"


def _fetch(
    connection: Connection, sql: str, columns: Sequence[tuple[str, pa.DataType]]
) -> pa.Table:
    """The rows of a read-only query through the driver, as an Arrow table with these columns.

    Rows go from the driver's tuples to Arrow in one conversion per batch (as a struct
    array): no per-row Python objects beyond the driver's own.
    """
    schema = pa.struct([pa.field(name, kind) for name, kind in columns])
    cursor = connection.connection.cursor()
    batches = []
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            batches.append(pa.Table.from_struct_array(pa.array(rows, type=schema)))
    finally:
        cursor.close()
    if not batches:
        return pa.schema([pa.field(n, k) for n, k in columns]).empty_table()
    return pa.concat_tables(batches)


def _in_list(values: Iterable[str]) -> str:
    quoted = ["'" + value.replace("'", "''") + "'" for value in values]
    return ", ".join(quoted) if quoted else "NULL"


def _case(column: str, values: Sequence[str]) -> str:
    """`column` as the position of its value in `values` (-1 for any other): small integers
    cross the driver far more cheaply than repeated strings."""
    if not values:
        return "-1"
    whens = " ".join(
        f"WHEN '{value.replace(chr(39), chr(39) * 2)}' THEN {index}"
        for index, value in enumerate(values)
    )
    return f"CASE {column} {whens} ELSE -1 END"


def programme_infos(connection: Connection) -> list[ProgrammeInfo]:
    """Published programmes with the terms of their latest version, by code."""
    infos = []
    for row in connection.execute(select(programmes).order_by(programmes.c.code)):
        if row.published_version is None:
            continue
        version = connection.execute(
            select(rule_versions)
            .where(rule_versions.c.programme == row.code)
            .order_by(rule_versions.c.version.desc())
            .limit(1)
        ).first()
        if version is None:
            continue
        infos.append(
            ProgrammeInfo(
                row.code,
                row.name,
                version.target,
                version.asset,
                version.period,
                bool(version.needs_health),
                int(version.version),
            )
        )
    return infos


def runs_of(connection: Connection) -> dict[str, list[RunInfo]]:
    """Every run of every programme, oldest first."""
    result: dict[str, list[RunInfo]] = {}
    query = select(
        eligibility_runs.c.id,
        eligibility_runs.c.programme,
        eligibility_runs.c.version,
        eligibility_runs.c.reference_date,
    ).order_by(eligibility_runs.c.programme, eligibility_runs.c.started_at, eligibility_runs.c.id)
    for row in connection.execute(query):
        runs = result.setdefault(row.programme, [])
        runs.append(RunInfo(row.id, row.programme, row.version, row.reference_date, len(runs)))
    return result


def cycle_periods(connection: Connection) -> dict[str, list[str]]:
    """The periods each programme has run a cycle for."""
    result: dict[str, list[str]] = {}
    query = select(ledger_cycles.c.programme, ledger_cycles.c.period).order_by(
        ledger_cycles.c.programme, ledger_cycles.c.period
    )
    for programme, period in connection.execute(query):
        result.setdefault(programme, []).append(period)
    return result


def report_periods(info: ProgrammeInfo, cycles: Sequence[str], month: str | None) -> list[Period]:
    """The periods a programme is reported for: every period with a cycle, or the one period
    holding the month asked for (even without a cycle: then nobody was paid, which is news)."""
    if month is not None:
        year, number = (int(part) for part in month.split("-"))
        return [period_of(info.period_kind, date(year, number, 1))]
    periods = []
    for label in sorted(set(cycles)):
        try:
            periods.append(parse_period(info.period_kind, label))
        except Exception:  # noqa: S112 - a cycle of an older period kind: not this report's
            continue
    return periods


def run_in_force(runs: Sequence[RunInfo], period: Period) -> RunInfo | None:
    """The latest run whose reference date falls on or before the period's last day."""
    chosen = None
    for run in runs:
        if run.reference_date <= period.end:
            chosen = run
    return chosen


class ReportData:
    """An in-process DuckDB database with the relations the report aggregates."""

    def __init__(self) -> None:
        self.connection = duckdb.connect(":memory:")
        self.connection.execute("SET enable_progress_bar = false")  # no bars in CLI output
        self._arrow: dict[str, pa.Table] = {}  # kept alive while DuckDB scans them

    def close(self) -> None:
        self.connection.close()
        self._arrow.clear()

    def __enter__(self) -> ReportData:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def view(self, name: str, data: pa.Table) -> None:
        """Arrow data queryable by name, without a copy."""
        self._arrow[name] = data
        self.connection.register(name, data)

    def execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def rows(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        return self.connection.execute(sql, parameters).fetchall()


def load(
    connection: Connection,
    infos: Sequence[ProgrammeInfo],
    runs: Mapping[str, Sequence[RunInfo]],
    periods: Mapping[str, Sequence[Period]],
    *,
    disability: Mapping[str, str] | None = None,
    today: date,
) -> ReportData:
    """Copy what the report needs into a fresh DuckDB database. Caller owns the transaction.

    `disability` maps person id → catalogue choice, for the people whose value was opened;
    without it everyone's disability group is "not recorded" (and the breakdown is left out).
    """
    dialect = connection.dialect.name
    data = ReportData()
    try:
        _load_subjects(data, connection, dialect, disability)
        _load_periods(data, infos, runs, periods)
        _load_decisions(data, connection, infos, runs, periods)
        _load_transfers(data, connection, dialect, infos, periods)
        data.view(
            "merchants",
            _fetch(
                connection,
                "SELECT id, name, region FROM ledger_merchants",
                (("merchant_id", STRING), ("name", STRING), ("region", STRING)),
            ),
        )
        data.view(
            "overdue_appeals",
            _fetch(
                connection,
                "SELECT id, programme, subject_type, subject_id, "  # noqa: S608 - a date we formatted
                f"{_text_date(dialect, 'due_on')} FROM appeals "
                f"WHERE status = 'open' AND due_on < '{today.isoformat()}'",
                (
                    ("appeal_id", STRING),
                    ("programme", STRING),
                    ("subject_type", STRING),
                    ("subject_id", STRING),
                    ("due_on", STRING),
                ),
            ),
        )
    except BaseException:
        data.close()
        raise
    return data


def _load_subjects(
    data: ReportData, connection: Connection, dialect: str, disability: Mapping[str, str] | None
) -> None:
    # A record merged into its survivor is the same person counted twice: left out, as the
    # eligibility runs leave it out.
    data.view(
        "raw_people",
        _fetch(
            connection,
            "SELECT p.id, p.household_id, "  # noqa: S608 - constants of this module
            f"{_text_date(dialect, 'p.date_of_birth')}, p.sex, "
            "CASE WHEN p.relationship_to_head = 'head' THEN 1 ELSE 0 END FROM people p "
            "WHERE NOT EXISTS (SELECT 1 FROM dedup_merges m "
            "WHERE m.merged_id = p.id AND m.unmerged_at IS NULL)",
            (
                ("person_id", STRING),
                ("household_id", STRING),
                ("born", STRING),
                ("sex", STRING),
                ("is_head", INTEGER),
            ),
        ),
    )
    data.view(
        "raw_households",
        _fetch(
            connection,
            "SELECT id, region FROM households",
            (("household_id", STRING), ("region", STRING)),
        ),
    )
    values = disability or {}
    data.view(
        "disability_values",
        pa.table(
            {
                "person_id": pa.array(list(values), STRING),
                "value": pa.array(list(values.values()), STRING),
            }
        ),
    )
    person_disability = (
        f"CASE WHEN d.value IS NULL THEN '{NOT_RECORDED}' WHEN d.value = 'none' "
        f"THEN '{WITHOUT_DISABILITY}' ELSE '{WITH_DISABILITY}' END"
        if disability is not None
        else f"'{NOT_RECORDED}'"
    )
    data.execute(
        f"""
        CREATE TABLE people AS
        SELECT p.person_id, p.household_id, CAST(p.born AS DATE) AS born, p.sex,
               p.is_head = 1 AS is_head, {person_disability} AS disability
        FROM raw_people p LEFT JOIN disability_values d ON d.person_id = p.person_id
        """  # noqa: S608 - constants of this module only
    )
    data.execute(
        f"""
        CREATE TABLE households AS
        SELECT h.household_id, coalesce(h.region, 'unknown') AS region,
               coalesce(m.size, 0) AS size, head.sex AS head_sex, head.born AS head_born,
               CASE WHEN m.disabled > 0 THEN '{WITH_DISABILITY}'
                    WHEN m.recorded > 0 THEN '{WITHOUT_DISABILITY}'
                    ELSE '{NOT_RECORDED}' END AS disability
        FROM raw_households h
        LEFT JOIN (
            SELECT household_id, count(*) AS size,
                   count(*) FILTER (WHERE disability = '{WITH_DISABILITY}') AS disabled,
                   count(*) FILTER (WHERE disability = '{WITHOUT_DISABILITY}') AS recorded
            FROM people GROUP BY household_id
        ) m ON m.household_id = h.household_id
        LEFT JOIN (
            SELECT household_id, any_value(sex) AS sex, any_value(born) AS born
            FROM people WHERE is_head GROUP BY household_id
        ) head ON head.household_id = h.household_id
        """  # noqa: S608 - constants of this module only
    )
    # One row per subject of either kind, with what breakdowns group by. Household subjects
    # carry their head's sex and date of birth, as simulations do.
    data.execute(
        f"""
        CREATE TABLE subjects AS
        SELECT 'person' AS target, p.person_id AS subject_id, h.region, p.sex, p.born,
               {_SIZE} AS household_size, p.disability
        FROM people p JOIN households h ON h.household_id = p.household_id
        UNION ALL
        SELECT 'household', household_id, region, head_sex, head_born, {_SIZE},
               disability
        FROM households h WHERE size > 0
        """  # noqa: S608 - constants of this module only
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _load_periods(
    data: ReportData,
    infos: Sequence[ProgrammeInfo],
    runs: Mapping[str, Sequence[RunInfo]],
    periods: Mapping[str, Sequence[Period]],
) -> None:
    rows: dict[str, list[Any]] = {
        k: [] for k in ("programme", "target", "kind", "period", "end_on", "run_id")
    }
    limits: dict[str, list[date]] = {f"born_after_{years}": [] for years, _ in BAND_LIMITS}
    for info in infos:
        for period in periods.get(info.code, ()):
            run = run_in_force(runs.get(info.code, ()), period)
            rows["programme"].append(info.code)
            rows["target"].append(info.target)
            rows["kind"].append(info.period_kind)
            rows["period"].append(period.label)
            rows["end_on"].append(period.end)
            rows["run_id"].append(None if run is None else run.id)
            for years, _ in BAND_LIMITS:
                limits[f"born_after_{years}"].append(_years_before(period.end, years))
    data.view(
        "report_periods",
        pa.table(
            {
                **{
                    name: pa.array(values, STRING)
                    for name, values in rows.items()
                    if name != "end_on"
                },
                "end_on": pa.array(rows["end_on"], pa.date32()),
                **{name: pa.array(values, pa.date32()) for name, values in limits.items()},
            }
        ),
    )


def needed_runs(
    infos: Sequence[ProgrammeInfo],
    runs: Mapping[str, Sequence[RunInfo]],
    periods: Mapping[str, Sequence[Period]],
) -> list[str]:
    """Runs in force for a reported period, and each programme's last two runs (for who lost
    eligibility between them)."""
    wanted: set[str] = set()
    for info in infos:
        programme_runs = runs.get(info.code, ())
        wanted.update(run.id for run in programme_runs[-2:])
        for period in periods.get(info.code, ()):
            run = run_in_force(programme_runs, period)
            if run is not None:
                wanted.add(run.id)
    return sorted(wanted)


def _load_decisions(
    data: ReportData,
    connection: Connection,
    infos: Sequence[ProgrammeInfo],
    runs: Mapping[str, Sequence[RunInfo]],
    periods: Mapping[str, Sequence[Period]],
) -> None:
    wanted = needed_runs(infos, runs, periods)
    run_numbers = pa.table(
        {"run": pa.array(range(len(wanted)), INTEGER), "run_id": pa.array(wanted, STRING)}
    )
    data.view("run_numbers", run_numbers)
    # Whom each rule run found eligible, and every caseworker decision on appeal (which may
    # turn either way), in one pass over the runs' decisions: the latest decision about a
    # subject in a run stands.
    decided_at = (
        "decided_at"
        if connection.dialect.name == "sqlite"
        else "to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    )
    data.view(
        "run_decisions",
        _fetch(
            connection,
            f"SELECT {_case('run_id', wanted)}, subject_id, "  # noqa: S608 - quoted ids from our own rows
            "CASE WHEN eligible THEN 1 ELSE 0 END, "
            f"CASE WHEN basis = 'appeal' THEN {decided_at} || id END FROM decisions "
            f"WHERE run_id IN ({_in_list(wanted)}) AND (eligible OR basis = 'appeal')",
            (
                ("run", INTEGER),
                ("subject_id", STRING),
                ("eligible", INTEGER),
                ("appeal_order", STRING),
            ),
        ),
    )
    data.execute(
        """
        CREATE TABLE run_eligible AS
        WITH overturned AS (
            SELECT run, subject_id, arg_max(eligible, appeal_order) AS eligible
            FROM run_decisions WHERE appeal_order IS NOT NULL GROUP BY run, subject_id
        )
        SELECT n.run_id, r.subject_id
        FROM run_decisions r JOIN run_numbers n ON n.run = r.run
        ANTI JOIN overturned o ON o.run = r.run AND o.subject_id = r.subject_id
        WHERE r.appeal_order IS NULL AND r.eligible = 1
        UNION ALL
        SELECT n.run_id, o.subject_id
        FROM overturned o JOIN run_numbers n ON n.run = o.run
        WHERE o.eligible = 1
        """
    )
    last_two: dict[str, list[Any]] = {"programme": [], "previous_run": [], "latest_run": []}
    for info in infos:
        programme_runs = runs.get(info.code, ())
        if len(programme_runs) >= 2:
            last_two["programme"].append(info.code)
            last_two["previous_run"].append(programme_runs[-2].id)
            last_two["latest_run"].append(programme_runs[-1].id)
    data.view("last_runs", pa.table({k: pa.array(v, STRING) for k, v in last_two.items()}))
    codes = [info.code for info in infos]
    data.view(
        "enrolments",
        _fetch(
            connection,
            "SELECT programme, subject_id FROM enrolments "  # noqa: S608 - our own codes
            f"WHERE programme IN ({_in_list(codes)})",
            (("programme", STRING), ("subject_id", STRING)),
        ),
    )


def _load_transfers(
    data: ReportData,
    connection: Connection,
    dialect: str,
    infos: Sequence[ProgrammeInfo],
    periods: Mapping[str, Sequence[Period]],
) -> None:
    codes = [info.code for info in infos if periods.get(info.code)]
    labels = {p.label for info in infos for p in periods.get(info.code, ())}
    # A money redemption counts for the latest period its beneficiary was entitled in up to
    # the month it was made, so later entitlements are read too (labels of one period kind
    # sort in time order); only the reported periods are counted.
    first_label = {
        info.code: min(p.label for p in periods[info.code])
        for info in infos
        if info.code in codes and not in_kind(info.asset)
    }
    for programme, label in connection.execute(
        select(ledger_cycles.c.programme, ledger_cycles.c.period)
    ):
        if programme in first_label and label >= first_label[programme]:
            labels.add(label)
    data.view(
        "programme_numbers",
        pa.table(
            {
                "programme_number": pa.array(range(len(codes)), INTEGER),
                "programme": pa.array(codes, STRING),
                "kind": pa.array(
                    [next(i.period_kind for i in infos if i.code == c) for c in codes], STRING
                ),
            }
        ),
    )
    # Entitlements of the reported periods: the (kind, programme, period) index finds them.
    # Entitlements of the reported periods, read through the unique index that keeps each
    # beneficiary paid once per period (three of its columns are all we need). A cycle posts
    # them directly, never as holds, and at the amount its ledger_cycles row records.
    hint = " INDEXED BY uq_ledger_transfers_entitlement" if dialect == "sqlite" else ""
    data.view(
        "raw_entitlements",
        _fetch(
            connection,
            f"SELECT {_case('programme', codes)}, period, beneficiary_id "  # noqa: S608 - our own codes and labels
            f"FROM ledger_transfers{hint} WHERE kind = 'entitlement' "
            f"AND programme IN ({_in_list(codes)}) AND period IN ({_in_list(sorted(labels))})",
            (("programme_number", INTEGER), ("period", STRING), ("subject_id", STRING)),
        ),
    )
    data.view(
        "cycle_amounts",
        _fetch(
            connection,
            "SELECT programme, period, amount FROM ledger_cycles "  # noqa: S608 - our own codes
            f"WHERE programme IN ({_in_list(codes)})",
            (("programme", STRING), ("period", STRING), ("amount", INTEGER)),
        ),
    )
    # Redemptions: in kind they name their period; money has one wallet across periods, so
    # its redemptions carry none and are placed by the month they were made (below).
    first = min((p.start for info in infos for p in periods.get(info.code, ())), default=None)
    data.view(
        "raw_redemptions",
        _fetch(
            connection,
            f"SELECT {_case('programme', codes)}, period, "  # noqa: S608 - our own codes, labels and dates
            f"{_text_date(dialect, 'created_at', 7, timestamp=True)}, beneficiary_id, "
            "merchant_id, amount FROM ledger_transfers WHERE kind = 'redemption' "
            f"AND programme IN ({_in_list(codes)}) AND (flags & {HELD_OR_VOID}) = 0 "
            f"AND (period IN ({_in_list(sorted(labels))}) OR (period IS NULL"
            + ("" if first is None else f" AND created_at >= '{first.isoformat()}'")
            + "))",
            (
                ("programme_number", INTEGER),
                ("period", STRING),
                ("month", STRING),
                ("subject_id", STRING),
                ("merchant_id", STRING),
                ("amount", INTEGER),
            ),
        ),
    )
    data.execute(
        """
        CREATE TABLE entitlements AS
        SELECT n.programme, e.period, e.subject_id, coalesce(c.amount, 0) AS amount
        FROM raw_entitlements e JOIN programme_numbers n USING (programme_number)
        LEFT JOIN cycle_amounts c ON c.programme = n.programme AND c.period = e.period
        """
    )
    # Each money redemption counts for the latest period the beneficiary was entitled in, up
    # to the month it was made (labels of one period kind sort in time order).
    data.execute(
        """
        CREATE TABLE redemptions AS
        SELECT n.programme, r.period, r.subject_id, r.merchant_id, r.amount
        FROM raw_redemptions r JOIN programme_numbers n USING (programme_number)
        WHERE r.period IS NOT NULL
        UNION ALL
        SELECT m.programme, coalesce(e.period, m.made_in), m.subject_id, m.merchant_id, m.amount
        FROM (
            SELECT n.programme, r.subject_id, r.merchant_id, r.amount,
                   CASE n.kind
                       WHEN 'monthly' THEN r.month
                       WHEN 'quarterly' THEN substr(r.month, 1, 4) || '-Q'
                            || CAST((CAST(substr(r.month, 6, 2) AS INTEGER) + 2) // 3 AS VARCHAR)
                       ELSE substr(r.month, 1, 4) END AS made_in
            FROM raw_redemptions r JOIN programme_numbers n USING (programme_number)
            WHERE r.period IS NULL
        ) m
        ASOF LEFT JOIN (
            -- unique per programme, period and beneficiary (the ledger's own index)
            SELECT programme, subject_id, period FROM entitlements
            WHERE programme IN (SELECT n.programme FROM raw_redemptions r
                                JOIN programme_numbers n USING (programme_number)
                                WHERE r.period IS NULL)
        ) e
            ON e.programme = m.programme AND e.subject_id = m.subject_id
           AND m.made_in >= e.period
        """
    )


def _band(born: str, period: str) -> str:
    whens = " ".join(
        f"WHEN {born} > {period}.born_after_{years} THEN '{label}'" for years, label in BAND_LIMITS
    )
    return f"CASE WHEN {born} IS NULL THEN 'unknown' {whens} ELSE '65+' END"


_SIZE = (
    "CASE WHEN size IS NULL OR size <= 0 THEN 'unknown' WHEN size >= 8 THEN '8+' "
    "ELSE CAST(size AS VARCHAR) END"
)
DIMENSION_COLUMNS = ("region", "age_band", "sex", "household_size", "disability")


def _groups(subject: str, period: str) -> str:
    return (
        f"coalesce({subject}.region, 'unknown') AS region, "
        f"{_band(subject + '.born', period)} AS age_band, "
        f"coalesce({subject}.sex, 'unknown') AS sex, "
        f"coalesce({subject}.household_size, 'unknown') AS household_size, "
        f"coalesce({subject}.disability, '{NOT_RECORDED}') AS disability"
    )


def build_flags(data: ReportData) -> None:
    """`subject_flags`: one row per programme, period and subject that was eligible, enrolled,
    entitled or redeemed, with its groups; and `registered_groups`: everyone in the registry
    now, counted per group with ages on the period's last day. (Eligibility was decided over
    the registry as it stood at each run; registration dates say when a record was entered,
    not when the person came to live there, so they do not narrow the count.)"""
    data.execute(
        """
        CREATE TABLE events AS
        SELECT programme, period, subject_id,
               bool_or(eligible) AS eligible,
               sum(entitled) AS entitled_amount, sum(redeemed) AS redeemed_amount
        FROM (
            SELECT rp.programme, rp.period, e.subject_id, true AS eligible,
                   NULL::BIGINT AS entitled, NULL::BIGINT AS redeemed
            FROM report_periods rp JOIN run_eligible e ON e.run_id = rp.run_id
            UNION ALL
            SELECT e.programme, e.period, e.subject_id, false, e.amount, NULL
            FROM entitlements e SEMI JOIN report_periods rp
                ON rp.programme = e.programme AND rp.period = e.period
            UNION ALL
            SELECT r.programme, r.period, r.subject_id, false, NULL, r.amount
            FROM redemptions r SEMI JOIN report_periods rp
                ON rp.programme = r.programme AND rp.period = r.period
        ) GROUP BY programme, period, subject_id
        """
    )
    data.execute(
        f"""
        CREATE TABLE subject_flags AS
        SELECT ev.programme, ev.period, ev.subject_id, {_groups("s", "rp")},
               ev.eligible, en.subject_id IS NOT NULL AS enrolled,
               ev.entitled_amount IS NOT NULL AS entitled,
               ev.redeemed_amount IS NOT NULL AS redeemed,
               coalesce(ev.entitled_amount, 0) AS entitled_amount,
               coalesce(ev.redeemed_amount, 0) AS redeemed_amount
        FROM events ev
        JOIN report_periods rp ON rp.programme = ev.programme AND rp.period = ev.period
        LEFT JOIN subjects s ON s.subject_id = ev.subject_id AND s.target = rp.target
        LEFT JOIN enrolments en ON en.programme = ev.programme AND en.subject_id = ev.subject_id
        UNION ALL
        SELECT rp.programme, rp.period, en.subject_id, {_groups("s", "rp")},
               false, true, false, false, 0, 0
        FROM report_periods rp
        JOIN enrolments en ON en.programme = rp.programme
        LEFT JOIN subjects s ON s.subject_id = en.subject_id AND s.target = rp.target
        ANTI JOIN events ev ON ev.programme = rp.programme AND ev.period = rp.period
            AND ev.subject_id = en.subject_id
        """  # noqa: S608 - expressions are constants of this module
    )
    # Everyone registered, once per distinct (target, period end), then given to each
    # programme of that target and period.
    data.execute(
        f"""
        CREATE TABLE registered_groups AS
        WITH ends AS (
            SELECT DISTINCT target, end_on, {", ".join(f"born_after_{y}" for y, _ in BAND_LIMITS)}
            FROM report_periods
        ), counted AS (
            SELECT e.target, e.end_on, {_groups("s", "e")}, count(*) AS registered
            FROM ends e JOIN subjects s ON s.target = e.target
            GROUP BY ALL
        )
        SELECT rp.programme, rp.period, c.region, c.age_band, c.sex, c.household_size,
               c.disability, c.registered
        FROM report_periods rp JOIN counted c ON c.target = rp.target AND c.end_on = rp.end_on
        """  # noqa: S608 - expressions are constants of this module
    )


MEASURE_SQL = {
    "eligible": "count(*) FILTER (WHERE eligible)",
    "enrolled": "count(*) FILTER (WHERE enrolled)",
    "entitled": "count(*) FILTER (WHERE entitled)",
    "redeemed": "count(*) FILTER (WHERE redeemed)",
    "entitled_amount": "sum(entitled_amount)",
    "redeemed_amount": "sum(redeemed_amount)",
    "not_paid": "count(*) FILTER (WHERE eligible AND NOT entitled)",
    "not_redeemed": "count(*) FILTER (WHERE entitled AND NOT redeemed)",
}


@dataclass(frozen=True)
class GroupCounts:
    """Raw counts (nothing withheld yet) per programme, period, dimension and group."""

    # (programme, period) → measure → total
    totals: dict[tuple[str, str], dict[str, int]]
    # (programme, period, dimension) → group → measure → count
    groups: dict[tuple[str, str, str], dict[str, dict[str, int]]]


def _grouping_sets(dimensions: Sequence[str]) -> str:
    sets = ["(programme, period)"] + [f"(programme, period, {d})" for d in dimensions]
    return ", ".join(sets)


def group_counts(data: ReportData, dimensions: Sequence[str]) -> GroupCounts:
    """Totals and every breakdown in one pass over the flags (GROUPING SETS)."""
    dimensions = [d for d in dimensions if d in DIMENSION_COLUMNS]
    empty = dict.fromkeys([*MEASURE_SQL, "registered"], 0)
    totals: dict[tuple[str, str], dict[str, int]] = {}
    groups: dict[tuple[str, str, str], dict[str, dict[str, int]]] = {}
    for programme, period in data.rows("SELECT programme, period FROM report_periods"):
        totals[(programme, period)] = dict(empty)
    which = (
        "CASE " + " ".join(f"WHEN grouping({d}) = 0 THEN '{d}'" for d in dimensions) + " END"
        if dimensions
        else "NULL"
    )
    group = "coalesce(" + ", ".join(dimensions) + ")" if dimensions else "NULL"
    measures = ", ".join(f"{sql} AS {name}" for name, sql in MEASURE_SQL.items())
    flags = (
        f"SELECT programme, period, {which}, {group}, {measures} FROM subject_flags "  # noqa: S608 - constants
        f"GROUP BY GROUPING SETS ({_grouping_sets(dimensions)})"
    )
    for row in data.rows(flags):
        values = {name: int(v or 0) for name, v in zip(MEASURE_SQL, row[4:], strict=True)}
        _put(totals, groups, row[0], row[1], row[2], row[3], values)
    registered = (
        f"SELECT programme, period, {which}, {group}, sum(registered) FROM registered_groups "  # noqa: S608 - constants
        f"GROUP BY GROUPING SETS ({_grouping_sets(dimensions)})"
    )
    for row in data.rows(registered):
        _put(totals, groups, row[0], row[1], row[2], row[3], {"registered": int(row[4] or 0)})
    return GroupCounts(totals, groups)


def _put(
    totals: dict[tuple[str, str], dict[str, int]],
    groups: dict[tuple[str, str, str], dict[str, dict[str, int]]],
    programme: str,
    period: str,
    dimension: str | None,
    group: str | None,
    values: dict[str, int],
) -> None:
    if dimension is None:
        totals.setdefault((programme, period), {}).update(values)
        return
    cell = groups.setdefault((programme, period, dimension), {}).setdefault(str(group), {})
    cell.update(values)


def merchant_counts(data: ReportData) -> dict[tuple[str, str], list[tuple[str, str, int, int]]]:
    """(programme, period) → (merchant name, region, redemptions, amount), by merchant name."""
    result: dict[tuple[str, str], list[tuple[str, str, int, int]]] = {}
    for programme, period, name, region, count, amount in data.rows(
        """
        SELECT r.programme, r.period, coalesce(m.name, 'unknown'), coalesce(m.region, 'unknown'),
               count(*), sum(r.amount)
        FROM redemptions r SEMI JOIN report_periods rp
             ON rp.programme = r.programme AND rp.period = r.period
        LEFT JOIN merchants m ON m.merchant_id = r.merchant_id
        GROUP BY ALL ORDER BY 1, 2, 3
        """
    ):
        result.setdefault((programme, period), []).append((name, region, int(count), int(amount)))
    return result


_LOST = """
    SELECT l.programme, before.subject_id, coalesce(s.region, 'unknown') AS region
    FROM last_runs l
    JOIN run_eligible before ON before.run_id = l.previous_run
    LEFT JOIN (SELECT DISTINCT subject_id, region FROM subjects) s
         ON s.subject_id = before.subject_id
    ANTI JOIN run_eligible after
         ON after.run_id = l.latest_run AND after.subject_id = before.subject_id
"""


def lost_eligibility(data: ReportData) -> dict[str, dict[str, int]]:
    """programme → region → subjects eligible in the previous run and not in the latest."""
    result: dict[str, dict[str, int]] = {}
    for programme, region, count in data.rows(
        f"SELECT programme, region, count(*) FROM ({_LOST}) GROUP BY ALL"  # noqa: S608 - constant
    ):
        result.setdefault(programme, {})[region] = int(count)
    return result


def overdue_appeals(data: ReportData) -> dict[str, int]:
    return {
        programme: int(count)
        for programme, count in data.rows(
            "SELECT programme, count(*) FROM overdue_appeals GROUP BY programme"
        )
    }


def subjects_with_signal(
    data: ReportData, signal: str, programme: str, period: str | None, limit: int
) -> list[tuple[str, str, str | None, str]]:
    """(subject id, region, period, detail) of the subjects behind a signal, by subject id."""
    parameters: dict[str, Any] = {"programme": programme, "limit": limit}
    if signal == "not_paid":
        sql = (
            "SELECT subject_id, region, period, 'eligible, no entitlement posted' "
            "FROM subject_flags WHERE programme = $programme AND eligible AND NOT entitled"
        )
    elif signal == "not_redeemed":
        sql = (
            "SELECT subject_id, region, period, 'entitled, nothing redeemed' "
            "FROM subject_flags WHERE programme = $programme AND entitled AND NOT redeemed"
        )
    elif signal == "lost_eligibility":
        sql = (
            "SELECT subject_id, region, NULL, "  # noqa: S608 - constant
            f"'eligible in the previous run, not in the latest' FROM ({_LOST}) "
            "WHERE programme = $programme"
        )
    else:
        sql = """
            SELECT a.subject_id, coalesce(s.region, 'unknown'), NULL,
                   'appeal open past its due date ' || a.due_on
            FROM overdue_appeals a
            LEFT JOIN (SELECT DISTINCT subject_id, region FROM subjects) s
                 ON s.subject_id = a.subject_id
            WHERE a.programme = $programme
        """
    if period is not None and signal in ("not_paid", "not_redeemed"):
        sql += " AND period = $period"
        parameters["period"] = period
    rows = data.rows(f"SELECT * FROM ({sql}) ORDER BY 1, 3 LIMIT $limit", parameters)  # noqa: S608 - constants
    return [(str(r[0]), str(r[1]), r[2], str(r[3])) for r in rows]
