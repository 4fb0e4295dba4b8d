"""The demo's ledger step: fund each programme, post this month's cycle, redeem card-less at
three merchants, then with a pensioner's card (issued, printed, checked offline, redeemed,
reported lost and refused), export the payout file and reconcile.

Safe to run again: budgets and redemptions carry fixed idempotency keys for the month (a rerun
replays them), a cycle pays nobody twice, and merchants that exist are kept.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import TaskID
from rich.table import Table
from sqlalchemy import select

from fairshare.assets import format_amount
from fairshare.bootstrap import Services
from fairshare.cli.console import progress_bar
from fairshare.credentials.card import InvalidCredential, Verifier, format_card_id
from fairshare.credentials.lists import read_revocation_list, read_trust_list
from fairshare.credentials.model import Authorisation, AuthorisationMethod
from fairshare.credentials.render import PrintedCard, card_pdf, write
from fairshare.credentials.services import verify_in_person
from fairshare.dedup.orm import dedup_merges
from fairshare.eligibility.orm import enrolments
from fairshare.errors import FairshareError
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.model import IdempotencyKeyReused, UnknownMerchant, period_of
from fairshare.ledger.payouts import NothingToPay
from fairshare.registry.orm import people

DISBURSER = Actor("officer", Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT)
ADMIN = Actor("admin", Role.ADMINISTRATOR, Purpose.ADMINISTRATION)
CHECKER = Actor("caseworker", Role.CASEWORKER, Purpose.IDENTITY_VERIFICATION)
CARD_DESK = Actor("caseworker", Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
AUDITOR = Actor("auditor", Role.AUDITOR, Purpose.AUDIT)
# Example bank details (the IBANs are the standard's published examples).
MERCHANTS = (
    ("tienda-centro", "Tienda Centro", "shop", "Costa", "ES9121000418450200051332", "CAIXESBB"),
    ("farmacia-sol", "Farmacia Sol", "pharmacy", "Sierra", "DE89370400440532013000", "COBADEFF"),
    (
        "gasolinera-sur",
        "Gasolinera Sur",
        "fuel_station",
        "Selva",
        "GB82WEST12345698765432",
        "WESTGB2L",
    ),
)
REDEMPTIONS_PER_PROGRAMME = 5


def run_ledger(services: Services, console: Console) -> None:
    today = date.today()
    ledger = services.ledger
    _merchants(services, console)
    table = Table("programme", "period", "beneficiaries", "posted now", "paid in all")
    for code in ("old_age_pension", "food_basket", "subsidised_fuel", "chronic_medicine"):
        version = services.eligibility.get_programme(code).versions[-1]
        period = period_of(version.period.value, today)
        with services.uow() as uow:
            enrolled = (
                uow.connection.execute(
                    select(enrolments.c.subject_id)
                    .where(enrolments.c.programme == code)
                    .order_by(enrolments.c.subject_id)
                )
                .scalars()
                .all()
            )
        if not enrolled:
            continue
        budget = len(enrolled) * version.amount
        ledger.fund(DISBURSER, code, budget, f"demo-budget-{code}-{period.label}", "demo budget")
        with progress_bar() as bar:
            task = bar.add_task(f"cycle {code} {period.label}", total=len(enrolled))

            def advance(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)  # total: those left to pay

            result = services.cycles.run(
                DISBURSER, code, period.label, today=today, progress=advance
            )
        table.add_row(
            code,
            period.label,
            f"{result.enrolled:,}",
            f"{result.posted:,}",
            format_amount(version.asset, (result.posted + result.already_paid) * version.amount),
        )
        _redeem(services, console, code, version.asset, version.amount, enrolled, period.label)
        if code == "old_age_pension":  # the card-less redemptions take the first pensioners
            _by_card(
                services,
                console,
                _last_unmerged(services, enrolled),
                version.amount // 2,
                period.label,
            )
    console.print(table)
    _payout(services, console, today)
    _reconcile(services, console)


def _merchants(services: Services, console: Console) -> None:
    ledger = services.ledger
    tills = {"shop": "merchant", "pharmacy": "pharmacy-till", "fuel_station": "station-till"}
    added = []
    for code, name, category, region, iban, bic in MERCHANTS:
        try:
            ledger.merchant(code)
        except UnknownMerchant:
            ledger.register_merchant(
                ADMIN,
                code=code,
                name=name,
                category=category,
                region=region,
                iban=iban,
                bic=bic,
                usernames=[tills[category]],
            )
            added.append(code)
    note = f"registered {', '.join(added)}" if added else "already registered"
    console.print(f"   merchants: {note}")


def _till(asset: str) -> Actor:
    username = {"medicine_pack": "pharmacy-till", "fuel": "station-till"}.get(asset, "merchant")
    return Actor(username, Role.MERCHANT, Purpose.REDEMPTION)


def _redeem(
    services: Services,
    console: Console,
    code: str,
    asset: str,
    amount: int,
    enrolled: Sequence[str],
    period: str,
) -> None:
    """A few card-less redemptions: a caseworker checks identity, the merchant redeems."""
    done = earlier = 0
    for index, subject in enumerate(enrolled[:REDEMPTIONS_PER_PROGRAMME]):
        with services.uow() as uow:
            person = uow.connection.execute(
                select(people.c.id)
                .where((people.c.id == subject) | (people.c.household_id == subject))
                .order_by(people.c.id)
                .limit(1)
            ).scalar()
        if person is None:
            continue
        check = verify_in_person(
            services.uow(), CHECKER, person, "national_id_document", "demo: ID card seen"
        )
        part = max(1, amount // 2) if asset in ("local_currency", "fuel") else amount
        try:
            services.ledger.redeem(
                _till(asset),
                key=f"demo-{code}-{period}-{index}",
                beneficiary_id=subject,
                programme=code,
                asset=asset,
                amount=part,
                authorisation=Authorisation(AuthorisationMethod.CASEWORKER, check.id),
            )
            done += 1
        except IdempotencyKeyReused:
            earlier += 1  # redeemed by an earlier run of the demo this period
        except FairshareError as error:  # e.g. a rerun after the demo month changed terms
            console.print(f"   redemption for {code} refused: {error.message}")
    note = f", {earlier} from an earlier run" if earlier else ""
    console.print(
        f"   {done} card-less redemptions of {code} (identity checked by a caseworker){note}"
    )


def _last_unmerged(services: Services, subjects: Sequence[str]) -> str:
    """The last of `subjects` that deduplication has not merged into another record."""
    with services.uow() as uow:
        merged = set(
            uow.connection.execute(
                select(dedup_merges.c.merged_id).where(dedup_merges.c.unmerged_at.is_(None))
            ).scalars()
        )
    return next((s for s in reversed(subjects) if s not in merged), subjects[-1])


def _offline_verdict(services: Services, qr_text: str) -> str:
    """What a merchant device without a network says of a card: only the signed trust list
    and revocation list, as `fairshare card verify` reads them."""
    cards = services.cards
    trusted = read_trust_list(cards.trust_list())
    revoked = read_revocation_list(cards.revocation_list(ADMIN), trusted.anchor).revoked
    return Verifier(trusted.keys, revoked).verify(qr_text, int(time.time())).status.value


def _by_card(services: Services, console: Console, person: str, amount: int, period: str) -> None:
    """A pensioner's card, start to end: issued and printed, checked offline, redeemed at
    the shop by card; then reported lost, and the same card refused."""
    card = services.cards.issue(CARD_DESK, person)
    out = services.settings.var_dir / "cards"
    out.mkdir(parents=True, exist_ok=True)
    printed = out / f"card-{card.card_id}.pdf"
    write(printed, card_pdf(PrintedCard(card.claims, card.qr_text, services.settings.card_office)))
    shown = format_card_id(card.card_id)
    console.print(f"   card {shown} issued to a pensioner and printed: {printed}")
    verdict = _offline_verdict(services, card.qr_text)
    console.print(f"   checked offline (trust list and revocation list only): {verdict}")
    till, money = _till("local_currency"), format_amount("local_currency", amount)
    request = {
        "beneficiary_id": person,
        "programme": "old_age_pension",
        "asset": "local_currency",
        "amount": amount,
    }
    try:
        redemption = services.ledger.redeem(
            till,
            key=f"demo-card-{period}",
            authorisation=Authorisation(AuthorisationMethod.CARD, card.qr_text),
            **request,  # type: ignore[arg-type]
        )
        left = format_amount("local_currency", redemption.available_after)
        console.print(f"   redeemed {money} by card at the shop; {left} left this period")
    except IdempotencyKeyReused:
        console.print("   redeemed by card in an earlier run of the demo this period")
    services.cards.revoke(CARD_DESK, card.card_id, "demo: reported lost")
    console.print(
        f"   card reported lost and revoked: offline check now says "
        f"{_offline_verdict(services, card.qr_text)}"
    )
    try:
        services.ledger.redeem(
            till,
            key=f"demo-lost-card-{card.card_id}",
            authorisation=Authorisation(AuthorisationMethod.CARD, card.qr_text),
            **request,  # type: ignore[arg-type]
        )
    except InvalidCredential as refused:
        console.print(
            f"   the lost card at the till: refused ({refused.check.message}); nothing moved"
        )
    else:
        console.print("   [red]the lost card was accepted at the till[/]: report this")


def _payout(services: Services, console: Console, today: date) -> None:
    out = services.settings.var_dir / "payouts"
    try:
        batch = services.payouts.export(DISBURSER, today + timedelta(days=1))
    except NothingToPay:
        console.print("   payouts: nothing new to pay since the last file")
        return
    out.mkdir(parents=True, exist_ok=True)
    path: Path = out / batch.filename
    path.write_bytes(batch.document)
    console.print(
        f"   payout file (ISO 20022 pain.001) for {batch.payments} merchant(s), "
        f"{format_amount(batch.asset, batch.total)}: {path}"
    )


def _reconcile(services: Services, console: Console) -> None:
    report = services.ledger_reports.reconciliation(AUDITOR)
    table = Table("asset", "account kind", "balance (journal)", "balance (totals)", "matches")
    for asset in report.assets:
        for line in asset.kinds:
            table.add_row(
                asset.asset,
                line.kind,
                format_amount(asset.asset, line.journal_now),
                format_amount(asset.asset, line.totals_now),
                "yes" if line.matches else "[red]NO[/]",
            )
    console.print(table)
    verdict = "[green]balanced[/]" if report.balanced else "[red]NOT balanced[/]"
    console.print(f"   reconciliation: every asset sums to zero, journal = totals: {verdict}")
