"""`fairshare ledger|cycle|merchant|payout`: fund programmes, run entitlement cycles, register
merchants, pay them out through the bank, and prove that every asset balances."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import typer
from rich.table import Column, Table

from fairshare.assets import format_amount, to_minor_units
from fairshare.cli.console import console, errors, operator, progress_bar, reported, services
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.model import (
    AccountKind,
    AssetBalance,
    MerchantCategory,
    TransferFlag,
    TransferKind,
    TrialBalance,
)
from fairshare.ledger.reports import Reconciliation

ledger_app = typer.Typer(
    help="The ledger: funding, accounts, transfers, the trial balance and reconciliation.",
    no_args_is_help=True,
)
cycle_app = typer.Typer(
    help="Entitlement cycles: pay every enrolled beneficiary once per period.",
    no_args_is_help=True,
)
merchant_app = typer.Typer(
    help="Merchants: shops, pharmacies and fuel stations that redeem entitlements.",
    no_args_is_help=True,
)
payout_app = typer.Typer(
    help="Merchant payouts: ISO 20022 pain.001 files out, pain.002 status reports in.",
    no_args_is_help=True,
)


def disburser() -> Actor:
    return operator(Purpose.DISBURSEMENT, Role.PROGRAMME_OFFICER)


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"date {text[:20]!r} is not a date; write it as YYYY-MM-DD",
            errors=[{"field": "date", "reason": "YYYY-MM-DD"}],
        ) from None


# ---- ledger ---------------------------------------------------------------------------------


@ledger_app.command("fund")
def fund(
    programme: str = typer.Argument(..., help="The programme's code"),
    amount: str = typer.Argument(..., help="In the programme's unit, e.g. 10000.00"),
    reason: str = typer.Option(..., help="Why: the appropriation or decision behind it"),
    key: str | None = typer.Option(
        None, help="Idempotency key; reuse the printed one to retry safely (default: new)"
    ),
) -> None:
    """Appropriate budget to a programme (treasury → programme funding)."""
    idempotency_key = key or str(uuid.uuid4())
    with reported():
        active = services()
        overview = active.eligibility.get_programme(programme)
        asset = overview.versions[-1].asset if overview.versions else overview.programme.asset
        minor = to_minor_units(asset, amount)
        if not key:
            console.print(f"idempotency key {idempotency_key} (pass --key to retry this safely)")
        transfer = active.ledger.fund(disburser(), programme, minor, idempotency_key, reason)
    again = " (already done: this is the first result)" if transfer.replayed else ""
    console.print(f"funded [bold]{programme}[/] with {transfer.amount_text}{again}")
    console.print(f"transfer {transfer.id}")


@ledger_app.command("accounts")
def accounts(
    kind: AccountKind | None = typer.Option(None, help="Only accounts of this kind"),
    programme: str | None = typer.Option(None, help="Only this programme's"),
) -> None:
    """System and merchant accounts with their balances."""
    with reported():
        found = services().ledger.accounts(
            disburser(), kind=kind.value if kind else None, programme=programme
        )
    # The code names kind, owner and asset; amounts and ids are never wrapped, so they copy.
    table = Table(
        Column("account", overflow="fold"),
        Column("balance", no_wrap=True, justify="right"),
        Column("on hold", no_wrap=True, justify="right"),
        Column("id", no_wrap=True),
    )
    for account in found:
        table.add_row(
            account.code,
            account.text(),
            format_amount(account.asset, account.debits_pending) if account.debits_pending else "",
            account.id,
        )
    console.print(table)


def trial_balance_tables(result: TrialBalance) -> list[Table]:
    """One table per asset: debits and credits, each kind of account's net balance, and
    whether the asset sums to zero."""
    tables = []
    for line in result.assets:
        verdict = (
            "[green]BALANCED[/]"
            if line.balanced
            else f"[bold red]NOT BALANCED[/] ({'; '.join(_imbalance(line))})"
        )
        table = Table(
            "",
            Column("amount", justify="right", no_wrap=True),
            Column("minor units", justify="right", no_wrap=True),
            title=f"{line.asset} ({line.accounts:,} accounts): {verdict}",
        )
        rows = [
            ("debits posted", line.debits_posted),
            ("credits posted", line.credits_posted),
            ("debits pending", line.debits_pending),
            ("credits pending", line.credits_pending),
        ]
        rows += [
            (f"{kind.value.replace('_', ' ')} balance", line.by_kind[kind.value])
            for kind in AccountKind
            if kind.value in line.by_kind
        ]
        for label, amount in rows:
            table.add_row(label, format_amount(line.asset, amount), f"{amount:,}")
        tables.append(table)
    return tables


def _imbalance(line: AssetBalance) -> list[str]:
    """What is wrong with an asset's line of the trial balance, in words."""
    reasons = []
    for state, debits, credits in (
        ("posted", line.debits_posted, line.credits_posted),
        ("pending", line.debits_pending, line.credits_pending),
    ):
        if debits != credits:
            difference = format_amount(line.asset, abs(debits - credits))
            larger = "debits" if debits > credits else "credits"
            reasons.append(f"{state} {larger} exceed the other side by {difference}")
    if line.violations:
        reasons.append(f"{line.violations:,} accounts break their flags")
    return reasons


