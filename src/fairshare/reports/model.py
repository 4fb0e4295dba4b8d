"""The statistics of coverage and equity reports: counts, small-cell suppression, shares with
Wilson intervals, differences of shares with Newcombe intervals, and the equity gap rule.

Pure functions and dataclasses only (standard library and the eligibility model's constants),
so every number a report shows can be checked here without a database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from statistics import NormalDist

from fairshare.eligibility.model import AGE_BANDS, SMALL_CELL, SUPPRESSED
from fairshare.errors import FairshareError, InvalidInput

DEFAULT_GAP_THRESHOLD = 0.05
DEFAULT_CONFIDENCE = 0.95
MEASURES = ("registered", "eligible", "enrolled", "entitled", "redeemed")
# Every breakdown a report can show; disability only to the purposes in services.HEALTH_AGGREGATE.
DIMENSIONS = ("region", "age_band", "sex", "household_size", "disability")
PUBLIC_DIMENSIONS = ("region",)
NOT_RECORDED = "not recorded"
WITH_DISABILITY = "with disability"
WITHOUT_DISABILITY = "no disability"
DIMENSION_LABELS = {
    "region": "Region",
    "age_band": "Age band",
    "sex": "Sex",
    "household_size": "Household size",
    "disability": "Disability",
}
MEASURE_LABELS = {
    "registered": "Registered",
    "eligible": "Eligible",
    "enrolled": "Enrolled now",
    "entitled": "Entitled",
    "redeemed": "Redeemed",
}
DATA_STATEMENT = (
    "This report uses only need facts held in the registry under the published catalogue "
    "(date of birth for age bands, household membership for household size), the demographic "
    "fields the catalogue allows for equity reporting (sex, region), eligibility decisions and "
    "ledger transfers. Disability appears only in aggregate, with small cells withheld, and only "
    "for purposes that may use health data for statistics. It never uses political opinion, "
    "religion, ethnic origin, union membership, sexual orientation or any other category the "
    "catalogue refuses, and it scores no one: every figure is a count of people or households."
)


class Signal(StrEnum):
    """Signs that someone who should receive a benefit does not."""

    NOT_PAID = "not_paid"  # eligible in a period but no entitlement posted for it
    NOT_REDEEMED = "not_redeemed"  # entitled in a period but nothing redeemed from it
    LOST_ELIGIBILITY = "lost_eligibility"  # eligible in one run, not in the next
    OVERDUE_APPEAL = "overdue_appeal"  # an appeal still open after its due date


SIGNAL_LABELS = {
    Signal.NOT_PAID: "Eligible but received nothing",
    Signal.NOT_REDEEMED: "Entitled but redeemed nothing",
    Signal.LOST_ELIGIBILITY: "Lost eligibility since the previous run",
    Signal.OVERDUE_APPEAL: "Appeals overdue",
}


class GapStatus(StrEnum):
    CLEAR = "clear"  # the gap is within the threshold
    POSSIBLE = "possible"  # the gap exceeds the threshold, but chance alone could explain it
    FLAGGED = "flagged"  # beyond the threshold, and its interval excludes no gap at all
    WITHHELD = "withheld"  # a count under SMALL_CELL: no share is shown


class NoReportData(FairshareError):
    status = 404
    title = "Nothing to report"


def check_period(period: str | None) -> str | None:
    """A month like 2026-11, or None for every period. Raises InvalidInput."""
    if period is None:
        return None
    text = period.strip()
    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise InvalidInput(
            f"period {text[:20]!r} is not a month; write it like 2026-11",
            errors=[{"field": "period", "reason": "a month like 2026-11"}],
        ) from None
    if len(text) != 7:
        raise InvalidInput(
            f"period {text[:20]!r} is not a month; write it like 2026-11",
            errors=[{"field": "period", "reason": "a month like 2026-11"}],
        )
    return text


def check_threshold(threshold: float) -> float:
    if not (isinstance(threshold, int | float) and 0 < threshold < 1):
        raise InvalidInput("the equity gap threshold is a share between 0 and 1, e.g. 0.05")
    return float(threshold)


# ---- intervals ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@cache
def z_value(confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The two-sided standard normal quantile (1.96 for 95%)."""
    if not 0 < confidence < 1:
        raise InvalidInput("confidence is a probability between 0 and 1, e.g. 0.95")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, total: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval for a proportion successes/total.

    Unlike the textbook p ± z·se it stays within [0, 1] and keeps its coverage for small
    counts and shares near 0 or 1. With no observations the share is unknown: [0, 1].
    """
    if total < 0 or successes < 0 or successes > total:
        raise InvalidInput("a share needs 0 <= part <= total")
    if total == 0:
        return Interval(0.0, 1.0)
    z = z_value(confidence)
    p = successes / total
    z2n = z * z / total
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / total + z2n / (4 * total)) / (1 + z2n)
    # Exact bounds at the extremes: rounding must not put 0 or 1 outside the interval.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return Interval(low, high)


def difference_interval(
    x1: int, n1: int, x2: int, n2: int, confidence: float = DEFAULT_CONFIDENCE
) -> Interval:
    """Newcombe's hybrid score interval (method 10) for p1 - p2, from two Wilson intervals.

    Treats the two shares as independent samples; for a benefit share against the eligible
    share of the same group (the benefited are mostly among the eligible) this overstates
    the uncertainty a little, so the rule flags fewer gaps, never more.
    """
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    first, second = wilson(x1, n1, confidence), wilson(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - first.low) ** 2 + (second.high - p2) ** 2)
    high = d + math.sqrt((first.high - p1) ** 2 + (p2 - second.low) ** 2)
    return Interval(max(-1.0, low), min(1.0, high))


# ---- suppression -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One count as shown: `count` is None when withheld; `shown` is what to print."""

    label: str
    count: int | None
    shown: str

    @property
    def withheld(self) -> bool:
        return self.count is None


