"""Sealing health values with AES-256-GCM keys from the key directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fairshare.keys import FieldCipher, SealedValueError, generate_key


def test_seal_and_open_round_trip(tmp_path: Path) -> None:
    """A sealed value opens to the same text, and the ciphertext does not contain it."""
    cipher = FieldCipher.from_directory(tmp_path)
    sealed = cipher.seal('"diabetes"', "p1:chronic_illness")
    assert "diabetes" not in sealed
    assert cipher.open(sealed, "p1:chronic_illness") == '"diabetes"'


def test_sealed_value_is_bound_to_its_record(tmp_path: Path) -> None:
    """A ciphertext copied onto another person or field does not open."""
    cipher = FieldCipher.from_directory(tmp_path)
    sealed = cipher.seal('"hiv"', "p1:chronic_illness")
    with pytest.raises(SealedValueError):
        cipher.open(sealed, "p2:chronic_illness")
    with pytest.raises(SealedValueError):
        cipher.open(
            sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1], "p1:chronic_illness"
        )


def test_keys_rotate_and_old_values_still_open(tmp_path: Path) -> None:
    """After rotation new values use the new key and old values open with theirs."""
    first = FieldCipher.from_directory(tmp_path)
    old = first.seal("1", "a")
    generate_key(tmp_path)
    second = FieldCipher.from_directory(tmp_path)
    assert second.current != first.current
    assert second.open(old, "a") == "1"
    assert second.seal("2", "a").split(".")[1] == second.current


def test_key_files_are_private(tmp_path: Path) -> None:
    """Key files are readable by their owner only."""
    path = generate_key(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_key_is_an_error_when_not_creating(tmp_path: Path) -> None:
    """Without a key and without permission to create one, the error says what to run."""
    with pytest.raises(Exception, match="keys init"):
        FieldCipher.from_directory(tmp_path / "empty", create=False)


def test_key_directory_is_private(tmp_path: Path) -> None:
    """The key directory itself is readable by its owner only."""
    FieldCipher.from_directory(tmp_path / "keys")
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
