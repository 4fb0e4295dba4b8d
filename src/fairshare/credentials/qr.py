"""QR codes for card texts, fast: segno's symbol, built with numpy.

segno encodes a QR code in pure Python (tens of milliseconds with mask selection), which
would take an hour for a print run of 100,000 cards. Card texts are always Base45, which is
exactly the QR alphanumeric character set, so this module handles that one case at error
correction level M and reuses segno's own tables and functions for everything that does not
depend on the text (function patterns, format and version information, mask patterns,
Reed-Solomon generator polynomials), once per version. Per card it only packs the bits,
computes the error correction (remainders as Python integers), places the modules and scores
the eight masks with array operations, scoring exactly as segno does. A test checks that
the matrix equals segno's, module for module, mask choice included (decision 0019).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

# segno's tables and building blocks; its internals carry no type hints.
consts: Any = importlib.import_module("segno.consts")
segno_encoder: Any = importlib.import_module("segno.encoder")

ERROR = consts.ERROR_LEVEL_M
ALPHANUMERIC = consts.MODE_ALPHANUMERIC
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUES = bytes(_ALPHABET.index(chr(c)) if chr(c) in _ALPHABET else 255 for c in range(256))
_N3_PATTERN = np.array([1, 0, 1, 1, 1, 0, 1], dtype=np.uint8)
_PAD = (0xEC, 0x11)


class NotAlphanumeric(ValueError):
    """Text outside the QR alphanumeric set (use segno for it)."""


@dataclass(frozen=True)
class _Version:
    version: int
    size: int
    capacity_bits: int
    count_bits: int
    blocks: tuple[tuple[int, int], ...]  # (data codewords, error codewords) per block
    positions: NDArray[np.intp]  # flat module indexes in placement order
    evaluation_base: NDArray[np.uint8]  # function patterns, data and format areas zero
    final_bases: tuple[NDArray[np.uint8], ...]  # per mask: with format and version info
    masks: NDArray[np.uint8]  # (8, placed modules): the mask bit at each data module
    data_order: NDArray[np.intp]
    error_order: NDArray[np.intp]
    remainder_bits: int


def _version_range(version: int) -> int:
    return 1 if version < 10 else 2 if version < 27 else 3


@cache
def _generator_products(error_words: int) -> tuple[int, ...]:
    """For each byte c: c times the generator polynomial, as an integer of error_words bytes."""
    gen = consts.GEN_POLY[error_words]
    log, exp = consts.GALIOS_LOG, consts.GALIOS_EXP
    products = [0]
    for c in range(1, 256):
        products.append(int.from_bytes(bytes(exp[log[c] + g] for g in gen), "big"))
    return tuple(products)


@cache
def _version(version: int) -> _Version:
    size = segno_encoder.calc_matrix_size(version)
    matrix = segno_encoder.make_matrix(size, size)
    segno_encoder.add_finder_patterns(matrix, size, size)
    segno_encoder.add_alignment_patterns(matrix, size, size)
    positions: list[int] = []
    # segno's add_codewords walk: two-module columns, alternately up and down.
    for right in range(size - 1, 0, -2):
        if right <= 6:
            right -= 1
        for vertical in range(size):
            for z in range(2):
                column = right - z
                upwards = ((right & 2) == 0) ^ (column < 6)
                row = (size - 1 - vertical) if upwards else vertical
                if matrix[row][column] == 0x2:
                    positions.append(row * size + column)
    flat_positions = np.array(positions, dtype=np.intp)
    evaluation_base = np.array([list(row) for row in matrix], dtype=np.uint8).reshape(-1)
    evaluation_base[flat_positions] = 0
    mask_functions = segno_encoder.get_data_mask_functions(False)
    rows, columns = np.divmod(flat_positions, size)
    masks = np.array(
        [[fn(int(i), int(j)) for i, j in zip(rows, columns, strict=True)] for fn in mask_functions],
        dtype=np.uint8,
    )
    final_bases = []
    for mask in range(8):
        layered = tuple(bytearray(row) for row in matrix)
        segno_encoder.add_format_info(layered, version, ERROR, mask)
        segno_encoder.add_version_info(layered, version)
        base = np.array([list(row) for row in layered], dtype=np.uint8).reshape(-1)
        base[flat_positions] = 0
        final_bases.append(base)
    blocks = tuple(
        (info.num_data, info.num_total - info.num_data)
        for info in consts.ECC[version][ERROR]
        for _ in range(info.num_blocks)
    )
    data_order = _interleave([b[0] for b in blocks])
    error_order = _interleave([b[1] for b in blocks])
    total_bits = 8 * sum(d + e for d, e in blocks)
    return _Version(
        version=version,
        size=size,
        capacity_bits=consts.SYMBOL_CAPACITY[version][ERROR],
        count_bits=consts.CHAR_COUNT_INDICATOR_LENGTH[ALPHANUMERIC][_version_range(version)],
        blocks=blocks,
        positions=flat_positions,
        evaluation_base=evaluation_base,
        final_bases=tuple(final_bases),
        masks=masks,
        data_order=data_order,
        error_order=error_order,
        remainder_bits=len(positions) - total_bits,
    )


def _interleave(lengths: list[int]) -> NDArray[np.intp]:
    """Indexes into the blocks' concatenation, in the order QR interleaves them."""
    starts = np.cumsum([0, *lengths[:-1]])
    order = [
        int(starts[block]) + index
        for index in range(max(lengths))
        for block, length in enumerate(lengths)
        if index < length
    ]
    return np.array(order, dtype=np.intp)


