"""`fairshare card`: issue, print, revoke and verify card credentials; the issuer keys.

`card verify` works offline: it reads only a trust list and a revocation list file, as a
merchant device without a network would.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import typer
from rich.table import Table

from fairshare.cli.console import console, errors, operator, reported, services
from fairshare.credentials.card import CardStatus, Verifier, format_card_id
from fairshare.credentials.lists import (
    anchor_fingerprint,
    read_revocation_list,
    read_trust_list,
)
from fairshare.credentials.render import PrintedCard, card_pdf, card_svg, sheet_pdf, write
from fairshare.credentials.services import IssuedCard
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.keys import KeyDirectoryError

app = typer.Typer(
    help="Card credentials: signed QR codes that verify offline, and their revocation.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="Card issuer keys (Ed25519): list, rotate, retire.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")

NOT_VALID_EXIT = 7


def caseworker() -> Actor:
    return operator(Purpose.CASE_MANAGEMENT, Role.CASEWORKER)


def administrator() -> Actor:
    return operator(Purpose.ADMINISTRATION)


def _printed(card: IssuedCard) -> PrintedCard:
    return PrintedCard(card.claims, card.qr_text, services().settings.card_office)


@app.command("issue")
def issue(
    person_id: str = typer.Argument(..., help="The person's id"),
    photo: Path | None = typer.Option(
        None, help="A photo file; only its SHA-256 goes on the card", exists=True, dir_okay=False
    ),
) -> None:
    """Issue a new card to a person (their earlier cards are revoked as replaced)."""
    with reported():
        photo_hash = hashlib.sha256(photo.read_bytes()).digest() if photo else None
        card = services().cards.issue(caseworker(), person_id, photo_hash=photo_hash)
        console.print(f"card {format_card_id(card.card_id)} issued to {person_id}")
        # emoji=False: Base45 may hold text like ":UP:", which Rich would turn into an emoji.
        console.print(card.qr_text, markup=False, highlight=False, emoji=False, soft_wrap=True)


@app.command("render")
def render(
    person_id: str = typer.Argument(..., help="The person whose current card to print"),
    svg: Path | None = typer.Option(None, help="Write the card as SVG here"),
    pdf: Path | None = typer.Option(None, help="Write the card as PDF here"),
) -> None:
    """Print a person's current card (issue one first with `card issue`)."""
    if svg is None and pdf is None:
        errors.print("[bold red]error:[/] name an output: --svg FILE and/or --pdf FILE")
        raise typer.Exit(2)
    with reported():
        printed = _printed(services().cards.current_card(caseworker(), person_id))
        if svg is not None:
            write(svg, card_svg(printed))
            console.print(f"wrote {svg}")
        if pdf is not None:
            write(pdf, card_pdf(printed))
            console.print(f"wrote {pdf}")


@app.command("sheet")
def sheet(
    person_ids: list[str] = typer.Argument(..., help="The people whose cards to print"),
    pdf: Path = typer.Option(..., help="Write the print sheets (ten cards per A4) here"),
    issue_new: bool = typer.Option(False, "--issue", help="Issue new cards for everyone first"),
) -> None:
    """A batch print sheet of many people's current cards."""
    with reported():
        cards = services().cards
        actor = caseworker()
        if issue_new:
            issued = cards.issue_many(actor, person_ids)
        else:
            issued = [cards.current_card(actor, person_id) for person_id in person_ids]
        write(pdf, sheet_pdf([_printed(card) for card in issued]))
        console.print(f"wrote {len(issued)} cards to {pdf}")


@app.command("revoke")
def revoke(
    card_id: str = typer.Argument(..., help="The card id printed under the QR code"),
    reason: str = typer.Option(..., help="Why, e.g. 'reported stolen on 2026-11-02'"),
) -> None:
    """Revoke a lost or stolen card; publish a new revocation list for offline verifiers."""
    with reported():
        services().cards.revoke(caseworker(), card_id, reason)
        console.print(
            f"card {card_id} revoked; run `fairshare card revocation-list --out FILE` and send "
            "the file to merchants"
        )


