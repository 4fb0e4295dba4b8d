"""The demo's eligibility step: four programmes defined, simulated, published and run.

Safe to run again: a programme that exists is not redefined, a published one is not
republished, and one that has run is not run again.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fairshare.assets import format_amount, to_minor_units
from fairshare.bootstrap import Services
from fairshare.cli.eligibility import eligibility, simulation_table, write_charts
from fairshare.eligibility.charts import ChartFormat
from fairshare.eligibility.model import DeclaredField, ProgrammeSpec
from fairshare.identity.model import Actor, Purpose, Role

AGE = DeclaredField("date_of_birth", "age-based conditions: age is worked out from it")
INCOME = DeclaredField("monthly_income", "means test: own income and income per household member")

DEMO_PROGRAMMES = (
    ProgrammeSpec(
        code="old_age_pension",
        name="Old-age pension",
        description="A monthly pension for people aged 65 or more with little income.",
        target="person",
        asset="local_currency",
        amount=to_minor_units("local_currency", "130.00"),
        period="monthly",
        declared=(AGE, INCOME),
        rule="age >= 65 && monthly_income < 150",
    ),
    ProgrammeSpec(
        code="food_basket",
        name="Food basket for households with young children",
        description="A monthly food basket for poor households with a child under five.",
        target="household",
        asset="food_basket",
        amount=to_minor_units("food_basket", "1"),
        period="monthly",
        declared=(AGE, INCOME),
        rule="members.filter(m, m.age < 5).size() > 0 && income_per_person < 120",
    ),
    ProgrammeSpec(
        code="subsidised_fuel",
        name="Subsidised fuel quota",
        description="40 litres of fuel a month for poor households without a vehicle.",
        target="household",
        asset="fuel",
        amount=to_minor_units("fuel", "40"),
        period="monthly",
        declared=(
            DeclaredField("owns_vehicle", "the quota is for households without a vehicle"),
            INCOME,
        ),
        rule="owns_vehicle == false && income_per_person < 200",
    ),
    ProgrammeSpec(
        code="chronic_medicine",
        name="Chronic-illness medicine",
        description="A monthly medicine pack for people living with a chronic illness.",
        target="person",
        asset="medicine_pack",
        amount=to_minor_units("medicine_pack", "1"),
        period="monthly",
        declared=(
            DeclaredField(
                "chronic_illness", "the medicine pack is for people with a chronic illness"
            ),
        ),
        rule='chronic_illness != "none"',
    ),
)


def run_programmes(services: Services, console: Console) -> None:
    """Define, simulate, publish and run the four demo programmes; print what happened."""
    officer = Actor("officer", Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN)
    service = eligibility(services)
    existing = {o.programme.code: o for o in service.list_programmes()}
    charts = services.settings.var_dir / "charts"
    for spec in DEMO_PROGRAMMES:
        overview = existing.get(spec.code)
        if overview is not None and overview.versions and overview.last_run is not None:
            console.print(f"   {spec.code} already defined, published and run; skipping")
            continue
        if overview is None:
            service.create_programme(officer, spec)
            console.print(f"   defined [bold]{spec.code}[/]: {spec.rule}")
        simulation = service.simulate(officer, spec.code)
        console.print(simulation_table(simulation))
        write_charts(simulation, charts, (ChartFormat.SVG,))  # SVG opens in any browser
        if overview is None or not overview.versions:
            version = service.publish(officer, spec.code)
            console.print(
                f"   published {spec.code} version {version.version} "
                f"(hash {version.content_hash[:12]})"
            )
        if overview is None or overview.last_run is None:
            run = service.run(officer, spec.code)
            console.print(f"   ran {spec.code}: {run.eligible:,} of {run.subjects:,} eligible")
    console.print(f"   charts of every simulation in {charts}")
    table = Table("programme", "for each", "benefit", "version", "eligible", "cost per cycle")
    for overview in service.list_programmes():
        if overview.programme.code not in {s.code for s in DEMO_PROGRAMMES}:
            continue
        last_run = overview.last_run
        published = overview.versions[-1] if overview.versions else None
        cost = "-"
        if last_run is not None and published is not None:
            cost = format_amount(published.asset, last_run.cost)
        table.add_row(
            overview.programme.name,
            overview.programme.target.value,
            overview.programme.benefit,
            f"v{published.version}" if published else "draft",
            f"{last_run.eligible:,} of {last_run.subjects:,}" if last_run else "-",
            cost,
        )
    console.print(table)
