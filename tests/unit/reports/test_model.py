"""The report statistics: Wilson and Newcombe intervals, suppression, and the gap rule."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairshare.errors import InvalidInput
from fairshare.reports.model import (
    GapStatus,
    Interval,
    cells,
    check_period,
    difference_interval,
    equity_gaps,
    gap_status,
    household_size_label,
    ordered,
    suppress,
    wilson,
)


def test_wilson_matches_published_values() -> None:
    """Newcombe (1998) table I: 81/263 gives 0.2553 to 0.3662 at 95%."""
    interval = wilson(81, 263)
    assert interval.low == pytest.approx(0.2553, abs=1e-4)
    assert interval.high == pytest.approx(0.3662, abs=1e-4)


def test_wilson_at_the_extremes_is_exact() -> None:
    """0/n starts at 0 and n/n ends at 1; no data means the share is unknown."""
    assert wilson(0, 10).low == 0.0 and wilson(0, 10).high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(10, 10).high == 1.0
    assert wilson(0, 0) == Interval(0.0, 1.0)


@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_wilson_holds_the_share_and_stays_in_bounds(part: int, extra: int) -> None:
    """Every interval lies in [0, 1] and contains the observed share."""
    total = part + extra
    interval = wilson(part, total)
    assert 0.0 <= interval.low <= part / total <= interval.high <= 1.0


@given(st.integers(1, 2_000), st.integers(1, 2_000))
def test_wilson_narrows_as_the_sample_grows(part: int, total: int) -> None:
    """The same share from ten times the people has a narrower interval."""
    part = min(part, total)
    small, large = wilson(part, total), wilson(part * 10, total * 10)
    assert large.high - large.low < small.high - small.low


def test_wilson_refuses_impossible_counts() -> None:
    with pytest.raises(InvalidInput):
        wilson(5, 3)


def test_newcombe_difference_matches_published_values() -> None:
    """Newcombe (1998) example: 56/70 - 48/80 = 0.2 with interval 0.0524 to 0.3339."""
    interval = difference_interval(56, 70, 48, 80)
    assert interval.low == pytest.approx(0.0524, abs=1e-4)
    assert interval.high == pytest.approx(0.3339, abs=1e-4)


@given(st.integers(0, 500), st.integers(1, 500), st.integers(0, 500), st.integers(1, 500))
def test_difference_interval_holds_the_difference(a: int, n1: int, b: int, n2: int) -> None:
    a, b = min(a, n1), min(b, n2)
    interval = difference_interval(a, n1, b, n2)
    d = a / n1 - b / n2
    assert -1.0 <= interval.low <= d + 1e-12 and d - 1e-12 <= interval.high <= 1.0


def test_small_cells_are_withheld_and_zero_is_shown() -> None:
    """1 to 9 are withheld; 0 is no one and 10 is enough."""
    assert suppress({"a": 0, "b": 9, "c": 10, "d": 1, "e": 50}) == {
        "a": 0,
        "b": None,
        "c": 10,
        "d": None,
        "e": 50,
    }


def test_one_withheld_cell_takes_the_smallest_other_with_it() -> None:
    """With the total shown, a lone withheld cell would be total minus the rest."""
    assert suppress({"a": 3, "b": 40, "c": 12, "d": 0}) == {"a": None, "b": 40, "c": None, "d": 0}
    assert suppress({"a": 3, "b": 40}, total_shown=False) == {"a": None, "b": 40}


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(0, 100), max_size=12))
def test_suppression_never_leaves_a_single_small_cell_recoverable(counts: dict[str, int]) -> None:
    """Never exactly one withheld cell when another non-zero cell could pair with it;
    and no shown value is under 10 unless it is 0."""
    shown = suppress(counts)
    withheld = [k for k, v in shown.items() if v is None]
    others = [k for k, v in counts.items() if k not in withheld and v > 0]
    assert len(withheld) != 1 or not others
    assert all(v is None or v == 0 or v >= 10 for v in shown.values())


def test_cells_are_ordered_and_shown() -> None:
    shown = cells({"65+": 12, "0-4": 30, "unknown": 11, "25-59": 5}, suppressed=True)
    assert [(c.label, c.shown) for c in shown] == [
        ("0-4", "30"),
        ("25-59", "<10"),
        ("65+", "12"),
        ("unknown", "<10"),  # the smallest other cell, withheld with the lone small one
    ]


def test_groups_sort_in_their_natural_order() -> None:
    assert ordered(["8+", "10", "2", "1", "unknown"]) == ["1", "2", "8+", "10", "unknown"]
    assert ordered(["not recorded", "with disability", "no disability"]) == [
        "no disability",
        "with disability",
        "not recorded",
    ]
    assert [household_size_label(n) for n in (0, 1, 7, 8, 13)] == ["unknown", "1", "7", "8+", "8+"]


def test_the_gap_rule() -> None:
    """Within the threshold: clear; beyond it: possible, flagged once chance is excluded."""
    assert gap_status(0.03, Interval(-0.01, 0.07), 0.05) is GapStatus.CLEAR
    assert gap_status(-0.08, Interval(-0.2, 0.01), 0.05) is GapStatus.POSSIBLE
    assert gap_status(-0.08, Interval(-0.12, -0.04), 0.05) is GapStatus.FLAGGED


def test_equity_gaps_flag_an_under_served_group() -> None:
    """A region with 30% of the eligible and 10% of the benefit is flagged, with intervals."""
    eligible = {"Costa": 700, "Sierra": 300}
    benefited = {"Costa": 630, "Sierra": 70}
    gaps = {g.group: g for g in equity_gaps(benefited, eligible, threshold=0.05)}
    sierra = gaps["Sierra"]
    assert sierra.status is GapStatus.FLAGGED and sierra.under_served
    assert sierra.benefit_share == pytest.approx(0.1)
    assert sierra.eligible_share == pytest.approx(0.3)
    assert sierra.gap == pytest.approx(-0.2)
    assert sierra.gap_interval is not None and sierra.gap_interval.high < 0
    assert sierra.benefit_interval is not None and sierra.benefit_interval.contains(0.1)


def test_equity_gaps_are_uncertain_for_small_groups() -> None:
    """The same shares from a few dozen people are a possible gap, not a flagged one."""
    gaps = {g.group: g for g in equity_gaps({"a": 18, "b": 12}, {"a": 21, "b": 14}, threshold=0.05)}
    assert gaps["a"].status is GapStatus.CLEAR
    gaps = {g.group: g for g in equity_gaps({"a": 27, "b": 13}, {"a": 20, "b": 20}, threshold=0.05)}
    assert gaps["b"].status is GapStatus.POSSIBLE


def test_equity_gaps_withhold_small_groups_and_their_partner() -> None:
    """A group under 10 is withheld, and so is the cell that would give it back."""
    gaps = {g.group: g for g in equity_gaps({"a": 5, "b": 80, "c": 40}, {"a": 6, "b": 90, "c": 44})}
    assert gaps["a"].status is GapStatus.WITHHELD and gaps["a"].benefit_share is None
    assert gaps["c"].status is GapStatus.WITHHELD
    assert gaps["b"].status is not GapStatus.WITHHELD


def test_threshold_and_period_are_checked() -> None:
    with pytest.raises(InvalidInput):
        equity_gaps({}, {}, threshold=0)
    with pytest.raises(InvalidInput):
        check_period("2026-13")
    with pytest.raises(InvalidInput):
        check_period("2026-1")
    assert check_period(" 2026-11 ") == "2026-11"
    assert check_period(None) is None
    assert math.isclose(wilson(1, 2).low + wilson(1, 2).high, 1.0)
