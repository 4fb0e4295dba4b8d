"""The committed card test vectors (tests/vectors/cards) verify as each one says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairshare.credentials.card import TrustedKey, Verifier
from fairshare.credentials.lists import unb64
from tests.unit.credentials.vectors import DIRECTORY, vectors

FILES = sorted(DIRECTORY.glob("*.json"))


def test_there_are_at_least_thirty_vectors_covering_every_verdict() -> None:
    """At least 30 vectors, and every status appears among them."""
    assert len(FILES) >= 30
    statuses = {json.loads(p.read_text())["expected"]["status"] for p in FILES}
    assert statuses == {
        "valid",
        "expired",
        "revoked",
        "unknown_issuer",
        "bad_signature",
        "malformed",
    }


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_vector_verifies_as_expected(path: Path) -> None:
    """The verifier gives each committed vector its expected status and reason at its clock."""
    vector = json.loads(path.read_text(encoding="utf-8"))
    context = vector["context"]
    keys = [
        TrustedKey(k["kid"], unb64(k["public_key"]), k["retired_at"])
        for k in context["trusted_keys"]
    ]
    check = Verifier(keys, context["revoked"]).verify(vector["qr_text"], vector["clock"])
    expected = vector["expected"]
    assert (check.status.value, check.reason.value) == (expected["status"], expected["reason"]), (
        vector["description"],
        check.message,
    )
    assert check.valid is expected["valid"]


def test_the_committed_vectors_are_the_generated_ones() -> None:
    """The files match the generator (fixed keys, deterministic signatures)."""
    generated = vectors()
    assert sorted(generated) == [p.stem for p in FILES]
    for path in FILES:
        assert json.loads(path.read_text(encoding="utf-8")) == generated[path.stem], path.name
