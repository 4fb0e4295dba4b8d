"""Registry domain rules: changes, reasons, ages and search keys."""

from __future__ import annotations

from datetime import date

import pytest

from fairshare.errors import InvalidInput
from fairshare.registry.model import Change, age_on, changes_between, name_key, require_reason


def test_changes_between_lists_only_differences() -> None:
    """Only fields whose value differs count as changes, in name order."""
    old = {"a": 1, "b": 2, "c": None}
    assert changes_between(old, {"b": 3, "a": 1, "c": "x"}) == [
        Change("b", 2, 3),
        Change("c", None, "x"),
    ]


@pytest.mark.parametrize("reason", [None, "", "  ", "ok", "a\x00b", "x" * 501])
def test_changes_need_a_proper_reason(reason: str | None) -> None:
    """Missing, too short, oversize or control-character reasons are refused."""
    with pytest.raises(InvalidInput):
        require_reason(reason)


def test_age_counts_completed_years() -> None:
    """Age on a date counts a birthday only once it has come."""
    assert age_on(date(2000, 6, 15), date(2026, 6, 14)) == 25
    assert age_on(date(2000, 6, 15), date(2026, 6, 15)) == 26
    assert age_on(date(2004, 2, 29), date(2026, 2, 28)) == 21


def test_name_key_folds_case_and_accents() -> None:
    """Search keys ignore case, accents and extra spaces."""
    assert name_key("  María José ", "PÉREZ  Ñuñez") == "maria jose perez nunez"
    assert name_key("Ana", None) == "ana"