def is_small(count: int) -> bool:
    """A count of people that could point at someone: 1 to SMALL_CELL - 1 (0 is no one)."""
    return 0 < count < SMALL_CELL


def suppress(counts: Mapping[str, int], *, total_shown: bool = True) -> dict[str, int | None]:
    """Withhold counts under SMALL_CELL; with a published total, withhold a second cell too.

    When the total of a breakdown is shown and exactly one cell is withheld, the total minus
    the other cells would give it back; the smallest other non-zero cell is withheld as well
    (complementary suppression).
    """
    shown: dict[str, int | None] = {
        label: (None if is_small(count) else count) for label, count in counts.items()
    }
    withheld = [label for label, value in shown.items() if value is None]
    if total_shown and len(withheld) == 1:
        others = sorted(
            (count, label) for label, count in counts.items() if label not in withheld and count > 0
        )
        if others:
            shown[others[0][1]] = None
    return shown


def cells(counts: Mapping[str, int], *, suppressed: bool, total_shown: bool = True) -> list[Cell]:
    """Counts as cells in display order; withheld as SUPPRESSED when `suppressed`."""
    values: Mapping[str, int | None] = (
        suppress(counts, total_shown=total_shown) if suppressed else dict(counts)
    )
    return [
        Cell(label, values[label], SUPPRESSED if values[label] is None else f"{values[label]:,}")
        for label in ordered(counts)
    ]


def shown_count(count: int, *, suppressed: bool = True) -> str:
    return SUPPRESSED if suppressed and is_small(count) else f"{count:,}"


def ordered(labels: Iterable[str]) -> list[str]:
    """Age bands in age order, household sizes in numeric order, the rest alphabetically,
    'unknown' and 'not recorded' last."""
    bands = {label: index for index, (_, _, label) in enumerate(AGE_BANDS)}

    def key(label: str) -> tuple[int, float, str]:
        if label in bands:
            return (0, bands[label], "")
        if label.rstrip("+").isdigit():
            return (1, int(label.rstrip("+")), label)
        if label in ("unknown", NOT_RECORDED):
            return (3, 0, label)
        return (2, 0, label)

    return sorted(set(labels), key=key)


def household_size_label(size: int | None) -> str:
    """Sizes 1 to 7 as themselves, 8 and more together: a household of 13 is easy to spot."""
    if size is None or size <= 0:
        return "unknown"
    return "8+" if size >= 8 else str(size)


def age_on(date_of_birth: date, day: date) -> int:
    """Completed years on a day."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - (1 if before_birthday else 0)


# ---- equity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupGap:
    """One group's share of the benefit against its share of the eligible population."""

    group: str
    benefited: int | None  # None: withheld (under SMALL_CELL)
    eligible: int | None
    benefit_share: float | None
    benefit_interval: Interval | None
    eligible_share: float | None
    eligible_interval: Interval | None
    gap: float | None  # benefit share - eligible share
    gap_interval: Interval | None
    status: GapStatus

    @property
    def under_served(self) -> bool:
        return self.status is GapStatus.FLAGGED and (self.gap or 0) < 0


def gap_status(gap: float, interval: Interval, threshold: float) -> GapStatus:
    """The gap rule: beyond the threshold is a possible gap; it is flagged when, in addition,
    the interval of the difference excludes zero (chance alone is an unlikely explanation)."""
    if abs(gap) <= threshold:
        return GapStatus.CLEAR
    return GapStatus.POSSIBLE if interval.contains(0.0) else GapStatus.FLAGGED


