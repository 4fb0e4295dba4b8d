"""Merchant payouts: pain.001 out with holds, pain.002 in posting, releasing or reversing."""

from __future__ import annotations

from datetime import date

import pytest
from defusedxml.ElementTree import fromstring

from fairshare.bootstrap import Services
from fairshare.errors import InvalidInput, NotFound
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.model import PendingState
from fairshare.ledger.payouts import NothingToPay
from fairshare.ledger.services import Ledger
from tests.conftest import actor
from tests.integration.ledger.conftest import IN_PERIOD, PERIOD, World, checked_in
from tests.unit.ledger.status_reports import ReportedBlock, ReportedTransaction, build_pain002

pytestmark = pytest.mark.postgres
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


@pytest.fixture
def redeemed(
    services: Services, world: World, cycles: Cycles, ledger: Ledger, disburser: Actor
) -> World:
    """Two merchants with money to be paid: the shop 130.00 + 50.00, the station 20.00."""
    cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    people = world.population.people
    for key, till, person, amount in (
        ("r-shop-0001", "shop-till", "p1", 13000),
        ("r-shop-0002", "shop-till", "p4", 5000),
        ("r-station-01", "station-till", "p4", 2000),
    ):
        ledger.redeem(
            actor(Role.MERCHANT, Purpose.REDEMPTION, username=till),
            key=key,
            beneficiary_id=people[person],
            programme="old_age_pension",
            asset="local_currency",
            amount=amount,
            authorisation=checked_in(services, people[person]),
            today=IN_PERIOD,
        )
    return world


def _report(message_id: str, original: str, statuses: list[tuple[str, str]]) -> bytes:
    return build_pain002(
        message_id=message_id,
        original_message_id=original,
        blocks=[
            ReportedBlock(
                f"{original}-1",
                transactions=tuple(ReportedTransaction(e2e, code) for e2e, code in statuses),
            )
        ],
    )


def _settlements(ledger: Ledger, disburser: Actor) -> dict[str, tuple[int, int]]:
    return {
        a.owner_id or "": (a.balance, a.available)
        for a in ledger.accounts(disburser, kind="settlement")
    }


def test_export_holds_each_merchant_balance_and_writes_one_payment_each(
    services: Services, redeemed: World, ledger: Ledger, disburser: Actor
) -> None:
    batch = services.payouts.export(disburser, date(2025, 6, 20))
    assert (batch.payments, batch.total) == (2, 20000)
    document = fromstring(batch.document)
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "200.00"
    amounts = sorted(node.text or "" for node in document.iterfind(".//p:InstdAmt", namespaces=NS))
    assert amounts == ["180.00", "20.00"]
    shop, station = redeemed.shop.id, redeemed.station.id
    assert _settlements(ledger, disburser) == {shop: (18000, 0), station: (2000, 0)}
    with pytest.raises(NothingToPay):
        services.payouts.export(disburser, date(2025, 6, 20))
    assert ledger.trial_balance(disburser).balanced


def test_status_report_pays_releases_and_reverses_and_is_idempotent(
    services: Services, redeemed: World, ledger: Ledger, disburser: Actor
) -> None:
    batch = services.payouts.export(disburser, date(2025, 6, 20))
    ids = [
        node.text or ""
        for node in fromstring(batch.document).iterfind(".//p:EndToEndId", namespaces=NS)
    ]
    shop_payment, station_payment = ids  # blocks are ordered by bank: CAIX… before WEST…
    report = _report(
        "BANK-0001", batch.message_id, [(shop_payment, "ACSC"), (station_payment, "RJCT")]
    )
    result = services.payouts.import_status(disburser, report)
    assert (result.paid, result.rejected, result.unknown) == (1, 1, 0)
    shop, station = redeemed.shop.id, redeemed.station.id
    assert _settlements(ledger, disburser) == {shop: (0, 0), station: (2000, 2000)}
    again = services.payouts.import_status(disburser, report)
    assert (again.paid, again.rejected, again.already) == (0, 0, 2)
    # The shop's payment comes back later: the money returns to its settlement account.
    returned = services.payouts.import_status(
        disburser, _report("BANK-0002", batch.message_id, [(shop_payment, "RJCT")])
    )
    assert returned.returned == 1
    assert _settlements(ledger, disburser) == {shop: (18000, 18000), station: (2000, 2000)}
    assert ledger.trial_balance(disburser).balanced
    assert services.ledger_reports.reconciliation(disburser).balanced
    holds = [t for t in ledger.transfers(disburser, kind="payout") if t.flags == 1]
    assert {ledger.hold_state(h.id) for h in holds} == {PendingState.POSTED, PendingState.VOIDED}


def test_reports_for_other_files_and_hostile_xml_are_refused(
    services: Services, redeemed: World, disburser: Actor
) -> None:
    services.payouts.export(disburser, date(2025, 6, 20))
    with pytest.raises(NotFound, match="no payout file"):
        services.payouts.import_status(
            disburser, _report("BANK-0003", "SOMEONE-ELSES", [("x" * 32, "ACSC")])
        )
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]><Document>&lol2;</Document>'
    )
    with pytest.raises(InvalidInput):
        services.payouts.import_status(disburser, bomb)


def test_only_disbursement_may_pay_out(services: Services, redeemed: World) -> None:
    auditor = actor(Role.AUDITOR, Purpose.AUDIT)
    with pytest.raises(PurposeNotAllowed):
        services.payouts.export(auditor, date(2025, 6, 20))


def test_reconciliation_compares_the_journal_with_the_totals(
    services: Services, redeemed: World, disburser: Actor
) -> None:
    auditor = actor(Role.AUDITOR, Purpose.AUDIT)
    report = services.ledger_reports.reconciliation(auditor, asset="local_currency")
    [money] = report.assets
    assert money.balanced
    kinds = {line.kind: line for line in money.kinds}
    assert kinds["settlement"].closing == 20000
    assert kinds["entitlement"].closing == 2 * 13000 - 20000
    assert money.flows["redemption"] == 20000
    assert money.flows["entitlement"] == 26000
    # A total changed behind the ledger's back shows as a mismatch.
    with services.uow() as uow:
        from sqlalchemy import text

        uow.connection.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 1, "
                "debits_posted = debits_posted + 1 WHERE kind = 'settlement'"
            )
        )
        uow.commit()
    assert services.ledger_reports.reconciliation(auditor).balanced  # net unchanged
    with services.uow() as uow:
        uow.connection.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 7 "
                "WHERE kind = 'settlement'"
            )
        )
        uow.commit()
    broken = services.ledger_reports.reconciliation(auditor, asset="local_currency")
    assert not broken.balanced
    with pytest.raises(InvalidInput, match="2026-11"):
        services.ledger_reports.reconciliation(auditor, period="June")
