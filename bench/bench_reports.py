"""The coverage and equity report over a 1-million-person registry with a year of cycles.

Floor: the full report (every programme, twelve monthly periods, four breakdowns, the equity
audit, exclusion signals, and the HTML file with its charts) in under 60 s on SQLite.

How the data are built (setup, not timed): the registry, programmes, rule versions, runs,
decisions, enrolments, cycles and transfers are written with bulk SQL inserts straight into
their tables, in the shapes the services write them. Running twelve real cycles of a million
beneficiaries through the ledger service would take most of an hour of setup (a cycle of 1M
is designed to take under 60 s) without changing what the report reads. The ledger's account
totals are not kept consistent by this setup (the report reads transfers, never totals):
entitlements move from one funding account to one pool account per programme, redemptions
from the pool to one settlement account. Disability values are not written (the report is
timed without the disability breakdown, which opens sealed values and is asked for apart).

Four programmes: a person pension (two rule versions, two runs: some lose eligibility), a
person medicine pack, and two household programmes (food basket, fuel). Each month about
3% of the eligible are not paid and about 25% of entitlements are not redeemed, more in
some regions than others, so the report has gaps to flag.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fairshare import schema
from fairshare.bootstrap import Services
from fairshare.db import make_engine
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.reports.html import render_report
from fairshare.settings import Settings

FLOOR_PEOPLE = 1_000_000
QUICK_PEOPLE = 20_000
FLOOR_SECONDS = 60.0
PERIODS = ["2025-12"] + [f"2026-{month:02d}" for month in range(1, 12)]
REGIONS = (
    "Altiplano",
    "Amazonia",
    "Bahía",
    "Cordillera",
    "Costa Norte",
    "Costa Sur",
    "Delta",
    "Llanos",
    "Meseta",
    "Selva",
    "Sierra",
    "Valle",
)
NOW = "2026-11-30 00:00:00.000000"
PROGRAMMES = (
    # code, name, target, asset, amount, needs_health
    ("old_age_pension", "Old-age pension", "person", "local_currency", 13000, False),
    ("chronic_medicine", "Chronic-illness medicine", "person", "medicine_pack", 1, True),
    ("food_basket", "Food basket", "household", "food_basket", 1, False),
    ("subsidised_fuel", "Subsidised fuel", "household", "fuel", 40000, False),
)


def _id(prefix: int, numbers: np.ndarray) -> list[str]:
    """Sortable, unique 36-character ids (the order keeps index inserts appending)."""
    return [f"{prefix:08x}-0000-7000-8000-{n:012x}" for n in numbers.tolist()]


def _insert(raw: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    marks = ", ".join("?" for _ in columns)
    cursor = raw.cursor()
    for start in range(0, len(rows), 200_000):
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - bench constants
            rows[start : start + 200_000],
        )
    cursor.close()


def build(path: Path, people_count: int, seed: int = 11) -> dict[str, Any]:
    """Write the whole bench registry into a migrated SQLite file; returns its sizes."""
    rng = np.random.default_rng(seed)
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    import sqlite3

    raw = sqlite3.connect(path)
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA cache_size=-262144")

    # Households of 1 to 8 people, regions unevenly populated.
    sizes = rng.choice(
        np.arange(1, 9), size=people_count, p=[0.18, 0.22, 0.2, 0.17, 0.11, 0.06, 0.04, 0.02]
    )
    sizes = sizes[np.cumsum(sizes) <= people_count]
    if sizes.sum() < people_count:
        sizes = np.append(sizes, people_count - sizes.sum())
    household_count = len(sizes)
    region_weights = np.linspace(1.0, 3.0, len(REGIONS))
    region_of = rng.choice(
        len(REGIONS), size=household_count, p=region_weights / region_weights.sum()
    )
    household_ids = _id(1, np.arange(household_count))
    _insert(
        raw,
        "households",
        ("id", "region", "address", "extra", "created_at", "updated_at", "version"),
        [
            (household_ids[i], REGIONS[region_of[i]], f"Calle {i}", "{}", NOW, NOW, 1)
            for i in range(household_count)
        ],
    )
    member_household = np.repeat(np.arange(household_count), sizes)
    first_member = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    is_head = np.zeros(people_count, dtype=bool)
    is_head[first_member] = True
    ages = np.where(is_head, rng.integers(18, 95, people_count), rng.integers(0, 95, people_count))
    born_days = (
        np.datetime64("2026-06-30")
        - (ages * 365.25).astype(int)
        - rng.integers(0, 365, people_count)
    ).astype("datetime64[D]")
    born = np.datetime_as_string(born_days).tolist()
    sex = rng.choice(
        ["female", "male", "other"], size=people_count, p=[0.505, 0.49, 0.005]
    ).tolist()
    income = rng.gamma(2.0, 80.0, people_count)
    person_ids = _id(2, np.arange(people_count))
    _insert(
        raw,
        "people",
        (
            "id",
            "household_id",
            "given_names",
            "family_names",
            "name_key",
            "date_of_birth",
            "sex",
            "relationship_to_head",
            "extra",
            "created_at",
            "updated_at",
            "version",
        ),
        [
            (
                person_ids[i],
                household_ids[member_household[i]],
                "Nombre",
                "Apellido",
                "nombre apellido",
                born[i],
                sex[i],
                "head" if is_head[i] else "child",
                "{}",
                NOW,
                NOW,
                1,
            )
            for i in range(people_count)
        ],
    )
    raw.commit()

    # Eligibility: who each run finds eligible (rates differ by region and sex, so some
    # groups are under-served once payments and redemptions are drawn below).
    region_person = region_of[member_household]
    pension_v1 = (ages >= 65) & (income < 150)
    pension_v2 = (ages >= 66) & (income < 140)
    medicine = rng.random(people_count) < 0.05
    household_income = np.bincount(member_household, weights=income) / sizes
    young = np.bincount(member_household, weights=(ages < 5).astype(float)) > 0
    food = young & (household_income < 120)
    fuel = (household_income < 110) & (rng.random(household_count) < 0.6)
    eligible_sets = {
        ("old_age_pension", 1): pension_v1,
        ("old_age_pension", 2): pension_v2,
        ("chronic_medicine", 1): medicine,
        ("food_basket", 1): food,
        ("subsidised_fuel", 1): fuel,
    }
    subject_ids = {"person": person_ids, "household": household_ids}
    subject_region = {"person": region_person, "household": region_of}
    rule_versions, runs, decisions, enrolments = [], [], [], []
    for code, name, target, asset, amount, needs_health in PROGRAMMES:
        versions = (1, 2) if code == "old_age_pension" else (1,)
        raw.execute(
            "INSERT INTO programmes (code, name, description, target, asset, amount, period, "
            "declared_fields, depends_on, needs_health, rule, published_version, created_at, "
            "created_by, updated_at, updated_by) VALUES (?, ?, '', ?, ?, ?, 'monthly', '[]', '[]', "
            "?, 'true', ?, ?, 'bench', ?, 'bench')",
            (code, name, target, asset, amount, needs_health, versions[-1], NOW, NOW),
        )
        for version in versions:
            version_id = f"{code}-v{version}"
            rule_versions.append(
                (
                    version_id,
                    code,
                    version,
                    "true",
                    f"{code}{version}".ljust(64, "0"),
                    target,
                    asset,
                    amount,
                    "monthly",
                    "[]",
                    "[]",
                    needs_health,
                    "[]",
                    NOW,
                    "bench",
                )
            )
            run_id = f"{code}-run-{version}"
            reference = "2025-11-01" if version == 1 else "2026-05-01"
            flags = eligible_sets[(code, version)]
            ids = subject_ids[target]
            runs.append(
                (
                    run_id,
                    code,
                    version_id,
                    version,
                    f"{code}{version}".ljust(64, "0"),
                    reference,
                    NOW,
                    NOW,
                    "bench",
                    len(ids),
                    int(flags.sum()),
                    int(flags.sum()) * amount,
                )
            )
            numbers = np.arange(len(ids)) + (version * 10 + len(runs)) * 10_000_000
            decision_ids = _id(3, numbers)
            decisions.extend(
                (
                    decision_ids[i],
                    run_id,
                    code,
                    version_id,
                    version,
                    f"{code}{version}".ljust(64, "0"),
                    target,
                    ids[i],
                    bool(flags[i]),
                    "{}",
                    needs_health,
                    "[]",
                    "rule",
                    "bench",
                    NOW,
                )
                for i in range(len(ids))
            )
            if version == versions[-1]:
                enrolments.extend(
                    (code, ids[i], target, decision_ids[i], NOW) for i in np.flatnonzero(flags)
                )
    _insert(
        raw,
        "rule_versions",
        (
            "id",
            "programme",
            "version",
            "source",
            "content_hash",
            "target",
            "asset",
            "amount",
            "period",
            "declared_fields",
            "depends_on",
            "needs_health",
            "fields_used",
            "published_at",
            "published_by",
        ),
        rule_versions,
    )
    _insert(
        raw,
        "eligibility_runs",
        (
            "id",
            "programme",
            "rule_version_id",
            "version",
            "content_hash",
            "reference_date",
            "started_at",
            "finished_at",
            "run_by",
            "subjects",
            "eligible",
            "cost",
        ),
        runs,
    )
    _insert(
        raw,
        "decisions",
        (
            "id",
            "run_id",
            "programme",
            "rule_version_id",
            "version",
            "content_hash",
            "subject_type",
            "subject_id",
            "eligible",
            "facts",
            "facts_sealed",
            "enrolled_in",
            "basis",
            "decided_by",
            "decided_at",
        ),
        decisions,
    )
    del decisions
    _insert(
        raw,
        "enrolments",
        ("programme", "subject_id", "subject_type", "decision_id", "since"),
        enrolments,
    )
    raw.commit()

    # Ledger: three accounts per programme, fifty merchants, twelve cycles, redemptions.
    accounts, merchants, cycles = [], [], []
    for code, _, _, asset, _, _ in PROGRAMMES:
        for kind in ("funding", "entitlement", "settlement"):
            accounts.append(
                (f"{code}-{kind}", f"bench:{code}:{kind}", kind, asset, 0, code, 0, 0, 0, 0, NOW)
            )
    _insert(
        raw,
        "ledger_accounts",
        (
            "id",
            "code",
            "kind",
            "asset",
            "flags",
            "programme",
            "debits_pending",
            "debits_posted",
            "credits_pending",
            "credits_posted",
            "created_at",
        ),
        accounts,
    )
    for index in range(50):
        merchants.append(
            (
                f"merchant-{index:03d}",
                f"m{index:03d}",
                f"Comercio {index}",
                "shop",
                '["local_currency","food_basket","fuel","medicine_pack"]',
                REGIONS[index % len(REGIONS)],
                "GB82WEST12345698765432",
                "WESTGB2L",
                NOW,
                "bench",
            )
        )
    _insert(
        raw,
        "ledger_merchants",
        (
            "id",
            "code",
            "name",
            "category",
            "accepts",
            "region",
            "iban",
            "bic",
            "created_at",
            "created_by",
        ),
        merchants,
    )
    transfer_columns = (
        "id",
        "idempotency_key",
        "request_hash",
        "debit_account_id",
        "credit_account_id",
        "asset",
        "amount",
        "kind",
        "flags",
        "programme",
        "period",
        "beneficiary_id",
        "merchant_id",
        "reference",
        "created_at",
        "created_by",
    )
    # Redemption is less likely far from the merchants (the first regions have fewest).
    redeem_rate = np.linspace(0.6, 0.85, len(REGIONS))
    serial = 0
    transfers_written = 0
    for code, _, target, asset, amount, _ in PROGRAMMES:
        ids = subject_ids[target]
        regions = subject_region[target]
        for period in PERIODS:
            version = 2 if code == "old_age_pension" and period >= "2026-05" else 1
            flags = eligible_sets[(code, version)]
            eligible = np.flatnonzero(flags)
            paid = eligible[rng.random(len(eligible)) >= 0.03]
            redeemed = paid[rng.random(len(paid)) < redeem_rate[regions[paid]]]
            money = asset == "local_currency"
            created = f"{period}-02 08:00:00.000000"
            rows = []
            numbers = np.arange(serial, serial + len(paid) + len(redeemed))
            serial += len(numbers)
            tids = _id(4, numbers)
            for offset, subject in enumerate(paid.tolist()):
                rows.append(
                    (
                        tids[offset],
                        f"cycle:{code}:{period}:{ids[subject]}",
                        "0" * 64,
                        f"{code}-funding",
                        f"{code}-entitlement",
                        asset,
                        amount,
                        "entitlement",
                        0,
                        code,
                        period,
                        ids[subject],
                        None,
                        "{}",
                        created,
                        "bench",
                    )
                )
            merchant_choice = rng.integers(0, 50, len(redeemed))
            made = f"{period}-20 12:00:00.000000"
            for offset, subject in enumerate(redeemed.tolist()):
                tid = tids[len(paid) + offset]
                rows.append(
                    (
                        tid,
                        f"redeem:{tid}",
                        "0" * 64,
                        f"{code}-entitlement",
                        f"{code}-settlement",
                        asset,
                        amount,
                        "redemption",
                        0,
                        code,
                        None if money else period,
                        ids[subject],
                        f"merchant-{merchant_choice[offset]:03d}",
                        "{}",
                        made,
                        "bench",
                    )
                )
            _insert(raw, "ledger_transfers", transfer_columns, rows)
            transfers_written += len(rows)
            cycles.append(
                (
                    f"{code}-{period}",
                    code,
                    period,
                    version,
                    asset,
                    amount,
                    "completed",
                    len(eligible),
                    len(paid),
                    len(paid) * amount,
                    created,
                    created,
                    "bench",
                )
            )
        raw.commit()
    _insert(
        raw,
        "ledger_cycles",
        (
            "id",
            "programme",
            "period",
            "rule_version",
            "asset",
            "amount",
            "status",
            "enrolled",
            "posted",
            "total",
            "started_at",
            "finished_at",
            "run_by",
        ),
        cycles,
    )
    raw.commit()
    raw.close()
    return {
        "people": people_count,
        "households": household_count,
        "decisions": len(runs) and sum(r[9] for r in runs),
        "enrolments": len(enrolments),
        "transfers": transfers_written,
        "periods": len(PERIODS),
    }


def timed_report(path: Path, directory: Path, period: str | None) -> dict[str, Any]:
    settings = Settings(
        environment="test",
        var_dir=directory,
        key_dir=directory / "keys",
        database_url=f"sqlite:///{path}",
    )
    engine = make_engine(settings.database_url)
    services = Services(settings, engine)
    auditor = Actor("bench-auditor", Role.AUDITOR, Purpose.AUDIT)
    started = time.perf_counter()
    report = services.reports.coverage(auditor, period)
    computed = time.perf_counter() - started
    html = render_report(report)
    out = directory / f"report-{period or 'all'}.html"
    out.write_text(html, encoding="utf-8")
    total = time.perf_counter() - started
    engine.dispose()
    return {
        "measure": f"full report, {'period ' + period if period else 'all 12 periods'}: "
        "aggregate + HTML with charts",
        "compute_seconds": round(computed, 2),
        "seconds": round(total, 2),
        "html_bytes": out.stat().st_size,
        "flagged_gaps": len(report.flagged),
        "floor_met": total < FLOOR_SECONDS,
    }


def group_by_in_sqlite(path: Path) -> dict[str, Any]:
    """For comparison: one breakdown (entitled by region, one programme, one period) as SQL
    GROUP BY in SQLite, the way the report would have to run it 4 x 5 x 12 times."""
    import sqlite3

    raw = sqlite3.connect(path)
    started = time.perf_counter()
    raw.execute(
        "SELECT h.region, count(*) FROM ledger_transfers t "
        "JOIN people p ON p.id = t.beneficiary_id JOIN households h ON h.id = p.household_id "
        "WHERE t.kind = 'entitlement' AND t.programme = 'old_age_pension' AND t.period = '2026-06' "
        "GROUP BY h.region"
    ).fetchall()
    seconds = time.perf_counter() - started
    raw.close()
    return {
        "measure": "one breakdown as SQL GROUP BY in SQLite (comparison, not the floor)",
        "seconds": round(seconds, 3),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Build the registry and ledger, then time the full report and a one-period report."""
    people = QUICK_PEOPLE if quick else FLOOR_PEOPLE
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        directory = Path(tmp)
        path = directory / "reports.sqlite3"
        started = time.perf_counter()
        sizes = build(path, people)
        setup = {
            "measure": "bulk SQL setup (not part of the floor)",
            **sizes,
            "seconds": round(time.perf_counter() - started, 1),
            "database_bytes": path.stat().st_size,
        }
        results = [setup, timed_report(path, directory, None)]
        results.append(timed_report(path, directory, "2026-06"))
        results.append(group_by_in_sqlite(path))
    return {
        "name": "reports",
        "results": results,
        "floor": "the full report for 1,000,000 people with 12 monthly cycles in under 60 s",
        "floor_met": all(r.get("floor_met") is not False for r in results),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
