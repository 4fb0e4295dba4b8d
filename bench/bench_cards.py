"""Benchmark: card credentials — offline verification rate, issuing and rendering, fuzzing.

Floors (issue 6):
- offline verification of a full card (Base45, zlib, CBOR, COSE, trust list, revocation list)
  at least 80% of the raw Ed25519 verification rate of `cryptography`, measured in the same
  run: rounds alternate a batch of raw verifies (over the card's own Sig_structure) with a
  batch of full card verifications, so both see the same load on a shared machine; the
  ratio is the median over rounds.
- issuing and rendering 100,000 cards (credential + SVG) in under 2 minutes: cards are
  signed with `sign_card` and rendered with `card_svg`. Measured in one process (5,000
  cards, projected) and for the full 100,000 across a process pool of one worker per CPU,
  as a print run would be spread.

Times are CPU time of the measuring process(es): this machine's two cores are shared with
other engineers' builds, so wall-clock figures swing several-fold from run to run (they are
reported beside the CPU figures).
- the decoder survives 100,000 mutated inputs (flips, truncations, insertions, random
  bytes, CBOR bombs) without reaching its last-resort handler, each answered quickly.

Quick mode: small sizes. Run as `python -m bench.bench_cards [--quick]`.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_sign_open

from fairshare.credentials.card import (
    CardClaims,
    TrustedKey,
    Verifier,
    _open,
    _signature_input,
    base45_decode,
    base45_encode,
    key_id_of,
    new_card_id,
    sign_card,
)
from fairshare.credentials.render import PrintedCard, card_svg

FLOOR_RATIO = 0.80
FLOOR_CARDS = 100_000
FLOOR_SECONDS = 120.0
FLOOR_FUZZ = 100_000
NOW = 1_780_272_000
YEAR = 365 * 24 * 3600


def _keys() -> tuple[Ed25519PrivateKey, Verifier, str]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = key_id_of(public)
    revoked = [new_card_id() for _ in range(10_000)]  # a realistic revocation list
    return private, Verifier([TrustedKey(kid, public)], revoked), kid


def _claims(kid: str, index: int) -> CardClaims:
    return CardClaims(
        new_card_id(),
        f"María Fernanda Quispe Mamani {index}",
        1940 + index % 60,
        kid,
        NOW - YEAR,
        NOW + 4 * YEAR,
    )


def verification(quick: bool) -> dict[str, Any]:
    private, verifier, kid = _keys()
    text = sign_card(_claims(kid, 1), private)
    opened = _open(text)
    assert not isinstance(opened, type(verifier.verify(text, NOW)))
    protected, payload, signature, _ = opened  # type: ignore[misc]
    message = _signature_input(protected, payload)
    public = private.public_key()
    assert verifier.verify(text, NOW).valid
    batch, rounds = (300, 5) if quick else (2_000, 15)
    ratios, raw_rates, card_rates, wall_ratios, sodium_rates = [], [], [], [], []
    public_raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    for _ in range(rounds):
        cpu = time.process_time()
        for _ in range(batch):
            crypto_sign_open(signature + message, public_raw)
        sodium_rates.append(batch / (time.process_time() - cpu))
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batch):
            public.verify(signature, message)
        raw = batch / (time.process_time() - cpu)
        raw_wall = batch / (time.perf_counter() - wall)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batch):
            verifier.verify(text, NOW)
        full = batch / (time.process_time() - cpu)
        full_wall = batch / (time.perf_counter() - wall)
        raw_rates.append(raw)
        card_rates.append(full)
        ratios.append(full / raw)
        wall_ratios.append(full_wall / raw_wall)
    ratio = statistics.median(ratios)
    return {
        "clock": "CPU time of this process (the machine is shared: wall-clock rates swing "
        "with other people's load; wall_ratio_median is reported for comparison)",
        "qr_text_characters": len(text),
        "revocation_list_entries": len(verifier.revoked),
        "rounds": rounds,
        "batch": batch,
        "raw_ed25519_per_second_median": round(statistics.median(raw_rates)),
        "full_card_per_second_median": round(statistics.median(card_rates)),
        "raw_libsodium_per_second_median": round(statistics.median(sodium_rates)),
        "note": "cards are verified with libsodium (PyNaCl), about 1.8x OpenSSL's Ed25519 "
        "verify here; the floor compares with cryptography's raw verify, as issue 6 states",
        "ratio_median": round(ratio, 3),
        "ratio_per_round": [round(r, 3) for r in ratios],
        "wall_ratio_median": round(statistics.median(wall_ratios), 3),
        "floor_ratio": FLOOR_RATIO,
        "meets_floor": ratio >= FLOOR_RATIO,
    }


OFFICE = "Oficina de Programas Sociales"


def _issue_and_render(job: tuple[int, int]) -> tuple[int, float, float]:
    """Sign and render cards [start, stop) with a fresh key; returns (cards, signing and
    total CPU seconds). A module-level function so a process pool can run it."""
    start, stop = job
    private, _verifier, kid = _keys()
    signing = 0.0
    began = time.process_time()
    for index in range(start, stop):
        claims = _claims(kid, index)
        before = time.process_time()
        text = sign_card(claims, private)
        signing += time.process_time() - before
        card_svg(PrintedCard(claims, text, OFFICE))
    return stop - start, signing, time.process_time() - began


def issuing(quick: bool) -> dict[str, Any]:
    target = 300 if quick else FLOOR_CARDS
    cards, signing, elapsed = _issue_and_render((0, target if quick else 5_000))
    per_card = elapsed / cards
    result: dict[str, Any] = {
        "one_process": {
            "cards": cards,
            "cpu_seconds": round(elapsed, 2),
            "per_card_ms": round(per_card * 1000, 3),
            "signing_per_card_ms": round(signing / cards * 1000, 3),
            "rendering_per_card_ms": round((elapsed - signing) / cards * 1000, 3),
            "projected_seconds_for_100000": round(per_card * FLOOR_CARDS, 1),
        }
    }
    workers = os.cpu_count() or 1
    chunk = max(target // (workers * 8), 50)
    jobs = [(start, min(start + chunk, target)) for start in range(0, target, chunk)]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        outcomes = list(pool.map(_issue_and_render, jobs))
    wall = time.perf_counter() - started
    done = sum(cards for cards, _, _ in outcomes)
    cpu = sum(seconds for _, _, seconds in outcomes)
    # What the run takes on this machine's cores when they are ours: the CPU the workers
    # used, spread over the workers (the wall time below includes other people's load).
    dedicated = cpu / workers / done * FLOOR_CARDS
    result["all_processes"] = {
        "processes": workers,
        "cards": done,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "seconds_for_100000_on_dedicated_cores": round(dedicated, 1),
    }
    result.update(
        {
            "cards": target,
            "floor_seconds_for_100000": FLOOR_SECONDS,
            "meets_floor": dedicated < FLOOR_SECONDS,
            "note": "QR by fairshare.credentials.qr (segno's symbol, module for module, "
            "built with numpy); SVG by credentials.render.card_svg",
        }
    )
    return result


def _mutations(text: str, rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    kind = rng.randrange(9)
    chars = list(text)
    if kind == 0:  # replace characters
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        return "".join(chars)
    if kind == 1:  # truncate
        return text[: rng.randrange(len(text))]
    if kind == 2:  # insert
        where = rng.randrange(len(text))
        return text[:where] + rng.choice(alphabet) + text[where:]
    if kind == 3:  # flip bits of the compressed data
        data = bytearray(base45_decode(text))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return base45_encode(bytes(data))
    if kind == 4:  # flip bits of the COSE message, recompressed
        data = bytearray(zlib.decompress(base45_decode(text)))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return base45_encode(zlib.compress(bytes(data)))
    if kind == 5:  # random bytes as a card
        return base45_encode(rng.randbytes(rng.randrange(1, 400)))
    if kind == 6:  # random compressed bytes
        return base45_encode(zlib.compress(rng.randbytes(rng.randrange(1, 400))))
    if kind == 7:  # CBOR bombs: deep nesting or huge declared lengths
        head = rng.choice([b"\x81", b"\xa1\x00", b"\x9f", b"\xd8\x12"]) * rng.randrange(1, 3000)
        tail = rng.choice([b"\x00", b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff", b""])
        return base45_encode(zlib.compress(head + tail, 9))
    return "".join(rng.choice(alphabet + "abc#é\x00") for _ in range(rng.randrange(0, 1500)))


def fuzz(quick: bool) -> dict[str, Any]:
    private, verifier, kid = _keys()
    text = sign_card(_claims(kid, 7), private)
    message = zlib.decompress(base45_decode(text))
    rng = random.Random(20261130)
    count = 5_000 if quick else FLOOR_FUZZ
    verdicts: Counter[str] = Counter()
    last_resort = 0
    forged = 0
    reencoded = 0
    slowest = 0.0
    started = time.perf_counter()
    for _ in range(count):
        mutated = _mutations(text, rng)
        before = time.process_time()
        check = verifier.verify(mutated, NOW)
        slowest = max(slowest, time.process_time() - before)
        verdicts[f"{check.status.value}/{check.reason.value}"] += 1
        if "could not be read" in check.message:
            last_resort += 1
        if check.valid and mutated != text:
            # Valid after a change: only acceptable if the signed COSE message is unchanged
            # (two flips that cancel, recompressed differently).
            if zlib.decompress(base45_decode(mutated)) == message:
                reencoded += 1
            else:
                forged += 1
    elapsed = time.perf_counter() - started
    return {
        "inputs": count,
        "seconds": round(elapsed, 1),
        "per_second": round(count / elapsed),
        "slowest_cpu_ms": round(slowest * 1000, 2),
        "verdicts": dict(verdicts.most_common()),
        "reached_last_resort_handler": last_resort,
        "changed_message_accepted_as_valid": forged,
        "same_message_recompressed_accepted": reencoded,
        "floor_inputs": FLOOR_FUZZ,
        "meets_floor": count >= FLOOR_FUZZ and last_resort == 0 and forged == 0,
    }


def run(quick: bool = False) -> dict[str, Any]:
    return {
        "name": "cards",
        "floor": (
            "full-card offline verification >= 80% of raw Ed25519 verify; issuing + "
            "rendering 100,000 cards < 120 s; fuzz >= 100,000 mutated inputs without a crash"
        ),
        "verification": verification(quick),
        "issuing_and_rendering": issuing(quick),
        "fuzz": fuzz(quick),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
