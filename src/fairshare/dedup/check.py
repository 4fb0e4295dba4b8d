"""Registration-time duplicate check: one new person scored against a few candidates. Plain Python.

The batch linkage scores pairs in DuckDB through Splink. Starting DuckDB or Splink for one
person costs far more than the 200 ms a registration may take (see decision 0015), so the
check evaluates the same comparison levels (`comparisons.COMPARISONS`) here, in Python, with
the m and u probabilities the latest run estimated. Each level below mirrors the SQL condition
of the level with the same label; a test scores the pairs of a batch run both ways and checks
that the levels and probabilities agree.

Candidates are found by `lookup_keys`: the birth dates a duplicate registration is likely to
carry (the same, day and month swapped, the year one off), the national ID and the folded
full name (also given and family names the other way round). The caller fetches the people
with those values through indexed columns and hands them to `score`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from fairshare.dedup.comparisons import COMPARISONS, M_FLOOR
from fairshare.dedup.model import FieldEvidence
from fairshare.dedup.normalise import (
    PARTICLES,
    address_tokens,
    fold,
    identifier_key,
    name_parts,
    phone_key,
)

# Fields of a person the check compares, as named in the catalogue (and in the access log).
COMPARED_FIELDS: tuple[str, ...] = (
    "given_names",
    "family_names",
    "date_of_birth",
    "sex",
    "national_id",
    "phone",
    "region",
    "municipality",
    "address",
)
PREFIX_LENGTH = 3
# The prior of an untrained model: one pair in ten thousand is one person (Splink's default).
UNTRAINED_PRIOR = 1e-4


# ---- string similarity, as DuckDB computes it -------------------------------------------


@lru_cache(maxsize=1 << 16)
def jaro_winkler(left: str, right: str) -> float:
    """Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters, boost above 0.7).

    The same figure DuckDB's `jaro_winkler_similarity` gives, which the batch model uses.
    Cached: the new person's names meet the same common names in candidate after candidate.
    """
    len_l, len_r = len(left), len(right)
    if not len_l or not len_r:
        return 0.0
    if left == right:
        return 1.0
    window = max(0, max(len_l, len_r) // 2 - 1)
    matched_r = [False] * len_r
    matches_l: list[str] = []
    for i, char in enumerate(left):
        start, end = max(0, i - window), min(len_r, i + window + 1)
        for j in range(start, end):
            if not matched_r[j] and right[j] == char:
                matched_r[j] = True
                matches_l.append(char)
                break
    matches = len(matches_l)
    if not matches:
        return 0.0
    matches_r = [right[j] for j in range(len_r) if matched_r[j]]
    transpositions = sum(a != b for a, b in zip(matches_l, matches_r, strict=True)) // 2
    jaro = (matches / len_l + matches / len_r + (matches - transpositions) / matches) / 3
    if jaro <= 0.7:
        return jaro
    prefix = 0
    for a, b in zip(left[:4], right[:4], strict=False):
        if a != b:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def within_one_edit(left: str, right: str, *, transpose: bool = True) -> bool:
    """Damerau-Levenshtein (or, without `transpose`, Levenshtein) distance at most 1."""
    if left == right:
        return True
    len_l, len_r = len(left), len(right)
    if abs(len_l - len_r) > 1:
        return False
    if len_l == len_r:
        differ = [i for i in range(len_l) if left[i] != right[i]]
        if len(differ) == 1:
            return True
        return (
            transpose
            and len(differ) == 2
            and differ[1] == differ[0] + 1
            and left[differ[0]] == right[differ[1]]
            and left[differ[1]] == right[differ[0]]
        )
    shorter, longer = (left, right) if len_l < len_r else (right, left)
    for i, char in enumerate(shorter):
        if char != longer[i]:
            return shorter[i:] == longer[i + 1 :]
    return True


# ---- a record as the comparisons see it --------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """One person's values normalised as `linkage.normalise` does (None where absent)."""

    given: str | None = None
    given1: str | None = None
    given2: str | None = None
    given_units: tuple[str, ...] | None = None
    given_names: tuple[str, ...] | None = None
    given_aliases: tuple[str, ...] | None = None
    given1_key: str | None = None
    family: str | None = None
    family1: str | None = None
    family2: str | None = None
    family1_key: str | None = None
    dob: date | None = None
    sex: str | None = None
    nid: str | None = None
    phone: str | None = None
    area: str | None = None
    address: str | None = None


