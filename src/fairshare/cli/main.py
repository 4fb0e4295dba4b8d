"""The `fairshare` command."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from fairshare.cli import (
    audit,
    card,
    catalogue,
    db,
    dedup,
    demo,
    eligibility,
    keys,
    ledger,
    registry,
    report,
    synth,
    users,
)
from fairshare.cli.console import errors
from fairshare.settings import get_settings

app = typer.Typer(
    help="Fairshare: registry, eligibility and entitlements for social protection.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # tracebacks must never print personal data
)
app.add_typer(db.app, name="db")
app.add_typer(catalogue.app, name="catalogue")
app.add_typer(registry.app, name="registry")
app.add_typer(audit.app, name="audit")
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.add_typer(synth.app, name="synth")
app.add_typer(dedup.app, name="dedup")
app.add_typer(eligibility.programme_app, name="programme")
app.add_typer(eligibility.decision_app, name="decision")
app.add_typer(eligibility.appeal_app, name="appeal")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(ledger.cycle_app, name="cycle")
app.add_typer(ledger.merchant_app, name="merchant")
app.add_typer(ledger.payout_app, name="payout")
app.add_typer(card.app, name="card")
app.command("demo")(demo.run)
app.command("report")(report.report)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, reload: bool = False) -> None:
    """Run the API server (Uvicorn)."""
    import uvicorn

    get_settings()  # refuse placeholder secrets before binding a port
    uvicorn.run(
        "fairshare.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        proxy_headers=True,
    )


def main() -> None:
    """Console entry point: settings errors become one clear line and exit code 2."""
    try:
        app()
    except ValidationError as error:
        for item in error.errors():
            errors.print(f"[bold red]settings error:[/] {item['msg']}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
