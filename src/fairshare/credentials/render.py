"""Printable cards: the QR (segno) on an ID-1 card (85.6 x 54 mm) as SVG, a PDF of one card,
and PDF print sheets of ten cards per A4 page, outlined to cut along.

The card shows what its QR proves (name, year of birth, card id, validity) and the issuing
programme office; nothing about entitlements.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import segno
from fpdf import FPDF
from numpy.typing import NDArray

from fairshare.credentials import qr
from fairshare.credentials.card import CardClaims, format_card_id

CARD_WIDTH = 85.6  # mm, ISO/IEC 7810 ID-1
CARD_HEIGHT = 54.0
QR_SIZE = 46.0
MARGIN = 4.0
SHEET_COLUMNS, SHEET_ROWS = 2, 5
A4 = (210.0, 297.0)
# ECC level M survives a worn or creased card; boosting it would grow the symbol.
QR_ERROR = "m"


@dataclass(frozen=True)
class PrintedCard:
    """What goes on the printed card."""

    claims: CardClaims
    qr_text: str
    office: str

    @property
    def expires_on(self) -> str:
        return datetime.fromtimestamp(self.claims.expires_at, UTC).date().isoformat()

    def office_lines(self) -> list[str]:
        return textwrap.wrap(self.office, 26)[:2]

    def lines(self) -> list[str]:
        """The text beside the QR under the office, one entry per line."""
        name = textwrap.wrap(self.claims.name, 20)[:3] or ["-"]
        return [
            *name,
            f"Born {self.claims.birth_year}",
            format_card_id(self.claims.card_id),
            f"Valid until {self.expires_on}",
        ]


def qr_matrix(text: str) -> NDArray[np.uint8]:
    """The QR modules (1 = dark) for the card text, without the quiet zone: segno's symbol,
    built by `credentials.qr` (which a test holds to segno, module for module)."""
    return qr.encode(text).rows()


def _qr_svg(text: str, x: float, y: float, size: float) -> str:
    try:
        symbol = qr.encode(text)
    except qr.NotAlphanumeric:  # not a card text; segno handles any content
        inner = segno.make_qr(text, error=QR_ERROR, boost_error=False).svg_inline(
            scale=1, border=4, omitsize=True, dark="#000", light="#fff"
        )
        return inner.replace(
            "<svg ", f'<svg x="{x:.2f}" y="{y:.2f}" width="{size:.2f}" height="{size:.2f}" ', 1
        )
    side = symbol.size + 8
    return (
        f'<svg x="{x:.2f}" y="{y:.2f}" width="{size:.2f}" height="{size:.2f}" '
        f'viewBox="0 0 {side} {side}"><path fill="#fff" d="M0 0h{side}v{side}h-{side}z"/>'
        f'<path stroke="#000" d="{qr.svg_path(symbol)}"/></svg>'
    )


def card_svg(card: PrintedCard) -> str:
    """One card as a standalone SVG document, sized in millimetres."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CARD_WIDTH}mm" height="{CARD_HEIGHT}mm"'
        f' viewBox="0 0 {CARD_WIDTH} {CARD_HEIGHT}">' + _card_body(card, 0.0, 0.0) + "</svg>\n"
    )


def _card_body(card: PrintedCard, x: float, y: float) -> str:
    left = x + MARGIN + QR_SIZE + 1.5
    parts = [
        f'<rect x="{x + 0.2:.2f}" y="{y + 0.2:.2f}" width="{CARD_WIDTH - 0.4:.2f}" '
        f'height="{CARD_HEIGHT - 0.4:.2f}" rx="3" fill="#fff" stroke="#999" stroke-width="0.3"/>',
        _qr_svg(card.qr_text, x + MARGIN - 1.5, y + (CARD_HEIGHT - QR_SIZE) / 2, QR_SIZE),
        '<g font-family="DejaVu Sans, Arial, sans-serif" fill="#000">',
    ]
    for index, line in enumerate(card.office_lines()):
        parts.append(
            f'<text x="{left:.2f}" y="{y + 7 + index * 2.8:.2f}" font-size="2.1" '
            f'font-weight="bold">{escape(line)}</text>'
        )
    lines = card.lines()
    for index, line in enumerate(lines):
        size = 2.5 if index < len(lines) - 3 else 2.2
        parts.append(
            f'<text x="{left:.2f}" y="{y + 16 + index * 4.0:.2f}" font-size="{size}">'
            f"{escape(line)}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def sheet_svg(cards: Sequence[PrintedCard]) -> str:
    """Up to ten cards on one A4 page as SVG (the PDF sheet is the one to print)."""
    width, height = A4
    body = "".join(_card_body(card, x, y) for card, (x, y) in zip(cards, _slots(), strict=False))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
        f'viewBox="0 0 {width} {height}">{body}</svg>\n'
    )


