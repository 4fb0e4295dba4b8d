"""The demo's ledger step: cycles, redemptions card-less and by card, payout, reconciliation."""

from __future__ import annotations

import pytest
from rich.console import Console

from fairshare.bootstrap import Services
from fairshare.cli.demo_eligibility import run_programmes
from fairshare.cli.demo_ledger import run_ledger
from tests.integration.eligibility.conftest import Population

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _run(services: Services) -> str:
    console = Console(record=True, width=200)
    run_ledger(services, console)
    return " ".join(console.export_text().split())


def test_the_demo_shows_a_card_from_issue_to_loss_and_can_run_again(
    services: Services, population: Population
) -> None:
    """A pensioner's card is printed, valid offline and redeemed; reported lost, the offline
    check and the till both refuse it. Every asset still balances, and a rerun replays."""
    run_programmes(services, Console(record=True))
    first = _run(services)
    assert "checked offline (trust list and revocation list only): valid" in first
    assert "by card at the shop;" in first
    assert "card reported lost and revoked: offline check now says revoked" in first
    assert "the lost card at the till: refused (the card was reported lost or stolen)" in first
    assert "lost card was accepted" not in first
    [printed] = (services.settings.var_dir / "cards").glob("card-*.pdf")
    assert printed.read_bytes().startswith(b"%PDF")
    assert "journal = totals: balanced" in first
    again = _run(services)
    assert "redeemed by card in an earlier run of the demo this period" in again
    assert "the lost card at the till: refused" in again
    assert "journal = totals: balanced" in again
