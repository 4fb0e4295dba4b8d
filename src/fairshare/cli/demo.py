"""`fairshare demo`: the whole pipeline on the embedded SQLite default, narrated.

Safe to run again: each step checks what is already there and skips what is done.
"""

from __future__ import annotations

from collections import Counter

import typer
from rich.panel import Panel
from rich.progress import TaskID
from rich.table import Table
from sqlalchemy import func, select

from fairshare import schema
from fairshare.audit import services as audit_services
from fairshare.audit.orm import AccessLogRepository
from fairshare.bootstrap import Services, bootstrap
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Entity, FieldDefinition, FieldType
from fairshare.catalogue.redline import RefusedField
from fairshare.cli.console import console, operator, progress_bar
from fairshare.cli.demo_dedup import run_dedup
from fairshare.cli.demo_eligibility import run_programmes
from fairshare.cli.demo_ledger import run_ledger
from fairshare.cli.report import print_summary, write_report
from fairshare.errors import FairshareError
from fairshare.identity import services as identity
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.registry.importing import read_table
from fairshare.registry.orm import households, people
from fairshare.settings import get_settings
from fairshare.synth.generate import generate, write

DEMO_USERS = (
    ("admin", Role.ADMINISTRATOR),
    ("caseworker", Role.CASEWORKER),
    ("officer", Role.PROGRAMME_OFFICER),
    ("merchant", Role.MERCHANT),
    ("auditor", Role.AUDITOR),
    ("citizen", Role.CITIZEN),
)


def demo_password(username: str) -> str:
    return f"demo-{username}-password"


def run(
    people_count: int = typer.Option(
        20_000, "--people", min=100, max=2_000_000, help="Synthetic people to generate"
    ),
    seed: int = typer.Option(42, help="Seed of the synthetic population"),
) -> None:
    """Run the whole pipeline on the embedded SQLite default and print what it did."""
    settings = get_settings()
    if settings.environment == "production":
        console.print(
            "[red]the demo creates accounts with known passwords; it does not run "
            "with FAIRSHARE_ENVIRONMENT=production[/]"
        )
        raise typer.Exit(2)
    services = bootstrap(settings)
    console.print(
        Panel.fit(
            f"Fairshare demo\ndatabase: {settings.database_url}\nkeys: {settings.keys_path}",
            title="fairshare demo",
        )
    )

    schema.upgrade(services.engine)
    console.print(f"1. schema at revision [bold]{schema.head_revision()}[/]")
    console.print(
        f"2. health data key [bold]{services.cipher.current}[/] (AES-256-GCM, in the key directory)"
    )

    records_path = _population(services, people_count, seed)
    _import(services, records_path)
    _users(services)
    _catalogue(services)
    citizen_person = _accesses(services)
    console.print("8. eligibility: four programmes defined, simulated, published and run")
    run_programmes(services, console)
    console.print("9. deduplication: Splink over the registry, sure cases merged, the rest queued")
    run_dedup(services, console, records_path.parent / "truth.parquet")
    console.print(
        "10. ledger: programmes funded, this period's cycles posted, redemptions card-less and "
        "by card, a payout file and a reconciliation"
    )
    run_ledger(services, console)
    console.print("11. coverage and equity report")
    report_path, coverage_report = write_report(services, services.settings.var_dir / "reports")
    print_summary(coverage_report, report_path)
    _summary(services, citizen_person)


def _population(services: Services, people_count: int, seed: int):  # type: ignore[no-untyped-def]
    out = services.settings.var_dir / "synth" / f"{people_count}-seed{seed}"
    records = out / "people.parquet"
    if records.exists():
        console.print(f"3. synthetic population already at {out}")
        return records
    with console.status(f"3. generating {people_count:,} synthetic people (seed {seed})…"):
        population = generate(people=people_count, seed=seed)
        records, truth = write(population, out, "parquet")
    duplicates = sum(1 for v in population.truth.column("duplicate_of").to_pylist() if v)
    console.print(
        f"3. generated {population.records.num_rows:,} records with {duplicates:,} "
        f"planted duplicates → {records} (truth file {truth.name})"
    )
    return records


def _import(services: Services, records_path) -> None:  # type: ignore[no-untyped-def]
    table = read_table(records_path)
    first_ref = table.column("record_ref")[0].as_py()
    with services.uow() as uow:
        present = uow.connection.execute(
            select(people.c.id).where(people.c.record_ref == first_ref)
        ).first()
    if present:
        console.print("4. population already imported; skipping")
        return
    with progress_bar() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"4. {stage}", total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = services.importer.import_table(
            operator(Purpose.BULK_REGISTRATION), table, progress=progress, source=records_path.name
        )
    console.print(
        f"4. imported {report.people:,} people in {report.households:,} households "
        "through the registry service"
    )