def _slots() -> Iterator[tuple[float, float]]:
    width, height = A4
    left = (width - SHEET_COLUMNS * CARD_WIDTH) / 2
    top = (height - SHEET_ROWS * CARD_HEIGHT) / 2
    for row in range(SHEET_ROWS):
        for column in range(SHEET_COLUMNS):
            yield left + column * CARD_WIDTH, top + row * CARD_HEIGHT


@cache
def _font_path() -> Path:
    # matplotlib (a dependency) ships DejaVu Sans, which covers the names the registry holds.
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def _new_pdf(width: float, height: float) -> FPDF:
    pdf = FPDF(unit="mm", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.add_font("DejaVu", "", str(_font_path()))
    pdf.set_creator("Fairshare")
    return pdf


def _draw_card(pdf: FPDF, card: PrintedCard, x: float, y: float) -> None:
    pdf.set_draw_color(153)
    pdf.set_line_width(0.3)
    pdf.rect(
        x + 0.2, y + 0.2, CARD_WIDTH - 0.4, CARD_HEIGHT - 0.4, round_corners=True, corner_radius=3
    )
    matrix = qr_matrix(card.qr_text)
    modules = len(matrix) + 8
    unit = QR_SIZE / modules
    qx = x + MARGIN - 1.5 + 4 * unit
    qy = y + (CARD_HEIGHT - QR_SIZE) / 2 + 4 * unit
    pdf.set_fill_color(0)
    for row_index, row in enumerate(matrix.tolist()):
        column = 0
        while column < len(row):
            if row[column]:
                start = column
                while column < len(row) and row[column]:
                    column += 1
                pdf.rect(
                    qx + start * unit,
                    qy + row_index * unit,
                    (column - start) * unit,
                    unit,
                    style="F",
                )
            else:
                column += 1
    left = x + MARGIN + QR_SIZE + 1.5
    pdf.set_text_color(0)
    pdf.set_font("DejaVu", size=6.0)
    for index, line in enumerate(card.office_lines()):
        pdf.text(left, y + 7 + index * 2.8, line)
    lines = card.lines()
    for index, line in enumerate(lines):
        pdf.set_font("DejaVu", size=7.1 if index < len(lines) - 3 else 6.2)
        pdf.text(left, y + 16 + index * 4.0, line)


def card_pdf(card: PrintedCard) -> bytes:
    """One card on a page of its own size (for card printers)."""
    pdf = _new_pdf(CARD_WIDTH, CARD_HEIGHT)
    pdf.add_page()
    _draw_card(pdf, card, 0.0, 0.0)
    return bytes(pdf.output())


def sheet_pdf(cards: Sequence[PrintedCard]) -> bytes:
    """Print sheets: ten cards per A4 page, each outlined to cut along."""
    pdf = _new_pdf(*A4)
    per_page = SHEET_COLUMNS * SHEET_ROWS
    for start in range(0, len(cards), per_page):
        pdf.add_page()
        for card, (x, y) in zip(cards[start : start + per_page], _slots(), strict=False):
            _draw_card(pdf, card, x, y)
    return bytes(pdf.output())


def write(path: Path, content: str | bytes) -> None:
    """Write a rendered card or sheet (text for SVG, bytes for PDF)."""
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
