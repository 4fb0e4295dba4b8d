"""The `fairshare ledger|cycle|merchant|payout` commands, on both databases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from fairshare.bootstrap import Services
from fairshare.cli import ledger as ledger_cli
from fairshare.cli.main import app
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.services import Ledger
from tests.conftest import actor
from tests.integration.ledger.conftest import PERIOD, World, checked_in
from tests.unit.ledger.status_reports import ReportedBlock, ReportedTransaction, build_pain002

pytestmark = pytest.mark.postgres


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command line, on the test's database transaction."""
    monkeypatch.setattr(ledger_cli, "services", lambda: services)
    monkeypatch.setenv("FAIRSHARE_ACTOR", "test-operator")
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(result: Result) -> str:
    return " ".join(result.output.split())


def test_fund_prints_its_key_and_a_retry_with_it_moves_nothing(
    cli: CliRunner, world: World, ledger: Ledger, disburser: Actor
) -> None:
    """AMOUNT in entry units; the printed key retries safely."""
    funded = invoke(cli, "ledger", "fund", "old_age_pension", "2500.50", "--reason", "top-up")
    assert funded.exit_code == 0, funded.output
    assert "funded old_age_pension with 2,500.50 local currency" in flat(funded)
    key = flat(funded).split("idempotency key ")[1].split()[0]
    again = invoke(
        cli, "ledger", "fund", "old_age_pension", "2500.50", "--reason", "top-up", "--key", key
    )
    assert again.exit_code == 0, again.output
    assert "already done" in flat(again)
    [funding] = ledger.accounts(disburser, kind="funding", programme="old_age_pension")
    assert funding.balance == 1_000_000 + 250_050
    changed = invoke(
        cli, "ledger", "fund", "old_age_pension", "1.00", "--reason", "top-up", "--key", key
    )
    assert changed.exit_code == 2 and "already used" in flat(changed)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("old_age_pension", "10.001"), 2, "at most 2 decimal places"),
        (("old_age_pension", "0"), 2, "more than zero"),
        (("no_such_programme", "10"), 3, "no_such_programme"),
    ],
)
def test_bad_funding_exits_with_the_error_code(
    cli: CliRunner, world: World, args: tuple[str, str], code: int, message: str
) -> None:
    """Bad amounts exit 2, an unknown programme exits 3, each with its message."""
    result = invoke(cli, "ledger", "fund", *args, "--reason", "test")
    assert result.exit_code == code, result.output
    assert message in flat(result)


def test_cycle_run_list_and_expire(cli: CliRunner, world: World) -> None:
    """A cycle shows its progress and result; a rerun pays nobody twice; quotas expire, with
    a progress bar of their own."""
    ran = invoke(cli, "cycle", "run", "old_age_pension", PERIOD)
    assert ran.exit_code == 0, ran.output
    assert "2/2" in ran.output  # the progress bar, completed
    assert "posted 2 entitlements of 130.00 local currency (260.00 local currency)" in flat(ran)
    again = invoke(cli, "cycle", "run", "old_age_pension", PERIOD)
    assert "posted 0 entitlements" in flat(again) and "2 already paid" in flat(again)
    assert invoke(cli, "cycle", "run", "food_basket", PERIOD).exit_code == 0
    listed = invoke(cli, "cycle", "list")
    assert "old_age_pension" in listed.output and "completed" in listed.output
    expired = invoke(cli, "cycle", "expire", "food_basket", PERIOD)
    assert "2/2" in expired.output  # its progress bar too
    assert "2 quotas expired, 2 food baskets back to the programme" in flat(expired)
    future = invoke(cli, "cycle", "run", "old_age_pension", "2999-01")
    assert future.exit_code == 2 and "has not begun" in flat(future)


