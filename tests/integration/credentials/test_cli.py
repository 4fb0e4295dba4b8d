"""The `fairshare card` commands, on both databases; `card verify` with files only."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
import pytest
import resvg_py
import zxingcpp
from click.testing import Result
from PIL import Image
from typer.testing import CliRunner

from fairshare.bootstrap import Services
from fairshare.cli import card as card_cli
from fairshare.cli.main import app
from tests.integration.ledger.conftest import World

pytestmark = pytest.mark.postgres


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command line, on the test's database transaction."""
    monkeypatch.setattr(card_cli, "services", lambda: services)
    monkeypatch.setenv("FAIRSHARE_ACTOR", "test-operator")
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _issue(cli: CliRunner, person_id: str) -> tuple[str, str]:
    issued = invoke(cli, "card", "issue", person_id)
    assert issued.exit_code == 0, issued.output
    first, text = issued.output.rstrip("\n").split("\n", 1)
    return first.split()[1].replace("-", ""), text.replace("\n", "")


def test_issue_then_verify_offline_with_the_exported_lists(
    cli: CliRunner, world: World, tmp_path: Path
) -> None:
    """A card verifies from the trust list file alone; after revocation and a new list, the
    same card is refused as revoked, with exit status 7."""
    p1 = world.population.people["p1"]
    card_id, text = _issue(cli, p1)
    trust, revoked = tmp_path / "trust.json", tmp_path / "revoked.json"
    assert invoke(cli, "card", "trust-list", "--out", str(trust)).exit_code == 0
    assert invoke(cli, "card", "revocation-list", "--out", str(revoked)).exit_code == 0
    ok = invoke(
        cli, "card", "verify", text, "--trust-list", str(trust), "--revocations", str(revoked)
    )
    assert ok.exit_code == 0, ok.output
    assert "valid (ok)" in ok.output
    assert invoke(cli, "card", "revoke", card_id, "--reason", "stolen").exit_code == 0
    assert invoke(cli, "card", "revocation-list", "--out", str(revoked)).exit_code == 0
    refused = invoke(
        cli, "card", "verify", text, "--trust-list", str(trust), "--revocations", str(revoked)
    )
    assert refused.exit_code == 7
    assert "revoked (revoked)" in refused.output
    garbage = invoke(cli, "card", "verify", "HC1:NOTACARD", "--trust-list", str(trust))
    assert garbage.exit_code == 7 and "malformed (prefix)" in garbage.output


def _read_qr(image: Image.Image) -> list[str]:
    # QR codes only: with every format allowed, zxing once read the printed text of a card
    # as a four-digit linear barcode, failing the test for a reason that is not the card's.
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [result.text for result in found]


def test_rendered_cards_scan_back_to_the_same_valid_card(
    cli: CliRunner, world: World, tmp_path: Path
) -> None:
    """The printed SVG and PDF, rasterised, are read by an independent decoder (zxing-cpp)
    to exactly the issued QR text, which verifies."""
    p1, p4 = world.population.people["p1"], world.population.people["p4"]
    _, text = _issue(cli, p1)
    svg, pdf, sheet = tmp_path / "card.svg", tmp_path / "card.pdf", tmp_path / "sheet.pdf"
    rendered = invoke(cli, "card", "render", p1, "--svg", str(svg), "--pdf", str(pdf))
    assert rendered.exit_code == 0, rendered.output
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg.read_text(), dpi=300, background="#fff"))
    assert _read_qr(Image.open(io.BytesIO(png))) == [text]
    page = pypdfium2.PdfDocument(pdf.read_bytes())[0]
    assert _read_qr(page.render(scale=6).to_pil()) == [text]
    printed = invoke(cli, "card", "sheet", p1, p4, "--pdf", str(sheet), "--issue")
    assert printed.exit_code == 0, printed.output
    sheet_page = pypdfium2.PdfDocument(sheet.read_bytes())[0]
    assert len(_read_qr(sheet_page.render(scale=4).to_pil())) == 2
    trust = tmp_path / "trust.json"
    invoke(cli, "card", "trust-list", "--out", str(trust))
    scanned = _read_qr(sheet_page.render(scale=4).to_pil())
    for qr in scanned:
        result = invoke(cli, "card", "verify", qr, "--trust-list", str(trust))
        assert result.exit_code == 0, result.output


def test_keys_rotate_and_retire_from_the_command_line(cli: CliRunner, world: World) -> None:
    """Rotation adds a key listed with the others; the key signing new cards cannot be
    retired."""
    before = invoke(cli, "card", "keys", "list")
    assert before.exit_code == 0 and "root key fingerprint" in before.output
    rotated = invoke(cli, "card", "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.split("new issuer key ")[1].split(";")[0]
    refused = invoke(cli, "card", "keys", "retire", new_key)
    assert refused.exit_code == 4 and "rotate" in refused.output
    assert new_key in invoke(cli, "card", "keys", "list").output