def as_date(value: Any) -> date | None:
    """A date from a date or ISO text; None when absent or unreadable."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


# Names and addresses repeat across a registry, so each is normalised once per process.
_name_parts = lru_cache(maxsize=1 << 16)(name_parts)


@lru_cache(maxsize=1 << 16)
def _address(text: str | None) -> str | None:
    return " ".join(address_tokens(text)) or None


def prepare(values: Mapping[str, Any]) -> Prepared:
    """Normalise a person's values (catalogue names: COMPARED_FIELDS; any may be missing)."""
    given = _name_parts(_text(values.get("given_names")))
    family = _name_parts(_text(values.get("family_names")))
    area_raw = _text(values.get("municipality")) or _text(values.get("region"))
    return Prepared(
        given=given.whole,
        given1=given.first,
        given2=given.rest,
        given_units=given.units,
        given_names=given.whole_and_first,
        given_aliases=given.formal,
        given1_key=given.first_key,
        family=family.whole,
        family1=family.first,
        family2=family.rest,
        family1_key=family.first_key,
        dob=as_date(values.get("date_of_birth")),
        sex=fold(_text(values.get("sex"))) or None,
        nid=identifier_key(_text(values.get("national_id"))),
        phone=phone_key(_text(values.get("phone"))),
        area=fold(area_raw) or None,
        address=_address(_text(values.get("address"))),
    )


# ---- the comparison levels, as in comparisons.COMPARISONS --------------------------------


def _misspelt(left: str, right: str) -> bool:
    similarity = jaro_winkler(left, right)
    if similarity >= 0.92:
        return True
    return similarity >= 0.75 and abs(len(left) - len(right)) <= 1 and within_one_edit(left, right)


def _prefix_words(left: str, right: str) -> bool:
    return (left + " ").startswith(right + " ") or (right + " ").startswith(left + " ")


def _nearly(left: str | None, right: str | None) -> bool:
    if left is None or right is None:
        return False
    if left == right:
        return True
    if jaro_winkler(left, right) < 0.75:
        return False
    return _prefix_words(left, right) or _misspelt(left, right)


def _swapped(a: Prepared, b: Prepared) -> bool:
    return _nearly(a.given, b.family) and _nearly(a.family, b.given)


def _same_address(a: Prepared, b: Prepared) -> bool:
    return a.address is not None and a.address == b.address and _same_area(a, b)


def _same_area(a: Prepared, b: Prepared) -> bool:
    return a.area is not None and a.area == b.area


def _shares(left: Iterable[str] | None, right: Iterable[str] | None) -> bool:
    return left is not None and right is not None and not set(left).isdisjoint(right)


def _similar(
    left: str | None, right: str | None, left_key: str | None, right_key: str | None
) -> bool:
    if left_key is not None and left_key == right_key:
        return True
    return left is not None and right is not None and jaro_winkler(left, right) >= 0.88


MISSING = "missing"


def _given_level(a: Prepared, b: Prepared) -> str:
    if a.given is None or b.given is None:
        return MISSING
    if a.given == b.given:
        return "exact"
    if _swapped(a, b):
        return "swapped with family names (counted there)"
    has_second = a.given2 is not None or b.given2 is not None
    if has_second and (
        _prefix_words(a.given, b.given)
        or (" " + a.given).endswith(" " + b.given)
        or (" " + b.given).endswith(" " + a.given)
    ):
        return "one name left out"
    if (a.given_aliases is not None or b.given_aliases is not None) and (
        _shares(a.given_aliases, b.given_names)
        or _shares(a.given_names, b.given_aliases)
        or _shares(a.given_aliases, b.given_aliases)
    ):
        return "nickname"
    if _misspelt(a.given, b.given):
        return "misspelt"
    if has_second and _shares(a.given_units, b.given_units):
        return "one name shared"
    if _similar(a.given1, b.given1, a.given1_key, b.given1_key):
        return "first name similar"
    return "different"


def _family_level(a: Prepared, b: Prepared) -> str:
    if a.family is None or b.family is None:
        return MISSING
    same_address, same_area = _same_address(a, b), _same_area(a, b)
    if a.family == b.family:
        if same_address:
            return "same family names, same address"
        if same_area:
            return "same family names, same municipality"
        return "same family names, elsewhere"
    if _swapped(a, b):
        if same_address:
            return "swapped with given names, same address"
        if same_area:
            return "swapped with given names, same municipality"
        return "swapped with given names, elsewhere"
    if len(a.family) != len(b.family) and _prefix_words(a.family, b.family):
        if same_area:
            return "second family name left out, same municipality"
        return "second family name left out, elsewhere"
    if _misspelt(a.family, b.family):
        if same_area:
            return "family names misspelt, same municipality"
        return "family names misspelt, elsewhere"
    if a.family1 == b.family1:
        if same_address:
            return "first family name shared, same address"
        return "first family name shared"
    if _similar(a.family1, b.family1, a.family1_key, b.family1_key):
        if same_area:
            return "first family name similar, same municipality"
        return "first family name similar"
    if same_address:
        return "different family names, same address"
    return "different"


