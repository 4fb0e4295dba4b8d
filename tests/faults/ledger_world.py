"""A migrated database with a registry, programmes paid from the ledger, merchants and tills:
the world the concurrency test, the crash test and the ledger benchmarks run against.

Everything is built through the real services (synthetic population → bulk import →
eligibility run → funding → merchants), so enrolments reference real decisions. Only
`bulk_enrolments` (the 1,000,000-beneficiary cycle benchmark) writes decisions and enrolments
with SQL, because importing a million people through the importer alone takes minutes.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from fairshare import schema
from fairshare.bootstrap import Services, bootstrap
from fairshare.credentials.orm import identity_verifications
from fairshare.credentials.services import verify_in_person
from fairshare.db import bulk_insert, make_engine
from fairshare.eligibility.model import DeclaredField, ProgrammeSpec
from fairshare.eligibility.orm import decisions, eligibility_runs, enrolments
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ids import new_id
from fairshare.registry.importing import read_table
from fairshare.registry.orm import people
from fairshare.settings import Settings
from fairshare.synth.generate import generate, write

REFERENCE = date(2025, 6, 1)
MONEY = "cash_transfer"  # person programme, local currency: a wallet that carries over
IN_KIND = "food_ration"  # household programme, food baskets: a quota per period that expires
MONEY_AMOUNT = 13_000
BUDGET = 10**15  # enough for any number of periods in a test or a benchmark

DISBURSER = Actor("treasurer", Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT)
DESIGNER = Actor("officer", Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN)
CHECKER = Actor("checker", Role.CASEWORKER, Purpose.IDENTITY_VERIFICATION)
ADMIN = Actor("admin", Role.ADMINISTRATOR, Purpose.ADMINISTRATION)
IMPORTER = Actor("importer", Role.ADMINISTRATOR, Purpose.BULK_REGISTRATION)


def till(merchant: int, number: int = 0) -> Actor:
    """The till user `number` of merchant `merchant` (see `build`)."""
    return Actor(f"till-{merchant}-{number}", Role.MERCHANT, Purpose.REDEMPTION)


AGE = DeclaredField("date_of_birth", "the cash transfer is for adults")


def money_programme() -> ProgrammeSpec:
    return ProgrammeSpec(
        code=MONEY,
        name="Cash transfer",
        description="Every adult, every month",
        target="person",
        asset="local_currency",
        amount=MONEY_AMOUNT,
        period="monthly",
        declared=(AGE,),
        rule="age >= 18",
    )


def in_kind_programme() -> ProgrammeSpec:
    return ProgrammeSpec(
        code=IN_KIND,
        name="Food ration",
        description="One basket per household a month",
        target="household",
        asset="food_basket",
        amount=2,
        period="monthly",
        declared=(AGE,),
        rule="members.size() > 0",
    )


@dataclass(frozen=True)
class WorldInfo:
    """What a worker process needs to find its way around the world `build` made."""

    url: str
    var_dir: str
    merchants: int
    tills: int

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> WorldInfo:
        return cls(**json.loads(text))


def settings_for(url: str, var_dir: Path | str) -> Settings:
    var = Path(var_dir)
    return Settings(environment="test", var_dir=var, key_dir=var / "keys", database_url=url)


def services_for(info: WorldInfo, engine: Engine | None = None) -> Services:
    settings = settings_for(info.url, info.var_dir)
    return bootstrap(settings, engine if engine is not None else make_engine(info.url))


def build(
    url: str,
    var_dir: Path,
    *,
    people: int,
    merchants: int = 4,
    tills: int = 8,
    seed: int = 7,
) -> WorldInfo:
    """Migrate the database at `url` and fill it: `people` synthetic people imported, the two
    programmes published, run on REFERENCE and funded, and `merchants` shops with `tills`
    till users each. Returns what workers need to connect."""
    engine = make_engine(url)
    schema.upgrade(engine)
    info = WorldInfo(url=url, var_dir=str(var_dir), merchants=merchants, tills=tills)
    services = services_for(info, engine)
    services.cipher  # noqa: B018 - the key directory, before any import
    population = generate(people=people, seed=seed, duplicate_rate=0.0)
    with tempfile.TemporaryDirectory(prefix="fairshare-world-") as tmp:
        records, _ = write(population, Path(tmp), "parquet")
        services.importer.import_table(IMPORTER, read_table(records), source="synthetic")
    for spec in (money_programme(), in_kind_programme()):
        services.eligibility.create_programme(DESIGNER, spec)
        services.eligibility.publish(DESIGNER, spec.code)
        services.eligibility.run(DESIGNER, spec.code, REFERENCE)
        services.ledger.fund(DISBURSER, spec.code, BUDGET, f"budget-{spec.code}", "appropriation")
    for number in range(merchants):
        services.ledger.register_merchant(
            ADMIN,
            code=f"shop-{number}",
            name=f"Shop {number}",
            category="shop",
            region="Costa",
            iban="ES9121000418450200051332",
            bic="CAIXESBBXXX",
            usernames=[till(number, t).username for t in range(tills)],
        )
    engine.dispose()
    return info


def enrolled(services: Services, programme: str) -> list[tuple[str, str]]:
    """(subject_id, subject_type) of everyone enrolled in the programme, in id order."""
    with services.uow() as uow:
        rows = uow.connection.execute(
            select(enrolments.c.subject_id, enrolments.c.subject_type)
            .where(enrolments.c.programme == programme)
            .order_by(enrolments.c.subject_id)
        ).all()
    return [(row.subject_id, row.subject_type) for row in rows]


def bulk_enrolments(services: Services, programme: str, count: int) -> int:
    """Benchmark set-up only: add `count` enrolled beneficiaries to `programme` by writing
    decisions and enrolments with SQL (each enrolment points at a real decision row of a
    real eligibility run of the programme's published version). Beneficiary ids are fresh
    ids with no registry record: a cycle reads only enrolments. Returns the number added."""
    with services.uow() as uow:
        connection = uow.connection
        run = connection.execute(
            select(eligibility_runs)
            .where(eligibility_runs.c.programme == programme)
            .order_by(eligibility_runs.c.started_at.desc())
            .limit(1)
        ).one()
        target = "person"
        chunk = 50_000
        added = 0
        while added < count:
            size = min(chunk, count - added)
            decided: list[dict[str, Any]] = []
            enrolled_rows: list[dict[str, Any]] = []
            for _ in range(size):
                subject, decision = new_id(), new_id()
                decided.append(
                    {
                        "id": decision,
                        "run_id": run.id,
                        "programme": programme,
                        "rule_version_id": run.rule_version_id,
                        "version": run.version,
                        "content_hash": run.content_hash,
                        "subject_type": target,
                        "subject_id": subject,
                        "eligible": True,
                        "facts": "{}",
                        "facts_sealed": False,
                        "enrolled_in": "[]",
                        "basis": "rule",
                        "decided_by": f"rule:{programme}:v{run.version}",
                        "decided_at": run.started_at,
                    }
                )
                enrolled_rows.append(
                    {
                        "programme": programme,
                        "subject_id": subject,
                        "subject_type": target,
                        "decision_id": decision,
                        "since": run.started_at,
                    }
                )
            if connection.dialect.name == "sqlite":
                bulk_insert(connection, decisions, decided)
                bulk_insert(connection, enrolments, enrolled_rows)
            else:
                connection.execute(insert(decisions), decided)
                connection.execute(insert(enrolments), enrolled_rows)
            added += size
        uow.commit()
    return added


def verify_everyone(services: Services, programme: str, limit: int | None = None) -> int:
    """Record a caseworker's in-person check for each beneficiary of `programme` (for a
    household, its first member), through the credentials service; returns how many."""
    subjects = enrolled(services, programme)[:limit]
    with services.uow() as uow:
        first_members = dict(
            uow.connection.execute(
                select(people.c.household_id, func.min(people.c.id)).group_by(people.c.household_id)
            ).all()
        )
    for subject_id, subject_type in subjects:
        person = first_members[subject_id] if subject_type == "household" else subject_id
        verify_in_person(services.uow(), CHECKER, person, "national_id_document", "seen the ID")
    return len(subjects)


def authorisations(services: Services) -> dict[str, str]:
    """Beneficiary (person or household) id → an in-person verification id covering it."""
    with services.uow() as uow:
        rows = uow.connection.execute(
            select(identity_verifications.c.id, people.c.id, people.c.household_id).join(
                people, people.c.id == identity_verifications.c.person_id
            )
        ).all()
    found: dict[str, str] = {}
    for verification_id, person_id, household_id in rows:
        found[person_id] = verification_id
        found[household_id] = verification_id
    return found