def _bits_needed(length: int, version: int) -> int:
    count = int(consts.CHAR_COUNT_INDICATOR_LENGTH[ALPHANUMERIC][_version_range(version)])
    return 4 + count + 11 * (length // 2) + 6 * (length % 2)


def _pick_version(length: int) -> _Version:
    for version in range(1, 41):
        if _bits_needed(length, version) <= consts.SYMBOL_CAPACITY[version][ERROR]:
            return _version(version)
    raise NotAlphanumeric("the text is too long for a QR code at error correction level M")


def _data_codewords(text: str, spec: _Version) -> bytes:
    values = text.encode("ascii", "replace").translate(_VALUES)
    if b"\xff" in values:
        raise NotAlphanumeric("the text has characters outside the QR alphanumeric set")
    array = np.frombuffer(values, dtype=np.uint8).astype(np.uint16)
    pairs = array[: len(array) // 2 * 2].reshape(-1, 2)
    words = pairs[:, 0] * 45 + pairs[:, 1]
    parts = [
        np.array([0, 0, 1, 0], dtype=np.uint8),
        (len(text) >> np.arange(spec.count_bits - 1, -1, -1) & 1).astype(np.uint8),
        ((words[:, None] >> np.arange(10, -1, -1)) & 1).astype(np.uint8).reshape(-1),
    ]
    if len(array) % 2:
        parts.append(((int(array[-1]) >> np.arange(5, -1, -1)) & 1).astype(np.uint8))
    bits = np.concatenate(parts)
    length = len(bits)
    terminator = min(spec.capacity_bits - length, 4)
    length += terminator
    padding = 8 - length % 8  # as segno writes it: a whole zero byte when already aligned
    bits = np.concatenate([bits, np.zeros(terminator + padding, dtype=np.uint8)])
    data = np.packbits(bits).tobytes()
    pads = spec.capacity_bits // 8 - len(data)
    return data + bytes(_PAD[i % 2] for i in range(pads))


def _error_codewords(data: bytes, spec: _Version) -> bytes:
    out = []
    start = 0
    for data_words, error_words in spec.blocks:
        products = _generator_products(error_words)
        shift = 8 * (error_words - 1)
        full = (1 << (8 * error_words)) - 1
        remainder = 0
        for byte in data[start : start + data_words]:
            remainder = ((remainder << 8) & full) ^ products[byte ^ (remainder >> shift)]
        out.append(remainder.to_bytes(error_words, "big"))
        start += data_words
    return b"".join(out)


def _penalties(candidates: NDArray[np.uint8], size: int) -> list[int]:
    """segno's mask_scores (N1 + N2 + N3 + N4) for each of the candidate matrices."""
    count = candidates.shape[0]
    grids = candidates.reshape(count, size, size)
    # N2: 2x2 blocks of one colour, 3 points each.
    top_left = grids[:, :-1, :-1]
    same = (
        (top_left == grids[:, :-1, 1:])
        & (top_left == grids[:, 1:, :-1])
        & (top_left == grids[:, 1:, 1:])
    )
    n2 = same.sum(axis=(1, 2)) * 3
    # N1: runs of five or more in rows and columns score (length - 2), that is one point for
    # each module from a run's fifth on, plus two for each run's fifth module.
    lines = np.concatenate([grids, grids.transpose(0, 2, 1)], axis=1)  # (count, 2 size, size)
    equal = lines[:, :, 1:] == lines[:, :, :-1]
    span = size - 4
    fifth_on = equal[:, :, 0:span] & equal[:, :, 1 : span + 1]
    fifth_on &= equal[:, :, 2 : span + 2]
    fifth_on &= equal[:, :, 3 : span + 3]
    fifth = fifth_on[:, :, 1:] & ~equal[:, :, : span - 1]
    n1 = fifth_on.sum(axis=(1, 2)) + 2 * fifth.sum(axis=(1, 2)) + 2 * fifth_on[:, :, 0].sum(axis=1)
    # N3: finder-like 1011101 with four light modules before or after (segno's rule).
    dark_at = lines.astype(bool)
    width = size - 6
    hits = dark_at[:, :, 0:width] & ~dark_at[:, :, 1 : width + 1]  # (count, 2 size, width)
    for offset, expected in enumerate(_N3_PATTERN.tolist()[2:], 2):
        part = dark_at[:, :, offset : width + offset]
        hits &= part if expected else ~part
    # Four light modules before a hit at s: no dark module in [s - 4, s) (fewer at the
    # edge); after it: none in [s + 7, s + 11). A hit at either end always counts.
    dark4 = dark_at[:, :, :-3] | dark_at[:, :, 1:-2] | dark_at[:, :, 2:-1] | dark_at[:, :, 3:]
    light_before = np.ones_like(hits)
    light_before[:, :, 4:] = ~dark4[:, :, : width - 4]
    edge = np.logical_or.accumulate(dark_at[:, :, :3], axis=2)
    light_before[:, :, 1:4] = ~edge
    light_after = np.ones_like(hits)
    light_after[:, :, : width - 4] = ~dark4[:, :, 7 : width + 3]
    tail = np.logical_or.accumulate(dark_at[:, :, : size - 4 : -1], axis=2)[:, :, ::-1]
    light_after[:, :, width - 4 : width - 1] = ~tail
    border = np.zeros(width, dtype=bool)
    border[0] = border[-1] = True
    counted = hits & (border | light_before | light_after)
    # segno resumes its search 7 modules after a counted hit, skipping overlapping hits
    # (4 or 6 modules on): lines with such overlaps are scored one by one, as segno does.
    overlapping = (hits[:, :, 4:] & hits[:, :, :-4]).any(axis=2) | (
        hits[:, :, 6:] & hits[:, :, :-6]
    ).any(axis=2)
    n3 = (counted & ~overlapping[:, :, None]).sum(axis=(1, 2)) * 40
    dark = grids.reshape(count, -1).sum(axis=1)
    scores = []
    for index in range(count):
        extra = 0
        for line in np.flatnonzero(overlapping[index]).tolist():
            starts = np.flatnonzero(hits[index, line]).tolist()
            extra += _n3(lines[index, line].tobytes(), starts, size)
        percent = float(dark[index]) / (size**2)
        n4 = 10 * int(abs(percent * 100 - 50) / 5)
        scores.append(int(n1[index]) + int(n2[index]) + int(n3[index]) + extra + n4)
    return scores


def _n3(sequence: bytes, starts: list[int], size: int) -> int:
    """segno's N3 scan of one line, given where the pattern occurs."""
    score = 0
    next_allowed = 0
    for start in starts:
        if start < next_allowed:
            continue
        end = start + 7
        if (
            start in (0, size - 7)
            or 1 not in sequence[max(start - 4, 0) : start]
            or 1 not in sequence[end : end + 4]
        ):
            score += 40
            next_allowed = end
        else:
            next_allowed = start + 4
    return score


@dataclass(frozen=True)
class Symbol:
    """A QR symbol: its modules (1 = dark), row by row, without the quiet zone."""

    version: int
    mask: int
    size: int
    modules: NDArray[np.uint8]

    def rows(self) -> NDArray[np.uint8]:
        return self.modules.reshape(self.size, self.size)


def encode(text: str, mask: int | None = None) -> Symbol:
    """The QR symbol segno would make for this alphanumeric text at error level M.

    Raises NotAlphanumeric for text outside the QR alphanumeric set."""
    spec = _pick_version(len(text))
    data = _data_codewords(text, spec)
    message = np.frombuffer(data, dtype=np.uint8)[spec.data_order]
    errors = np.frombuffer(_error_codewords(data, spec), dtype=np.uint8)[spec.error_order]
    bits = np.unpackbits(np.concatenate([message, errors]))
    if spec.remainder_bits:
        bits = np.concatenate([bits, np.zeros(spec.remainder_bits, dtype=np.uint8)])
    if mask is None:
        candidates = np.repeat(spec.evaluation_base[None, :], 8, axis=0)
        candidates[:, spec.positions] = bits[None, :] ^ spec.masks
        scores = _penalties(candidates, spec.size)
        mask = scores.index(min(scores))
    modules = spec.final_bases[mask].copy()
    modules[spec.positions] = bits ^ spec.masks[mask]
    return Symbol(spec.version, mask, spec.size, modules)


def svg_path(symbol: Symbol, border: int = 4) -> str:
    """The dark modules as one stroked SVG path of horizontal runs (segno's style: a line of
    width 1 through the middle of each row of modules)."""
    padded = np.zeros((symbol.size, symbol.size + 2), dtype=np.int8)
    padded[:, 1:-1] = symbol.rows()
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    lengths = ends - starts
    gaps = starts - np.concatenate([[0], ends[:-1]])
    first = np.concatenate([[True], rows[1:] != rows[:-1]])
    relative = _relative_moves
    return "".join(
        f"M{start + border} {row + border}.5h{length}" if is_first else relative[gap][length]
        for row, start, length, gap, is_first in zip(
            rows.tolist(),
            starts.tolist(),
            lengths.tolist(),
            gaps.tolist(),
            first.tolist(),
            strict=True,
        )
    )


# "m{gap} 0h{length}" for every gap and run length a symbol can have (up to version 40).
_relative_moves = [[f"m{gap} 0h{length}" for length in range(178)] for gap in range(178)]