@app.command("trust-list")
def trust_list(
    out: Path = typer.Option(..., help="Write the signed trust list (JSON) here"),
) -> None:
    """Export the signed list of issuer public keys for offline verifiers."""
    with reported():
        cards = services().cards
        write(out, cards.trust_list())
        console.print(f"wrote {out}; root key fingerprint {anchor_fingerprint(cards.anchor)}")


@app.command("revocation-list")
def revocation_list(
    out: Path = typer.Option(..., help="Write the signed revocation list (JSON) here"),
) -> None:
    """Export the signed list of revoked cards for offline verifiers."""
    with reported():
        write(out, services().cards.revocation_list(administrator()))
        console.print(f"wrote {out}")


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read the {what} {path}: {error.strerror}") from None


@app.command("verify")
def verify(
    qr_text: str = typer.Argument(..., help="The text read from the card's QR code"),
    trust: Path = typer.Option(..., "--trust-list", help="The signed trust list file"),
    revocations: Path | None = typer.Option(
        None, "--revocations", help="The signed revocation list file"
    ),
    anchor: str | None = typer.Option(
        None, help="The root key fingerprint your programme office gave you, to pin"
    ),
    at: int | None = typer.Option(None, help="Check at this time (epoch seconds), not now"),
) -> None:
    """Check a card offline, with only the trust list and the revocation list.

    Exit status 0 when the card is valid, 7 when it is not (the reason is printed).
    """
    with reported():
        trusted = read_trust_list(_read(trust, "trust list"))
        fingerprint = anchor_fingerprint(trusted.anchor)
        if anchor is not None and anchor.replace(" ", "").lower() != fingerprint.replace(" ", ""):
            raise KeyDirectoryError(
                f"the trust list is signed by root {fingerprint}, not the pinned {anchor}"
            )
        revoked: frozenset[str] = frozenset()
        if revocations is not None:
            revoked = read_revocation_list(
                _read(revocations, "revocation list"), trusted.anchor
            ).revoked
        check = Verifier(trusted.keys, revoked).verify(qr_text, at or int(time.time()))
    colour = "green" if check.status is CardStatus.VALID else "red"
    console.print(f"[bold {colour}]{check.status.value}[/] ({check.reason.value}): {check.message}")
    if check.claims is not None:
        console.print(
            f"card {format_card_id(check.claims.card_id)}: {check.claims.name}, "
            f"born {check.claims.birth_year}",
            markup=False,
        )
    console.print(f"trust list root {fingerprint}" + ("" if anchor else " (not pinned)"))
    if not revocations:
        console.print("no revocation list given: a lost or stolen card would pass")
    if check.status is not CardStatus.VALID:
        raise typer.Exit(NOT_VALID_EXIT)


@keys_app.command("list")
def list_keys() -> None:
    """Every issuer key: id, added, retired."""
    with reported():
        cards = services().cards
        table = Table("key id", "added", "retired")
        for key_id, added, retired in cards.key_states():
            table.add_row(
                key_id,
                added.isoformat(timespec="seconds"),
                (retired and retired.isoformat(timespec="seconds")) or "",
            )
        console.print(table)
        console.print(f"root key fingerprint {anchor_fingerprint(cards.anchor)}")


@keys_app.command("init")
def init_keys() -> None:
    """Create the root and first issuer key if the key directory has none."""
    with reported():
        cards = services().cards
        cards.key_states()
        console.print(f"root key fingerprint {anchor_fingerprint(cards.anchor)}")


@keys_app.command("rotate")
def rotate() -> None:
    """Add a new issuer key; new cards use it, cards of older keys keep verifying."""
    with reported():
        info = services().cards.rotate_key(administrator())
        console.print(f"new issuer key {info.key_id}; publish a new trust list")


@keys_app.command("retire")
def retire(key_id: str = typer.Argument(..., help="The key id to stop trusting")) -> None:
    """Retire an issuer key: its cards are refused from now on (reissue them first)."""
    with reported():
        services().cards.retire_key(administrator(), key_id)
        console.print(f"issuer key {key_id} retired; publish a new trust list")