def _users(services: Services) -> None:
    created = []
    for username, role in DEMO_USERS:
        if identity.find_user(services.uow(), username):
            continue
        person_id = None
        if role is Role.CITIZEN:
            with services.uow() as uow:
                person_id = uow.connection.execute(
                    select(people.c.id)
                    .where(people.c.relationship_to_head == "head")
                    .order_by(people.c.record_ref)
                    .limit(1)
                ).scalar_one()
        identity.create_user(
            services.uow(),
            username,
            demo_password(username),
            role,
            username.title(),
            person_id,
            created_by=operator(Purpose.ADMINISTRATION),
        )
        created.append(username)
    note = f"created {', '.join(created)}" if created else "already present"
    console.print(
        f"5. demo accounts ({note}); password is demo-<username>-password, for development only"
    )


def _catalogue(services: Services) -> None:
    admin = operator(Purpose.ADMINISTRATION)
    allowed = FieldDefinition(
        "school_attendance",
        "Attends school",
        FieldType.BOOLEAN,
        Entity.PERSON,
        "child benefit conditions",
        description="Whether a child of school age attends school",
    )
    try:
        catalogue_services.declare_field(services.uow(), admin, allowed)
        console.print("6. declared custom field [bold]school_attendance[/] (allowed)")
    except FairshareError as error:
        console.print(
            f"6. custom field school_attendance already declared ({type(error).__name__})"
        )
    refused = FieldDefinition(
        "partido_politico", "Partido político", FieldType.TEXT, Entity.PERSON, "segmentación"
    )
    try:
        catalogue_services.declare_field(services.uow(), admin, refused)
        raise SystemExit("the red-line guard let a political field through")
    except RefusedField as error:
        console.print(f"   tried to declare [bold]partido_politico[/]: [red]{error.message}[/]")


def _accesses(services: Services) -> str:
    citizen = identity.find_user(services.uow(), "citizen")
    assert citizen is not None and citizen.person_id is not None
    caseworker = Actor("caseworker", Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
    person = services.registry.get_person(caseworker, citizen.person_id)
    results = services.registry.search(caseworker, name=person.values["family_names"])
    console.print(
        f"7. caseworker searched '{person.values['family_names']}' "
        f"({len(results)} results) and opened one record for case management"
    )
    refused_actor = Actor("merchant", Role.MERCHANT, Purpose.CASE_MANAGEMENT)
    try:
        services.registry.get_person(refused_actor, citizen.person_id)
    except FairshareError as error:
        console.print(f"   a merchant asking for the same record was refused: {error.message}")
    return citizen.person_id


def _summary(services: Services, citizen_person: str) -> None:
    with services.uow() as uow:
        by_region = uow.connection.execute(
            select(households.c.region, func.count(people.c.id))
            .join(people, people.c.household_id == households.c.id)
            .group_by(households.c.region)
            .order_by(households.c.region)
        ).all()
        household_count = uow.connection.execute(
            select(func.count()).select_from(households)
        ).scalar_one()
    table = Table("region", "people", title="People by region")
    for region, count in by_region:
        table.add_row(region, f"{count:,}")
    table.add_row(
        "[bold]total[/]",
        f"[bold]{sum(c for _, c in by_region):,}[/] in {household_count:,} households",
    )
    console.print(table)

    fields = catalogue_services.list_fields(services.uow())
    kinds = Counter(
        (f.entity.value, f.sensitivity.value, "core" if f.core else "custom") for f in fields
    )
    field_table = Table("entity", "sensitivity", "kind", "fields", title="Fields held")
    for (entity, sensitivity, kind), count in sorted(kinds.items()):
        field_table.add_row(entity, sensitivity, kind, str(count))
    console.print(field_table)

    citizen = Actor("citizen", Role.CITIZEN, Purpose.SELF_SERVICE, person_id=citizen_person)
    report = services.registry.access_report(citizen, citizen_person)
    access = Table(
        "when (UTC)",
        "who",
        "role",
        "purpose",
        "action",
        "outcome",
        title="What the citizen sees: who accessed my record",
    )
    for line in report[:8]:
        access.add_row(line.at, line.actor, line.role, line.purpose, line.action, line.outcome)
    console.print(access)

    with services.uow() as uow:
        log_entries = AccessLogRepository(uow.connection).count()
    with progress_bar() as bar:
        task = bar.add_task("12. verifying the access log", total=log_entries)
        result = audit_services.verify(
            services.uow(), lambda done: bar.update(task, completed=done)
        )
        bar.update(task, completed=result.entries_checked)
    colour = "green" if result.ok else "red"
    console.print(
        f"   access-log entries: {log_entries:,}; audit verify: [{colour}]{result.describe()}[/]"
    )
    console.print(
        "Next: `make serve`, then open http://127.0.0.1:8000/ (pages) or /docs (API) "
        "(log in as caseworker / demo-caseworker-password)"
    )
    if not result.ok:
        raise typer.Exit(1)