def _dob_level(a: Prepared, b: Prepared) -> str:
    left, right = a.dob, b.dob
    if left is None or right is None:
        return MISSING
    if left == right:
        return "exact"
    if left.year == right.year and left.month == right.day and left.day == right.month:
        return "day and month swapped"
    if abs(left.year - right.year) == 1 and left.month == right.month and left.day == right.day:
        return "year off by one"
    if within_one_edit(left.isoformat(), right.isoformat(), transpose=False):
        return "one digit different"
    if left.year == right.year and left.month == right.month:
        return "same year and month"
    if left.year == right.year:
        return "same year"
    return "different"


def _nid_level(a: Prepared, b: Prepared) -> str:
    if a.nid is None or b.nid is None:
        return MISSING
    if a.nid == b.nid:
        return "exact"
    if (a.nid[:3] == b.nid[:3] or a.nid[-3:] == b.nid[-3:]) and within_one_edit(a.nid, b.nid):
        return "one character different"
    return "different"


def _equal_level(left: str | None, right: str | None, same: str) -> str:
    if left is None or right is None:
        return MISSING
    return same if left == right else "different"


LEVELS: dict[str, Callable[[Prepared, Prepared], str]] = {
    "given_names": _given_level,
    "family_names_and_address": _family_level,
    "date_of_birth": _dob_level,
    "national_id": _nid_level,
    "phone": lambda a, b: _equal_level(a.phone, b.phone, "exact"),
    "sex": lambda a, b: _equal_level(a.sex, b.sex, "same"),
}


# ---- the model -------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    label: str
    weight: float  # log2(m / u); 0 for the null level
    tf_column: str | None = None
    tf_u: float | None = None  # u of the level, for the term-frequency adjustment
    tf_weight: float = 1.0


@dataclass(frozen=True)
class CheckModel:
    """The parameters the check scores with: per comparison, each level's match weight.

    `run_id` is None for the untrained defaults (no deduplication run yet).
    """

    levels: Mapping[str, Mapping[str, Level]]
    prior_weight: float
    run_id: str | None = None
    term_frequencies: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    tf_floor: Mapping[str, float] = field(default_factory=dict)  # tf of a value seen once

    @property
    def trained(self) -> bool:
        return self.run_id is not None

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any],
        run_id: str | None = None,
        term_frequencies: Mapping[str, Any] | None = None,
    ) -> CheckModel:
        """The model of Splink settings (as saved after training, or the defaults).

        `term_frequencies`: {"given": {"counts": {value: n}, "total": n}} as a run stores
        them; values counted once are left out of `counts` and take 1 / total.
        """
        levels: dict[str, dict[str, Level]] = {}
        for comparison in settings["comparisons"]:
            by_label: dict[str, Level] = {}
            for level in comparison["comparison_levels"]:
                label = level["label_for_charts"]
                if level.get("is_null_level"):
                    by_label[MISSING] = Level(MISSING, 0.0)
                    continue
                m = max(float(level.get("m_probability") or M_FLOOR), 1e-12)
                u = max(float(level.get("u_probability") or 1e-12), 1e-12)
                by_label[label] = Level(
                    label,
                    math.log2(m / u),
                    level.get("tf_adjustment_column"),
                    u,
                    float(level.get("tf_adjustment_weight", 1.0)),
                )
            levels[comparison["output_column_name"]] = by_label
        prior = float(settings.get("probability_two_random_records_match", UNTRAINED_PRIOR))
        prior = min(max(prior, 1e-15), 1 - 1e-9)
        frequencies: dict[str, dict[str, float]] = {}
        floors: dict[str, float] = {}
        for column, stored in (term_frequencies or {}).items():
            total = max(int(stored.get("total", 0)), 1)
            frequencies[column] = {k: int(n) / total for k, n in stored.get("counts", {}).items()}
            floors[column] = 1 / total
        return cls(levels, math.log2(prior / (1 - prior)), run_id, frequencies, floors)

    @classmethod
    def untrained(cls) -> CheckModel:
        """The comparisons' default parameters: used before the first deduplication run."""
        return cls.from_settings(
            {
                "comparisons": COMPARISONS,
                "probability_two_random_records_match": UNTRAINED_PRIOR,
            }
        )

    def _term_frequency_weight(self, level: Level, value: str | None) -> float:
        if level.tf_column is None or level.tf_u is None or value is None:
            return 0.0
        table = self.term_frequencies.get(level.tf_column)
        if table is None:  # untrained: no frequencies known, no adjustment
            return 0.0
        frequency = table.get(value, self.tf_floor.get(level.tf_column, 0.0))
        if frequency <= 0:
            return 0.0
        return level.tf_weight * math.log2(level.tf_u / frequency)