def equity_gaps(
    benefited: Mapping[str, int],
    eligible: Mapping[str, int],
    *,
    threshold: float = DEFAULT_GAP_THRESHOLD,
    confidence: float = DEFAULT_CONFIDENCE,
    suppressed: bool = True,
) -> list[GroupGap]:
    """Per group: benefit share and eligible share with Wilson intervals, their difference
    with a Newcombe interval, and the gap status. Groups with a count under SMALL_CELL are
    withheld (their shares too: a share and a total give the count back), with the same
    complementary suppression as the count tables."""
    check_threshold(threshold)
    benefit_total = sum(benefited.values())
    eligible_total = sum(eligible.values())
    groups = ordered([*benefited, *eligible])
    full_b = {g: benefited.get(g, 0) for g in groups}
    full_e = {g: eligible.get(g, 0) for g in groups}
    # The same cells are withheld as in the count tables (complementary ones included).
    shown_b, shown_e = suppress(full_b), suppress(full_e)
    gaps = []
    for group in groups:
        b, e = full_b[group], full_e[group]
        if suppressed and (shown_b[group] is None or shown_e[group] is None):
            gaps.append(
                GroupGap(group, None, None, None, None, None, None, None, None, GapStatus.WITHHELD)
            )
            continue
        b_share = b / benefit_total if benefit_total else 0.0
        e_share = e / eligible_total if eligible_total else 0.0
        difference = difference_interval(b, benefit_total, e, eligible_total, confidence)
        gap = b_share - e_share
        gaps.append(
            GroupGap(
                group,
                b,
                e,
                b_share,
                wilson(b, benefit_total, confidence),
                e_share,
                wilson(e, eligible_total, confidence),
                gap,
                difference,
                gap_status(gap, difference, threshold),
            )
        )
    return gaps


# ---- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    """One dimension of one programme and period: a row per group, a column per measure."""

    dimension: str
    groups: tuple[str, ...]
    measures: dict[str, tuple[Cell, ...]]  # measure → one cell per group, in `groups` order

    def rows(self) -> list[tuple[str, list[Cell]]]:
        return [
            (group, [self.measures[m][index] for m in MEASURES if m in self.measures])
            for index, group in enumerate(self.groups)
        ]


@dataclass(frozen=True)
class EquityAudit:
    dimension: str
    gaps: tuple[GroupGap, ...]

    @property
    def flagged(self) -> tuple[GroupGap, ...]:
        return tuple(g for g in self.gaps if g.status is GapStatus.FLAGGED)


@dataclass(frozen=True)
class SignalCount:
    """How many people or households show a signal, by group (withheld when small)."""

    signal: Signal
    total: int | None  # None: withheld (under SMALL_CELL)
    total_shown: str
    by_region: tuple[Cell, ...] = ()
    by_merchant: tuple[MerchantLine, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class MerchantLine:
    merchant: str
    region: str
    redemptions: int
    shown: str
    amount_text: str
    unredeemed_in_region: str  # entitlements left unredeemed in the merchant's region


@dataclass(frozen=True)
class PeriodCoverage:
    programme: str
    period: str
    totals: dict[str, Cell]  # measure → total cell
    entitled_amount_text: str
    redeemed_amount_text: str
    breakdowns: tuple[Breakdown, ...]
    equity: tuple[EquityAudit, ...]
    signals: tuple[SignalCount, ...]


@dataclass(frozen=True)
class ProgrammeReport:
    code: str
    name: str
    target: str
    asset: str
    needs_health: bool
    rule_version: int | None
    periods: tuple[PeriodCoverage, ...]
    lost_eligibility: SignalCount | None
    overdue_appeals: SignalCount

    @property
    def latest(self) -> PeriodCoverage | None:
        return self.periods[-1] if self.periods else None


@dataclass(frozen=True)
class CoverageReport:
    generated_at: datetime
    generated_by: str
    period: str | None
    threshold: float
    confidence: float
    dimensions: tuple[str, ...]
    programmes: tuple[ProgrammeReport, ...]
    data_statement: str = DATA_STATEMENT
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> list[tuple[str, str, str, GroupGap]]:
        """(programme, period, dimension, gap) of every flagged gap."""
        return [
            (programme.code, coverage.period, audit.dimension, gap)
            for programme in self.programmes
            for coverage in programme.periods
            for audit in coverage.equity
            for gap in audit.flagged
        ]


@dataclass(frozen=True)
class PublicProgrammeCoverage:
    """What anyone may see of a programme's latest period: counts by region, withheld when
    small, never a person."""

    code: str
    name: str
    target: str
    period: str
    totals: dict[str, str]  # measure → shown
    by_region: tuple[tuple[str, dict[str, str]], ...]  # (region, measure → shown)


@dataclass(frozen=True)
class ExcludedSubject:
    """One person or household behind a signal, for a caseworker following it up."""

    subject_type: str
    subject_id: str
    name: str
    region: str
    period: str | None
    detail: str