@ledger_app.command("trial-balance")
def trial_balance() -> None:
    """Prove every asset sums to zero; exit code 1 when one does not."""
    with reported(), console.status("Summing every account…"):
        result = services().ledger.trial_balance(disburser())
    for table in trial_balance_tables(result):
        console.print(table)
    console.print(f"{result.transfers:,} transfers")
    if not result.balanced:
        errors.print("[bold red]NOT BALANCED[/]: report this to the operator", highlight=False)
        raise typer.Exit(1)
    console.print("[green]BALANCED[/]: every asset's debits equal its credits")


@ledger_app.command("transfers")
def transfers(
    account: str | None = typer.Option(None, help="Only transfers of this account id"),
    kind: TransferKind | None = typer.Option(None, help="Only transfers of this kind"),
    programme: str | None = typer.Option(None),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """Transfers, newest first."""
    with reported():
        found = services().ledger.transfers(
            disburser(),
            account_id=account,
            kind=kind.value if kind else None,
            programme=programme,
            limit=limit,
        )
    table = Table("created", "kind", "amount", "programme", "period", "flags", "key")
    for transfer in found:
        table.add_row(
            transfer.created_at.strftime("%Y-%m-%d %H:%M"),
            transfer.kind.value,
            transfer.amount_text,
            transfer.programme or "",
            transfer.period or "",
            _flags(transfer.flags),
            transfer.idempotency_key,
        )
    console.print(table)


def _flags(flags: TransferFlag) -> str:
    return ", ".join(f.name.lower() for f in TransferFlag if f and f.name and f in flags)


@ledger_app.command("expire-holds")
def expire_holds() -> None:
    """Void every hold whose timeout has passed; safe to run again."""
    with reported():
        expired = services().ledger.expire_holds(disburser())
    console.print(f"voided {expired:,} expired holds")


@ledger_app.command("reconcile")
def reconcile(
    asset: str | None = typer.Option(None, help="One asset (default: all)"),
    period: str | None = typer.Option(None, help="A month like 2026-11 (default: all time)"),
) -> None:
    """The journal of transfers against the account totals, per asset and kind of account;
    exit code 1 when they disagree."""
    # Seconds on a ledger of millions of transfers: say what is happening meanwhile.
    with reported(), console.status("Summing the journal of transfers…"):
        result = services().ledger_reports.reconciliation(disburser(), asset, period)
    for table in reconciliation_tables(result):
        console.print(table)
    if not result.balanced:
        errors.print("[bold red]NOT RECONCILED[/]: report this to the operator", highlight=False)
        raise typer.Exit(1)
    console.print("[green]RECONCILED[/]: the journal matches every account total")


def reconciliation_tables(result: Reconciliation) -> list[Table]:
    tables = []
    span = result.period or "all time"
    for line in result.assets:
        table = Table(
            "account kind",
            "opening",
            "in",
            "out",
            "closing",
            "journal",
            "totals",
            "",
            title=f"{line.asset}, {span}: "
            + ("reconciled" if line.balanced else "NOT RECONCILED")
            + (f", {line.text(line.on_hold)} on hold" if line.on_hold else ""),
        )
        for kind in line.kinds:
            table.add_row(
                kind.kind.replace("_", " "),
                line.text(kind.opening),
                line.text(kind.inflow),
                line.text(kind.outflow),
                line.text(kind.closing),
                line.text(kind.journal_now),
                line.text(kind.totals_now),
                "ok" if kind.matches else "[bold red]MISMATCH[/]",
            )
        tables.append(table)
    return tables


# ---- cycles ---------------------------------------------------------------------------------


@cycle_app.command("run")
def run_cycle(
    programme: str,
    period: str = typer.Argument(..., help="2026-11 (monthly), 2026-Q4 or 2026"),
) -> None:
    """Post the period's entitlement to every enrolled beneficiary not yet paid for it; run
    it again after an interruption to pay the rest (nobody is paid twice)."""
    with reported(), progress_bar() as bar:
        task = bar.add_task(f"{programme} {period}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = services().cycles.run(disburser(), programme, period, progress=progress)
    console.print(
        f"{result.programme} {result.period}: posted {result.posted:,} entitlements of "
        f"{format_amount(result.asset, result.amount)} ({result.total_text}); "
        f"{result.already_paid:,} already paid, {result.enrolled:,} enrolled"
    )


@cycle_app.command("expire")
def expire_cycle(programme: str, period: str) -> None:
    """Return what is left of an ended period's in-kind quotas to the programme."""
    with reported(), progress_bar() as bar:
        task = bar.add_task(f"{programme} {period} expiry", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = services().cycles.expire(disburser(), programme, period, progress=progress)
    total = format_amount(result.asset, result.total) if result.asset else "nothing"
    console.print(
        f"{result.programme} {result.period}: {result.accounts:,} quotas expired, "
        f"{total} back to the programme"
    )


@cycle_app.command("list")
def list_cycles(programme: str | None = typer.Option(None)) -> None:
    """Every cycle started, newest first."""
    with reported():
        found = services().cycles.cycles(programme)
    table = Table("programme", "period", "version", "status", "posted", "enrolled", "total", "by")
    for cycle in found:
        table.add_row(
            cycle["programme"],
            cycle["period"],
            str(cycle["rule_version"]),
            cycle["status"],
            f"{cycle['posted']:,}",
            f"{cycle['enrolled']:,}",
            format_amount(cycle["asset"], cycle["total"]),
            cycle["run_by"],
        )
    console.print(table)


# ---- merchants ------------------------------------------------------------------------------


@merchant_app.command("add")
def add_merchant(
    code: str = typer.Argument(..., help="Short code, e.g. tienda-1"),
    name: str = typer.Option(...),
    category: MerchantCategory = typer.Option(...),
    region: str = typer.Option(...),
    iban: str = typer.Option(..., help="Where payouts go"),
    bic: str = typer.Option(...),
    accepts: list[str] = typer.Option(
        [], help="An asset it hands out (repeat; default: by category)"
    ),
    user: list[str] = typer.Option([], help="A till user who acts for it (repeat)"),
) -> None:
    """Register a merchant and the user accounts that redeem for it."""
    with reported():
        merchant = services().ledger.register_merchant(
            operator(Purpose.ADMINISTRATION),
            code=code,
            name=name,
            category=category.value,
            region=region,
            iban=iban,
            bic=bic,
            accepts=accepts or None,
            usernames=user,
        )
    console.print(
        f"registered [bold]{merchant.code}[/] ({merchant.name}), accepts "
        f"{', '.join(merchant.accepts)}"
    )


@merchant_app.command("list")
def list_merchants() -> None:
    """Registered merchants, what they accept and who acts for them."""
    with reported():
        found = services().ledger.list_merchants()
    table = Table("code", "name", "category", "region", "accepts", "IBAN", "users")
    for merchant in found:
        table.add_row(
            merchant.code,
            merchant.name,
            merchant.category.value,
            merchant.region,
            ", ".join(merchant.accepts),
            merchant.iban,
            ", ".join(merchant.usernames),
        )
    console.print(table)


# ---- payouts --------------------------------------------------------------------------------


@payout_app.command("export")
def export_payouts(
    out: Path = typer.Option(..., help="Where to write the pain.001 file"),
    on: str | None = typer.Option(None, "--date", help="Execution date YYYY-MM-DD (today)"),
) -> None:
    """Hold every merchant's settlement balance and write the bank's credit-transfer file."""
    with reported():
        batch = services().payouts.export(disburser(), _date(on) or date.today())
        out.write_bytes(batch.document)
    console.print(
        f"wrote {out}: {batch.payments:,} payments, {format_amount(batch.asset, batch.total)} "
        f"(message {batch.message_id})"
    )


@payout_app.command("import")
def import_status(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A pain.002 report"),
) -> None:
    """Apply the bank's status report: paid payouts post, rejected and returned ones go back
    to the merchant's settlement account."""
    with reported():
        result = services().payouts.import_status(disburser(), file.read_bytes())
    console.print(
        f"report {result.message_id}: {result.paid} paid, {result.returned} returned, "
        f"{result.rejected} rejected, {result.pending} pending, {result.unknown} unknown, "
        f"{result.already} already imported"
    )
