"""The fast card QR encoder makes exactly segno's symbol, and what it draws scans back."""

from __future__ import annotations

import io

import numpy as np
import pytest
import resvg_py
import segno
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fairshare.credentials import qr
from fairshare.credentials.render import PrintedCard, card_svg
from tests.unit.credentials.cards import claims
from tests.unit.credentials.test_card import VALID

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _segno(text: str, mask: int | None = None) -> tuple[int, int, np.ndarray]:
    symbol = segno.make_qr(text, error="m", boost_error=False, mask=mask, mode="alphanumeric")
    return symbol.version, symbol.mask, np.array([list(r) for r in symbol.matrix], np.uint8)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=ALPHANUMERIC, min_size=1, max_size=900))
def test_the_symbol_is_segnos_module_for_module(text: str) -> None:
    """Same version, same mask choice, same modules as segno for any alphanumeric text."""
    ours = qr.encode(text)
    version, mask, modules = _segno(text)
    assert (ours.version, ours.mask) == (version, mask)
    assert np.array_equal(ours.rows(), modules)


@pytest.mark.parametrize("mask", range(8))
def test_each_mask_matches_segno(mask: int) -> None:
    """Every one of the eight masks lays the card's modules as segno does."""
    assert np.array_equal(qr.encode(VALID, mask=mask).rows(), _segno(VALID, mask)[2])


def test_text_outside_the_alphanumeric_set_is_refused() -> None:
    """Lower case or other characters are not ours to encode (segno handles them)."""
    with pytest.raises(qr.NotAlphanumeric):
        qr.encode("abc")


def test_the_drawn_card_scans_back_to_its_text() -> None:
    """The SVG card, rasterised, reads back with zxing-cpp to exactly the card text."""
    svg = card_svg(PrintedCard(claims(), VALID, "Oficina de Programas Sociales"))
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, dpi=300, background="#fff"))
    assert [
        r.text
        for r in zxingcpp.read_barcodes(
            Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode
        )
    ] == [VALID]