@dataclass(frozen=True)
class Scored:
    """A candidate's match probability and weight, with the evidence of each field."""

    match_probability: float
    match_weight: float
    evidence: tuple[FieldEvidence, ...]


def score(model: CheckModel, new: Prepared, existing: Prepared) -> Scored:
    """Score a pair as the batch model would (Fellegi-Sunter with its m and u)."""
    total = model.prior_weight
    evidence: list[FieldEvidence] = []
    for name, level_of in LEVELS.items():
        label = level_of(new, existing)
        level = model.levels.get(name, {}).get(label)
        if level is None:  # a model saved before this level existed: it counts for nothing
            weight = 0.0
        else:
            weight = level.weight
            if level.tf_column == "given":
                weight += model._term_frequency_weight(level, new.given)
        total += weight
        evidence.append(FieldEvidence(name, label, weight))
    probability = 1.0 / (1.0 + 2.0 ** (-total)) if total > -1000 else 0.0
    return Scored(probability, total, tuple(evidence))


# ---- finding candidates ------------------------------------------------------------------


def _shifted(day: date, years: int) -> date | None:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        try:
            return day.replace(year=day.year + years, day=28)
        except ValueError:
            return None


def _swapped_date(day: date) -> date | None:
    if day.day > 12 or day.day == day.month:
        return None
    return date(day.year, day.day, day.month)


@dataclass(frozen=True)
class LookupKeys:
    """Values of indexed registry columns that find a new person's likely duplicates."""

    dates_of_birth: tuple[date, ...] = ()
    national_ids: tuple[str, ...] = ()
    name_keys: tuple[str, ...] = ()
    # Beginnings of the first given and first family name, as they appear in a name key:
    # people born on one of the dates are candidates only when their name key holds one.
    name_prefixes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.born_and_named or self.national_ids or self.name_keys)

    @property
    def born_and_named(self) -> bool:
        return bool(self.dates_of_birth and self.name_prefixes)


def lookup_keys(values: Mapping[str, Any], name_key: Callable[..., str]) -> LookupKeys:
    """The birth dates, IDs and name keys to look candidates up by.

    Dates: the same, day and month swapped, the year one off (of either); they find a person
    only together with `name_prefixes`, the first PREFIX_LENGTH letters of the first given and
    the first family name (a typo or nickname in one name leaves the other). As in the batch
    blocking rules, a birth date alone is not enough: a heaped date (1 January) is shared by
    thousands. IDs: as typed and as `identifier_key` writes them. Names: the registry's
    `name_key` of given and family names, and of the two the other way round.
    """
    dates: list[date] = []
    born = as_date(values.get("date_of_birth"))
    if born is not None:
        swapped = _swapped_date(born)
        for day in (born, swapped):
            if day is None:
                continue
            for shifted in (day, _shifted(day, -1), _shifted(day, 1)):
                if shifted is not None and shifted not in dates:
                    dates.append(shifted)
    ids: list[str] = []
    raw_id = _text(values.get("national_id"))
    if raw_id and raw_id.strip():
        ids.append(raw_id.strip()[:32])
        key = identifier_key(raw_id)
        if key and key not in ids:
            ids.append(key[:32])
    given, family = _text(values.get("given_names")), _text(values.get("family_names"))
    names: list[str] = []
    if given and family:
        for key in (name_key(given, family), name_key(family, given)):
            if key and key not in names:
                names.append(key[:201])
    prefixes: list[str] = []
    for text in (given, family):
        words = [w for w in name_key(text).split() if w not in PARTICLES] if text else []
        if words:
            prefix = words[0][:PREFIX_LENGTH]
            if prefix not in prefixes:
                prefixes.append(prefix)
    return LookupKeys(tuple(dates), tuple(ids), tuple(names), tuple(prefixes))


__all__ = [
    "COMPARED_FIELDS",
    "CheckModel",
    "LookupKeys",
    "Prepared",
    "Scored",
    "jaro_winkler",
    "lookup_keys",
    "prepare",
    "score",
    "within_one_edit",
]