def test_accounts_transfers_and_the_trial_balance(
    cli: CliRunner, world: World, services: Services
) -> None:
    """Balanced: exit 0 and BALANCED; a total changed behind the ledger's back: exit 1."""
    invoke(cli, "cycle", "run", "old_age_pension", PERIOD)
    accounts = invoke(cli, "ledger", "accounts", "--kind", "funding")
    assert "9,740.00 local currency" in accounts.output  # 10,000.00 less two pensions
    assert "funding:old_age_pension" in "".join(accounts.output.split())
    transfers = invoke(cli, "ledger", "transfers", "--kind", "entitlement", "--limit", "5")
    assert transfers.output.count("130.00 local currency") == 2
    balanced = invoke(cli, "ledger", "trial-balance")
    assert balanced.exit_code == 0, balanced.output
    assert "BALANCED" in balanced.output and "NOT BALANCED" not in balanced.output
    assert "local_currency" in balanced.output and "entitlement" in balanced.output
    reconciled = invoke(cli, "ledger", "reconcile")
    assert reconciled.exit_code == 0, reconciled.output
    assert "RECONCILED" in reconciled.output
    services.bind.execute(  # type: ignore[union-attr]
        text(
            "UPDATE ledger_accounts SET credits_posted = credits_posted + 1 "
            "WHERE code = 'funding:food_basket:food_basket'"
        )
    )
    broken = invoke(cli, "ledger", "trial-balance")
    assert broken.exit_code == 1
    assert "NOT BALANCED" in broken.output
    # It says what is wrong: one food basket credited that no debit matches.
    assert "posted credits exceed the other side by 1 food basket" in flat(broken)
    assert "break their flags" not in broken.output
    assert invoke(cli, "ledger", "reconcile").exit_code == 1
    assert invoke(cli, "ledger", "expire-holds").output.strip() == "voided 0 expired holds"


def test_merchant_add_and_list(cli: CliRunner, world: World) -> None:
    """An operator registers a merchant with its till users; bad bank details exit 2."""
    added = invoke(
        cli, "merchant", "add", "farmacia-2",
        "--name", "Farmacia Norte", "--category", "pharmacy", "--region", "Norte",
        "--iban", "DE89 3704 0044 0532 0130 00", "--bic", "COBADEFFXXX",
        "--user", "norte-till",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "accepts local_currency, medicine_pack" in flat(added)
    listed = invoke(cli, "merchant", "list")
    assert "farmacia-2" in listed.output and "norte-till" in listed.output
    bad = invoke(
        cli, "merchant", "add", "farmacia-3",
        "--name", "Farmacia Sur", "--category", "pharmacy", "--region", "Sur",
        "--iban", "DE00000000000000000000", "--bic", "COBADEFFXXX",
    )  # fmt: skip
    assert bad.exit_code == 2, bad.output


def test_payout_export_and_status_import(
    cli: CliRunner, world: World, services: Services, ledger: Ledger, tmp_path: Path
) -> None:
    """A redemption paid out: the pain.001 is written; the bank's pain.002 posts the hold."""
    invoke(cli, "cycle", "run", "old_age_pension", PERIOD)
    p1 = world.population.people["p1"]
    ledger.redeem(
        actor(Role.MERCHANT, Purpose.REDEMPTION, username="shop-till"),
        key="cli-till-0001",
        beneficiary_id=p1,
        programme="old_age_pension",
        asset="local_currency",
        amount=4000,
        authorisation=checked_in(services, p1),
    )
    nothing = tmp_path / "none.xml"
    out = tmp_path / "payouts.xml"
    exported = invoke(cli, "payout", "export", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert "1 payments, 40.00 local currency" in flat(exported)
    assert b"<CtrlSum>40.00</CtrlSum>" in out.read_bytes()
    again = invoke(cli, "payout", "export", "--out", str(nothing))
    assert again.exit_code == 4 and not nothing.exists()
    [payment] = re.findall(r"<EndToEndId>([^<]+)</EndToEndId>", out.read_text())
    message_id = flat(exported).split("(message ")[1].rstrip(")")
    report = tmp_path / "status.xml"
    report.write_bytes(
        build_pain002(
            message_id="BANK-STATUS-01",
            original_message_id=message_id,
            blocks=[
                ReportedBlock(
                    f"{message_id}-1", transactions=(ReportedTransaction(payment, "ACSC"),)
                )
            ],
        )
    )
    imported = invoke(cli, "payout", "import", str(report))
    assert imported.exit_code == 0, imported.output
    assert "1 paid, 0 returned" in flat(imported)
    disburser = actor(Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT)
    [settlement] = ledger.accounts(disburser, kind="settlement")
    assert settlement.balance == 0
