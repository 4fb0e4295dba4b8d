"""The `fairshare programme|decision|appeal` commands, and the demo step, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from fairshare.bootstrap import Services
from fairshare.cli import eligibility as eligibility_cli
from fairshare.cli.demo_eligibility import DEMO_PROGRAMMES, run_programmes
from fairshare.cli.main import app
from fairshare.eligibility.services import Eligibility
from fairshare.identity.model import Purpose, Role
from tests.conftest import actor
from tests.integration.eligibility.conftest import PENSION_RULE, REFERENCE, Population


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command line, on the test's database transaction."""
    monkeypatch.setattr(eligibility_cli, "services", lambda: services)
    monkeypatch.setenv("FAIRSHARE_ACTOR", "test-operator")
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(result: Result) -> str:
    return " ".join(result.output.split())


def test_programme_commands_end_to_end(
    cli: CliRunner, population: Population, tmp_path: Path
) -> None:
    """create, simulate with charts, publish, run, list, then explain a decision in Spanish."""
    created = invoke(
        cli,
        "programme", "create", "old_age_pension",
        "--name", "Old-age pension",
        "--target", "person",
        "--asset", "local_currency",
        "--amount", "130.00",
        "--field", "date_of_birth=age-based conditions are worked out from it",
        "--field", "monthly_income=means test on own income",
        "--rule", PENSION_RULE,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "130.00 local currency monthly" in flat(created)
    charts = tmp_path / "charts"
    simulated = invoke(
        cli, "programme", "simulate", "old_age_pension",
        "--date", REFERENCE.isoformat(), "--charts", str(charts),
    )  # fmt: skip
    assert simulated.exit_code == 0, simulated.output
    assert "2 of 8 eligible" in flat(simulated)
    assert "<10" in simulated.output
    assert (charts / "old_age_pension-region.svg").read_bytes().startswith(b"<?xml")
    assert (charts / "old_age_pension-sex.png").read_bytes().startswith(b"\x89PNG")
    published = invoke(cli, "programme", "publish", "old_age_pension")
    assert "version 1" in flat(published)
    ran = invoke(cli, "programme", "run", "old_age_pension", "--date", REFERENCE.isoformat())
    assert ran.exit_code == 0, ran.output
    assert "2 of 8 eligible under version 1" in flat(ran)
    listed = invoke(cli, "programme", "list")
    assert "old_age_pension" in listed.output and "v1" in listed.output
    shown = invoke(cli, "programme", "show", "old_age_pension")
    assert "means test on own income" in flat(shown)
    explained = invoke(cli, "decision", "explain", population.people["p1"], "--language", "es")
    assert explained.exit_code == 0, explained.output
    assert "Usted tiene derecho a Old-age pension" in flat(explained)


def test_bad_rule_exits_2_with_the_position(cli: CliRunner) -> None:
    """A rule with a type error is refused with exit code 2 and its line and column."""
    result = invoke(
        cli,
        "programme", "create", "old_age_pension",
        "--name", "Old-age pension",
        "--target", "person",
        "--asset", "local_currency",
        "--amount", "130.00",
        "--field", "date_of_birth=age-based conditions are worked out from it",
        "--rule", 'age > "abc"',
    )  # fmt: skip
    assert result.exit_code == 2
    assert "line 1, column" in flat(result)


def test_appeal_commands(cli: CliRunner, services: Services, population: Population) -> None:
    """A caseworker files an appeal for a person, lists the queue and overturns it."""
    eligibility = Eligibility(services.uow(), services.cipher)
    for args in (
        ("programme", "create", "old_age_pension", "--name", "Old-age pension",
         "--target", "person", "--asset", "local_currency", "--amount", "130",
         "--field", "date_of_birth=age-based conditions are worked out from it",
         "--field", "monthly_income=means test on own income", "--rule", PENSION_RULE),
        ("programme", "publish", "old_age_pension"),
        ("programme", "run", "old_age_pension", "--date", REFERENCE.isoformat()),
    ):  # fmt: skip
        assert invoke(cli, *args).exit_code == 0
    reader = actor(Role.CASEWORKER, Purpose.APPEAL_REVIEW)
    [explanation] = eligibility.explain_decision(reader, population.people["p3"])
    filed = invoke(cli, "appeal", "file", explanation.decision.id, "--reason", "Income fell")
    assert filed.exit_code == 0, filed.output
    listed = invoke(cli, "appeal", "list")
    assert "Income fell" in flat(listed)
    [queued] = eligibility.appeal_queue(reader)
    decided = invoke(
        cli, "appeal", "decide", queued.appeal.id,
        "--outcome", "overturn", "--reason", "Payslips confirm it",
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert "overturned" in decided.output


@pytest.mark.slow
def test_demo_defines_publishes_and_runs_four_programmes_and_can_rerun(
    services: Services, population: Population
) -> None:
    """The demo step sets up the four programmes once; running it again changes nothing."""
    console = Console(record=True, width=120)
    run_programmes(services, console)
    first = console.export_text()
    eligibility = Eligibility(services.uow(), services.cipher)
    overviews = {o.programme.code: o for o in eligibility.list_programmes()}
    assert set(overviews) == {spec.code for spec in DEMO_PROGRAMMES}
    assert all(len(o.versions) == 1 and o.last_run is not None for o in overviews.values())
    assert (services.settings.var_dir / "charts" / "food_basket-region.svg").exists()
    run_programmes(services, console)
    again = {o.programme.code: o for o in eligibility.list_programmes()}
    assert all(len(o.versions) == 1 for o in again.values())
    assert {c: o.last_run.id for c, o in again.items() if o.last_run} == {
        c: o.last_run.id for c, o in overviews.items() if o.last_run
    }
    assert "Old-age pension" in first
