"""A synthetic population of households and people, with planted duplicate registrations.

`generate()` builds the registry's bulk-import table (`records`, every value a string or null,
exactly as the importer reads it) and the ground truth of who is who (`truth`). Everything is
drawn from one seeded numpy generator, so the same seed gives identical tables.

The bulk is vectorised: numeric state (indices into name lists, ages in days, codes) is drawn
for every person at once, and strings are rendered with pyarrow compute in chunks of about a
million rows. Only the planted duplicates (a few per cent) are built row by row in Python,
because each one carries its own mix of registration errors.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fairshare.catalogue.model import (
    CHRONIC_ILLNESS,
    DISABILITY,
    DWELLING,
    EMPLOYMENT,
    RELATIONSHIPS,
    SEX,
    TENURE,
)
from fairshare.synth import names

RECORD_COLUMNS: tuple[str, ...] = (
    "record_ref",
    "household_ref",
    "region",
    "municipality",
    "address",
    "dwelling_type",
    "dwelling_tenure",
    "land_hectares",
    "owns_vehicle",
    "given_names",
    "family_names",
    "date_of_birth",
    "sex",
    "national_id",
    "phone",
    "relationship_to_head",
    "employment_status",
    "monthly_income",
    "disability",
    "chronic_illness",
    "health_consent",
)
TRUTH_COLUMNS: tuple[str, ...] = ("record_ref", "person_key", "duplicate_of", "errors")

MAX_PEOPLE = 50_000_000
MAX_DUPLICATE_RATE = 0.5
FORMATS = ("parquet", "csv")

# Kinds of error a planted duplicate can carry, with their relative frequency. They are applied
# in this order, so that e.g. a typo lands on the already swapped or shortened names.
ERROR_WEIGHTS: dict[str, float] = {
    "nickname": 0.08,
    "second_given_name_dropped": 0.07,
    "first_family_name_only": 0.14,
    "names_swapped": 0.05,
    "accents_dropped": 0.22,
    "name_typo": 0.30,
    "case_changed": 0.04,
    "dob_day_month_swapped": 0.07,
    "dob_year_off_by_one": 0.07,
    "national_id_missing": 0.15,
    "phone_missing": 0.10,
    "phone_changed": 0.10,
    "address_changed": 0.20,
}
# A share of duplicates is registered exactly again ("none") or nearly so (only the letter case
# differs); the rest carry 1-4 errors.
_EXACT_SHARE = 0.12
_NEAR_EXACT_SHARE = 0.05
_ERROR_COUNT_WEIGHTS = (0.45, 0.33, 0.15, 0.07)

_CHUNK_ROWS = 1 << 20
_YEAR = 365.2425

# Household sizes 1..12, mean about 3.3 (Latin American censuses report 3.1-3.6).
_HOUSEHOLD_SIZE_P = np.array(
    [0.14, 0.22, 0.23, 0.20, 0.10, 0.05, 0.025, 0.015, 0.008, 0.004, 0.002, 0.001]
)
_HOUSEHOLD_SIZE_P = _HOUSEHOLD_SIZE_P / _HOUSEHOLD_SIZE_P.sum()


@dataclass
class Population:
    """The importer's input (`records`) and who is really who (`truth`)."""

    records: pa.Table
    truth: pa.Table

    @property
    def people(self) -> int:
        return int(self.records.num_rows)

    @property
    def households(self) -> int:
        return int(pc.count_distinct(self.records["household_ref"]).as_py())

    @property
    def duplicates(self) -> int:
        column = self.truth["duplicate_of"]
        return int(len(column) - column.null_count)


def _codes(choices: Sequence[str], *wanted: str) -> tuple[int, ...]:
    return tuple(choices.index(w) for w in wanted)


HEAD, SPOUSE, CHILD, STEPCHILD, GRANDCHILD, PARENT, SIBLING, OTHER_RELATIVE, NON_RELATIVE = _codes(
    RELATIONSHIPS,
    "head",
    "spouse_partner",
    "child",
    "stepchild",
    "grandchild",
    "parent",
    "sibling",
    "other_relative",
    "non_relative",
)
FEMALE, MALE, OTHER_SEX = _codes(SEX, "female", "male", "other")


def _probabilities(choices: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    """A probability vector over `choices` (catalogue order) from a name -> weight mapping."""
    unknown = set(weights) - set(choices)
    if unknown:
        raise ValueError(f"not catalogue choices: {sorted(unknown)}")
    vector = np.array([weights.get(c, 0.0) for c in choices], dtype=np.float64)
    normalised: np.ndarray = vector / vector.sum()
    return normalised


# Relationship of members other than the head and the spouse.
_MEMBER_ROLE_P = _probabilities(
    RELATIONSHIPS,
    {
        "child": 0.72,
        "stepchild": 0.04,
        "grandchild": 0.10,
        "parent": 0.05,
        "sibling": 0.04,
        "other_relative": 0.04,
        "non_relative": 0.01,
    },
)

# Employment by group: 0 under 15, 1 aged 15-17, 2 aged 18-24, 3 men 25-64, 4 women and others
# 25-64, 5 aged 65 and over.
_EMPLOYMENT_P = np.stack(
    [
        _probabilities(EMPLOYMENT, weights)
        for weights in (
            {"child": 1.0},
            {
                "student": 0.82,
                "informal_worker": 0.07,
                "unemployed": 0.04,
                "employed": 0.03,
                "homemaker": 0.03,
                "unable_to_work": 0.01,
            },
            {
                "student": 0.40,
                "employed": 0.18,
                "informal_worker": 0.16,
                "self_employed": 0.04,
                "unemployed": 0.11,
                "homemaker": 0.09,
                "unable_to_work": 0.02,
            },
            {
                "employed": 0.38,
                "self_employed": 0.16,
                "informal_worker": 0.28,
                "unemployed": 0.09,
                "homemaker": 0.02,
                "unable_to_work": 0.04,
                "student": 0.02,
                "retired": 0.01,
            },
            {
                "employed": 0.28,
                "self_employed": 0.11,
                "informal_worker": 0.20,
                "unemployed": 0.08,
                "homemaker": 0.27,
                "unable_to_work": 0.03,
                "student": 0.02,
                "retired": 0.01,
            },
            {
                "retired": 0.58,
                "informal_worker": 0.09,
                "self_employed": 0.05,
                "employed": 0.02,
                "homemaker": 0.17,
                "unable_to_work": 0.09,
            },
        )
    ]
)
# (median monthly income, log-normal sigma, share with any income) by employment status.
_INCOME = {
    "employed": (240.0, 0.60, 1.0),
    "self_employed": (200.0, 0.95, 1.0),
    "informal_worker": (140.0, 0.65, 1.0),
    "retired": (130.0, 0.35, 0.65),
    "unemployed": (45.0, 0.70, 0.07),
    "student": (45.0, 0.70, 0.07),
    "homemaker": (45.0, 0.70, 0.07),
    "unable_to_work": (45.0, 0.70, 0.07),
    "child": (0.0, 0.0, 0.0),
}
_MAX_INCOME = 250_000.0

# Health: prevalence by age band (under 18, 18-44, 45-64, 65-74, 75+) and type distributions.
_AGE_BANDS = np.array([18, 45, 65, 75])
_DISABILITY_PREVALENCE = np.array([0.03, 0.04, 0.09, 0.14, 0.21])
_CHRONIC_PREVALENCE = np.array([0.05, 0.12, 0.32, 0.48, 0.55])
_DISABILITY_P = np.stack(
    [
        _probabilities(
            DISABILITY,
            {
                "physical": 0.20,
                "visual": 0.10,
                "hearing": 0.10,
                "speech": 0.12,
                "intellectual": 0.28,
                "psychosocial": 0.10,
                "multiple": 0.10,
            },
        ),
        _probabilities(
            DISABILITY,
            {
                "physical": 0.38,
                "visual": 0.16,
                "hearing": 0.13,
                "speech": 0.02,
                "intellectual": 0.07,
                "psychosocial": 0.10,
                "multiple": 0.14,
            },
        ),
    ]
)
_CHRONIC_P = np.stack(
    [
        _probabilities(
            CHRONIC_ILLNESS,
            {
                "diabetes": 0.08,
                "hypertension": 0.10,
                "asthma_copd": 0.30,
                "hiv": 0.08,
                "tuberculosis": 0.03,
                "epilepsy": 0.10,
                "heart_disease": 0.03,
                "kidney_disease": 0.03,
                "cancer": 0.02,
                "mental_health": 0.15,
                "other": 0.08,
            },
        ),
        _probabilities(
            CHRONIC_ILLNESS,
            {
                "diabetes": 0.24,
                "hypertension": 0.38,
                "asthma_copd": 0.08,
                "hiv": 0.02,
                "tuberculosis": 0.01,
                "epilepsy": 0.02,
                "heart_disease": 0.10,
                "kidney_disease": 0.05,
                "cancer": 0.04,
                "mental_health": 0.03,
                "other": 0.03,
            },
        ),
    ]
)

_DWELLING_P = np.stack(
    [
        _probabilities(
            DWELLING,
            {
                "house": 0.52,
                "apartment": 0.26,
                "room": 0.07,
                "informal_settlement": 0.10,
                "shelter": 0.005,
                "no_dwelling": 0.005,
                "other": 0.04,
            },
        ),
        _probabilities(
            DWELLING,
            {
                "house": 0.80,
                "apartment": 0.01,
                "room": 0.03,
                "informal_settlement": 0.10,
                "shelter": 0.002,
                "no_dwelling": 0.005,
                "other": 0.053,
            },
        ),
    ]
)
_TENURE_BY_DWELLING = {
    "house": {
        "owned": 0.62,
        "rented": 0.17,
        "ceded": 0.11,
        "occupied_informally": 0.04,
        "none": 0.01,
        "other": 0.05,
    },
    "apartment": {
        "owned": 0.45,
        "rented": 0.42,
        "ceded": 0.08,
        "occupied_informally": 0.01,
        "none": 0.01,
        "other": 0.03,
    },
    "room": {
        "owned": 0.05,
        "rented": 0.70,
        "ceded": 0.15,
        "occupied_informally": 0.04,
        "none": 0.02,
        "other": 0.04,
    },
    "informal_settlement": {
        "owned": 0.30,
        "rented": 0.08,
        "ceded": 0.07,
        "occupied_informally": 0.50,
        "none": 0.02,
        "other": 0.03,
    },
    "shelter": {"ceded": 0.5, "none": 0.4, "other": 0.1},
    "no_dwelling": {"none": 1.0},
    "other": {
        "owned": 0.3,
        "rented": 0.2,
        "ceded": 0.2,
        "occupied_informally": 0.1,
        "none": 0.1,
        "other": 0.1,
    },
}
_TENURE_P = np.stack(
    [_probabilities(TENURE, _TENURE_BY_DWELLING.get(d, {"other": 1.0})) for d in DWELLING]
)

# Flat list of municipalities with their region, population share and rural share.
_MUNI_REGION: list[int] = []
_MUNI_NAME: list[str] = []
_MUNI_WEIGHT: list[float] = []
_MUNI_RURAL: list[float] = []
_REGION_FIRST_MUNI: list[int] = []
for _r, (_region, _share, _rural, _municipalities) in enumerate(names.REGIONS):
    _REGION_FIRST_MUNI.append(len(_MUNI_NAME))
    _w = np.array([1.0 / (i + 1) ** 0.9 for i in range(len(_municipalities))])
    _w = _w / _w.sum()
    for _i, _muni in enumerate(_municipalities):
        _MUNI_REGION.append(_r)
        _MUNI_NAME.append(_muni)
        _MUNI_WEIGHT.append(_share * float(_w[_i]))
        _MUNI_RURAL.append(min(0.95, _rural * (0.5 if _i == 0 else 1.25)))
_MUNI_REGION_A = np.array(_MUNI_REGION)
_MUNI_P = np.array(_MUNI_WEIGHT) / sum(_MUNI_WEIGHT)
_MUNI_RURAL_A = np.array(_MUNI_RURAL)
_REGION_FIRST_A = np.array(_REGION_FIRST_MUNI)
_REGION_SIZE_A = np.array([len(r[3]) for r in names.REGIONS])

_GIVEN_ALL = names.FEMALE_GIVEN_NAMES + names.MALE_GIVEN_NAMES
_N_FEMALE = len(names.FEMALE_GIVEN_NAMES)
_GIVEN_SINGLE_WORD = np.array([" " not in n for n in _GIVEN_ALL])
_FEMALE_P = np.array(names.FEMALE_GIVEN_WEIGHTS) / sum(names.FEMALE_GIVEN_WEIGHTS)
_MALE_P = np.array(names.MALE_GIVEN_WEIGHTS) / sum(names.MALE_GIVEN_WEIGHTS)
_FAMILY_P = np.array(names.FAMILY_WEIGHTS) / sum(names.FAMILY_WEIGHTS)


class _Strings:
    """pyarrow dictionaries the renderer takes from (built once, on first use)."""

    _built: _Strings | None = None

    def __init__(self) -> None:
        s = pa.string()
        self.given = pa.array(_GIVEN_ALL, s)
        self.family = pa.array(names.FAMILY_NAMES, s)
        self.region = pa.array([r[0] for r in names.REGIONS], s)
        self.muni = pa.array(_MUNI_NAME, s)
        self.street_prefix = pa.array(names.STREET_PREFIXES, s)
        self.street = pa.array(names.STREET_NAMES, s)
        self.nbhd_prefix = pa.array(names.NEIGHBOURHOOD_PREFIXES, s)
        self.rural_prefix = pa.array(names.RURAL_PREFIXES, s)
        self.place = pa.array(names.PLACE_NAMES, s)
        self.mobile = pa.array(names.MOBILE_PREFIXES, s)
        self.relationship = pa.array(RELATIONSHIPS, s)
        self.sex = pa.array(SEX, s)
        self.employment = pa.array(EMPLOYMENT, s)
        self.disability = pa.array(DISABILITY, s)
        self.chronic = pa.array(CHRONIC_ILLNESS, s)
        self.dwelling = pa.array(DWELLING, s)
        self.tenure = pa.array(TENURE, s)
        self.boolean = pa.array(["false", "true"], s)
        self.two_digits = pa.array([f"{i:02d}" for i in range(100)], s)

    @classmethod
    def get(cls) -> _Strings:
        if cls._built is None:
            cls._built = cls()
        return cls._built


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    return values.take(pa.array(idx))


def _take_nullable(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """Like _take, null where idx < 0."""
    missing = idx < 0
    return values.take(pa.array(np.where(missing, 0, idx), mask=missing))


def _decimal_2dp(cents: np.ndarray, table: _Strings) -> pa.Array:
    whole = pa.array(cents // 100).cast(pa.string())
    return pc.binary_join_element_wise(whole, _take(table.two_digits, cents % 100), ".")


def _refs(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """R0000001-style references: `prefix` then `numbers` zero-padded to `width` digits."""
    padded = pa.array(numbers.astype(np.int64) + 10**width).cast(pa.string())
    return pc.utf8_replace_slice(padded, start=0, stop=1, replacement=prefix)


def _pick_grouped(rng: np.random.Generator, groups: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each row draw a category from the probability row `table[groups[row]]`."""
    u = rng.random(len(groups))
    out = np.zeros(len(groups), dtype=np.int16)
    cumulative = np.cumsum(table, axis=1)
    last = table.shape[1] - 1
    for g in range(table.shape[0]):
        rows = np.flatnonzero(groups == g)
        if rows.size:
            out[rows] = np.minimum(np.searchsorted(cumulative[g], u[rows], side="right"), last)
    return out


def _exact_ages(dob: np.ndarray, reference: np.datetime64) -> np.ndarray:
    """Completed years of age at `reference` for each datetime64[D] date of birth."""
    years = dob.astype("datetime64[Y]")
    months = dob.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years).astype(np.int64)
    day = (dob - months).astype(np.int64)
    ref_year = reference.astype("datetime64[Y]")
    ref_month = reference.astype("datetime64[M]")
    ry = int(ref_year.astype(np.int64)) + 1970
    rm = int((ref_month - ref_year).astype(np.int64))
    rd = int((reference - ref_month).astype(np.int64))
    before_birthday = (month > rm) | ((month == rm) & (day > rd))
    ages: np.ndarray = ry - year - before_birthday.astype(np.int64)
    return ages


class _Population:
    """Numeric state of the original (non-duplicate) population, and its rendering."""

    def __init__(self, rng: np.random.Generator, n: int, reference: date) -> None:
        self.n = n
        self.reference = np.datetime64(reference, "D")
        self._households(rng)
        self._members(rng)
        self._people(rng)
        self._dwellings(rng)

    # -- structure -------------------------------------------------------------------------
    def _households(self, rng: np.random.Generator) -> None:
        n = self.n
        drawn: list[np.ndarray] = []
        total = 0
        while total < n:
            batch = rng.choice(len(_HOUSEHOLD_SIZE_P), size=n // 3 + 16, p=_HOUSEHOLD_SIZE_P) + 1
            drawn.append(batch)
            total += int(batch.sum())
        sizes = np.concatenate(drawn)
        ends = np.cumsum(sizes)
        n_hh = int(np.searchsorted(ends, n)) + 1
        sizes = sizes[:n_hh].copy()
        sizes[-1] -= int(ends[n_hh - 1]) - n
        self.sizes = sizes
        self.n_hh = n_hh
        self.start = np.cumsum(sizes) - sizes
        self.hh_of = np.repeat(np.arange(n_hh), sizes)
        self.pos = np.arange(n) - self.start[self.hh_of]

    def _members(self, rng: np.random.Generator) -> None:
        n, n_hh, sizes, start, hh_of, pos = (
            self.n,
            self.n_hh,
            self.sizes,
            self.start,
            self.hh_of,
            self.pos,
        )
        has_spouse = (sizes >= 2) & (rng.random(n_hh) < np.where(sizes == 2, 0.55, 0.72))
        role = rng.choice(len(RELATIONSHIPS), size=n, p=_MEMBER_ROLE_P).astype(np.int8)
        role[pos == 0] = HEAD
        role[(pos == 1) & has_spouse[hh_of]] = SPOUSE
        # At most two parents of the head in one household; the rest are other relatives.
        is_parent = (role == PARENT).astype(np.int64)
        running = np.cumsum(is_parent)
        before_household = (running[start] - is_parent[start])[hh_of]
        parents_so_far = running - before_household
        role[(role == PARENT) & (parents_so_far > 2)] = OTHER_RELATIVE

        # Ages in days at the reference date, consistent with the relationship.
        y = _YEAR
        head_years = np.where(
            sizes == 1, rng.normal(50.0, 19.0, n_hh), rng.normal(45.0, 14.0, n_hh)
        )
        head_days = (np.clip(head_years, 18.05, 96.0) * y).astype(np.int64)
        spouse_days = (
            np.clip(head_days + rng.normal(-1.5, 5.5, n_hh) * y, 16.05 * y, 98 * y)
        ).astype(np.int64)
        youngest_parent = np.where(has_spouse, np.minimum(head_days, spouse_days), head_days)
        head = head_days[hh_of]

        role[(role == GRANDCHILD) & (head < 38 * y)] = CHILD
        role[(role == PARENT) & (head > 80 * y)] = SIBLING

        age = np.zeros(n, dtype=np.int64)
        u = rng.random(n)
        b = rng.beta(2.0, 2.5, n)
        normal = rng.normal(0.0, 7.0, n)

        age[role == HEAD] = head[role == HEAD]
        m = role == SPOUSE
        age[m] = spouse_days[hh_of[m]]
        m = (role == CHILD) | (role == STEPCHILD)
        base = youngest_parent[hh_of[m]]
        high = np.minimum(45 * y, base)
        age[m] = base - (15 * y + (high - 15 * y) * b[m])
        m = role == GRANDCHILD
        high = np.minimum(85 * y, head[m])
        age[m] = head[m] - (36 * y + (high - 36 * y) * b[m])
        m = role == PARENT
        high = np.minimum(45 * y, 101 * y - head[m])
        age[m] = head[m] + 16 * y + (high - 16 * y) * b[m]
        m = role == SIBLING
        age[m] = np.clip(head[m] + normal[m] * y, 0, 100 * y)
        m = role == OTHER_RELATIVE
        age[m] = u[m] * 85 * y
        m = role == NON_RELATIVE
        age[m] = (15 + u[m] * 60) * y
        age = np.maximum(age, 0)

        self.has_spouse = has_spouse
        self.role = role
        self.dob = self.reference - age.astype("timedelta64[D]")
        self.age = _exact_ages(self.dob, self.reference)

        # Sex: heads of couples are mostly men, other multi-person households mostly women.
        p_male = np.select([has_spouse, sizes > 1], [0.72, 0.38], 0.52)
        sex = np.where(rng.random(n) < 0.5, MALE, FEMALE).astype(np.int8)
        head_sex = np.where(rng.random(n_hh) < p_male, MALE, FEMALE)
        sex[start] = head_sex
        m = role == SPOUSE
        opposite = np.where(head_sex == MALE, FEMALE, MALE)
        sex[m] = np.where(rng.random(int(m.sum())) < 0.97, opposite[hh_of[m]], head_sex[hh_of[m]])
        m = role == PARENT
        sex[m] = np.where(rng.random(int(m.sum())) < 0.6, FEMALE, MALE)
        sex[rng.random(n) < 0.0015] = OTHER_SEX
        self.sex = sex

    def _people(self, rng: np.random.Generator) -> None:
        n, start, hh_of, role, sex, age = (
            self.n,
            self.start,
            self.hh_of,
            self.role,
            self.sex,
            self.age,
        )
        # Given names: one or two, from the list for the person's sex.
        use_male = (sex == MALE) | ((sex == OTHER_SEX) & (rng.random(n) < 0.5))
        first = np.where(
            use_male,
            _N_FEMALE + rng.choice(len(_MALE_P), size=n, p=_MALE_P),
            rng.choice(len(_FEMALE_P), size=n, p=_FEMALE_P),
        )
        second = np.where(
            use_male,
            _N_FEMALE + rng.choice(len(_MALE_P), size=n, p=_MALE_P),
            rng.choice(len(_FEMALE_P), size=n, p=_FEMALE_P),
        )
        two = (rng.random(n) < 0.38) & _GIVEN_SINGLE_WORD[first] & _GIVEN_SINGLE_WORD[second]
        self.given1 = first
        self.given2 = np.where(two & (second != first), second, -1)

        # Family names: paternal + maternal, passed down within the household.
        k = len(_FAMILY_P)
        fam1 = rng.choice(k, size=n, p=_FAMILY_P)
        fam2 = rng.choice(k, size=n, p=_FAMILY_P)
        src1, src2 = fam1.copy(), fam2.copy()
        spouse_row = np.minimum(start + 1, n - 1)
        head_sex = sex[start]
        spouse_sex = np.where(self.has_spouse, sex[spouse_row], -1)
        father = np.select([head_sex == MALE, spouse_sex == MALE], [start, spouse_row], -1)[hh_of]
        mother = np.select([head_sex == FEMALE, spouse_sex == FEMALE], [start, spouse_row], -1)[
            hh_of
        ]
        head = start[hh_of]
        u = rng.random(n)

        m = role == CHILD
        fm = m & (father >= 0)
        fam1[fm] = src1[father[fm]]
        mm = m & (mother >= 0)
        fam2[mm] = src1[mother[mm]]
        single_mother = m & (father < 0) & (mother >= 0) & (u < 0.5)
        fam1[single_mother] = src1[mother[single_mother]]
        fam2[single_mother] = src2[mother[single_mother]]
        neither = m & (father < 0) & (mother < 0)
        fam1[neither] = src1[head[neither]]
        m = (role == STEPCHILD) & self.has_spouse[hh_of]
        sm = m & (sex[spouse_row[hh_of]] == MALE)
        fam1[sm] = src1[spouse_row[hh_of[sm]]]
        sf = m & (sex[spouse_row[hh_of]] == FEMALE)
        fam2[sf] = src1[spouse_row[hh_of[sf]]]
        m = (role == SIBLING) & (u < 0.85)
        fam1[m] = src1[head[m]]
        fam2[m] = src2[head[m]]
        m = (role == PARENT) & (sex == MALE)
        fam1[m] = src1[head[m]]
        m = (role == PARENT) & (sex == FEMALE)
        fam1[m] = src2[head[m]]
        m = ((role == GRANDCHILD) & (u < 0.5)) | ((role == OTHER_RELATIVE) & (u < 0.4))
        fam1[m] = src1[head[m]]
        self.fam1, self.fam2 = fam1, fam2

        # National ID: most adults have one, few children. Older people hold lower numbers.
        p_id = np.select([age >= 18, age >= 10], [0.85, 0.08], 0.02)
        with_id = np.flatnonzero(rng.random(n) < p_id)
        national_id = np.full(n, -1, dtype=np.int64)
        if with_id.size:
            by_age = with_id[np.argsort(self.dob[with_id], kind="stable")]
            mean_gap = max(2, 25_000_000 // with_id.size)
            gaps = rng.integers(1, 2 * mean_gap, size=with_id.size)
            national_id[by_age] = 1_000_000 + int(rng.integers(0, 500_000)) + np.cumsum(gaps)
        self.national_id = national_id

        # Phone: about 60% of adults; none for children.
        has_phone = (age >= 18) & (rng.random(n) < 0.6)
        self.phone_prefix = np.where(
            has_phone, rng.integers(0, len(names.MOBILE_PREFIXES), size=n), -1
        )
        self.phone_number = rng.integers(1_000_000, 10_000_000, size=n)
        self.phone_international = rng.random(n) < 0.7

        # Employment consistent with age, and income by employment.
        group = np.select(
            [age < 15, age < 18, age < 25, age >= 65, sex == MALE], [0, 1, 2, 5, 3], 4
        )
        employment = _pick_grouped(rng, group, _EMPLOYMENT_P)
        income = np.zeros(n)
        z = rng.standard_normal(n)
        has = rng.random(n)
        for status, (median, sigma, share) in _INCOME.items():
            if share <= 0:
                continue
            m = (employment == EMPLOYMENT.index(status)) & (has < share)
            income[m] = median * np.exp(sigma * z[m])
        self.employment = employment
        self.income_cents = np.round(np.minimum(income, _MAX_INCOME) * 100).astype(np.int64)

        # Health: prevalence rises with age; recorded only with consent.
        band = np.searchsorted(_AGE_BANDS, age, side="right")
        disabled = rng.random(n) < _DISABILITY_PREVALENCE[band]
        ill = rng.random(n) < _CHRONIC_PREVALENCE[band]
        disability = _pick_grouped(rng, (age >= 18).astype(np.int8), _DISABILITY_P)
        chronic = _pick_grouped(rng, (age >= 45).astype(np.int8), _CHRONIC_P)
        disability = np.where(disabled, disability, DISABILITY.index("none"))
        chronic = np.where(ill, chronic, CHRONIC_ILLNESS.index("none"))
        consent = rng.random(n) < np.where(disabled | ill, 0.95, 0.85)
        # A few consenting records leave one of the questions unanswered.
        self.disability = np.where(consent & (rng.random(n) >= 0.02), disability, -1)
        self.chronic = np.where(consent & (rng.random(n) >= 0.03), chronic, -1)
        self.consent = consent

    def _dwellings(self, rng: np.random.Generator) -> None:
        n_hh = self.n_hh
        muni = rng.choice(len(_MUNI_P), size=n_hh, p=_MUNI_P)
        region = _MUNI_REGION_A[muni]
        rural = rng.random(n_hh) < _MUNI_RURAL_A[muni]
        self.muni, self.rural = muni, rural
        self.street_prefix = rng.integers(0, len(names.STREET_PREFIXES), size=n_hh)
        self.street = rng.integers(0, len(names.STREET_NAMES), size=n_hh)
        self.number = np.minimum(rng.geometric(1 / 180, size=n_hh), 2500)
        self.nbhd_prefix = rng.integers(0, len(names.NEIGHBOURHOOD_PREFIXES), size=n_hh)
        self.rural_prefix = rng.integers(0, len(names.RURAL_PREFIXES), size=n_hh)
        self.place = rng.integers(0, len(names.PLACE_NAMES), size=n_hh)
        self.km = rng.integers(1, 60, size=n_hh)
        self.road_to = (
            _REGION_FIRST_A[region] + rng.integers(0, 1 << 30, size=n_hh) % (_REGION_SIZE_A[region])
        )

        dwelling = _pick_grouped(rng, rural.astype(np.int8), _DWELLING_P)
        self.dwelling = dwelling
        self.tenure = _pick_grouped(rng, dwelling, _TENURE_P)
        land = np.where(
            rural,
            np.where(rng.random(n_hh) < 0.55, 2.5 * np.exp(1.1 * rng.standard_normal(n_hh)), 0),
            np.where(rng.random(n_hh) < 0.015, 0.25 * np.exp(0.8 * rng.standard_normal(n_hh)), 0),
        )
        land[dwelling == DWELLING.index("no_dwelling")] = 0
        land_cents = np.round(np.minimum(land, 5000.0) * 100).astype(np.int64)
        land_cents[(land > 0) & (land_cents == 0)] = 1
        self.land_cents = land_cents
        head_income = self.income_cents[self.start]
        p_vehicle = np.where(rural, 0.10, 0.12) + np.select(
            [head_income > 50_000, head_income > 25_000], [0.35, 0.15], 0.0
        )
        self.vehicle = rng.random(n_hh) < p_vehicle

    # -- rendering -------------------------------------------------------------------------
    def render(self, idx: np.ndarray) -> dict[str, pa.Array]:
        """The record columns (except the references) for original rows `idx`."""
        t = _Strings.get()
        hh = self.hh_of[idx]
        cols: dict[str, pa.Array] = {}
        muni = self.muni[hh]
        cols["region"] = _take(t.region, _MUNI_REGION_A[muni])
        cols["municipality"] = _take(t.muni, muni)
        cols["address"] = self._address(hh, t)
        cols["dwelling_type"] = _take(t.dwelling, self.dwelling[hh])
        cols["dwelling_tenure"] = _take(t.tenure, self.tenure[hh])
        cols["land_hectares"] = _decimal_2dp(self.land_cents[hh], t)
        cols["owns_vehicle"] = _take(t.boolean, self.vehicle[hh].astype(np.int8))

        first = _take(t.given, self.given1[idx])
        both = pc.binary_join_element_wise(first, _take_nullable(t.given, self.given2[idx]), " ")
        cols["given_names"] = pc.coalesce(both, first)
        cols["family_names"] = pc.binary_join_element_wise(
            _take(t.family, self.fam1[idx]), _take(t.family, self.fam2[idx]), " "
        )
        days = (self.dob[idx] - np.datetime64("1970-01-01", "D")).astype(np.int32)
        cols["date_of_birth"] = pa.array(days, type=pa.date32()).cast(pa.string())
        cols["sex"] = _take(t.sex, self.sex[idx])
        ids = self.national_id[idx]
        cols["national_id"] = pa.array(ids, mask=ids < 0).cast(pa.string())
        cols["phone"] = self._phone(idx, t)
        cols["relationship_to_head"] = _take(t.relationship, self.role[idx])
        cols["employment_status"] = _take(t.employment, self.employment[idx])
        cols["monthly_income"] = _decimal_2dp(self.income_cents[idx], t)
        cols["disability"] = _take_nullable(t.disability, self.disability[idx])
        cols["chronic_illness"] = _take_nullable(t.chronic, self.chronic[idx])
        cols["health_consent"] = _take(t.boolean, self.consent[idx].astype(np.int8))
        return cols

    def _address(self, hh: np.ndarray, t: _Strings) -> pa.Array:
        join = pc.binary_join_element_wise
        number = pa.array(self.number[hh]).cast(pa.string())
        urban = join(
            join(
                _take(t.street_prefix, self.street_prefix[hh]),
                _take(t.street, self.street[hh]),
                number,
                " ",
            ),
            join(_take(t.nbhd_prefix, self.nbhd_prefix[hh]), _take(t.place, self.place[hh]), " "),
            ", ",
        )
        km = pa.array(self.km[hh]).cast(pa.string())
        rural = join(
            join(_take(t.rural_prefix, self.rural_prefix[hh]), _take(t.place, self.place[hh]), " "),
            join("Km", km, "vía", _take(t.muni, self.road_to[hh]), " "),
            ", ",
        )
        return pc.if_else(pa.array(self.rural[hh]), rural, urban)

    def _phone(self, idx: np.ndarray, t: _Strings) -> pa.Array:
        join = pc.binary_join_element_wise
        prefix = self.phone_prefix[idx]
        mobile = _take_nullable(t.mobile, prefix)
        number = pa.array(self.phone_number[idx]).cast(pa.string())
        international = join(names.COUNTRY_CALLING_CODE, mobile, number, " ")
        local = join(join("0", mobile, ""), number, "-")
        return pc.if_else(pa.array(self.phone_international[idx]), international, local)


# -- planted duplicates ----------------------------------------------------------------------

_KEYBOARD = {
    "a": "qwsz",
    "b": "vghn",
    "c": "xdfv",
    "d": "serfcx",
    "e": "wsdr",
    "f": "drtgvc",
    "g": "ftyhbv",
    "h": "gyujnb",
    "i": "ujko",
    "j": "huikmn",
    "k": "jiolm",
    "l": "kop",
    "m": "njk",
    "n": "bhjm",
    "o": "iklp",
    "p": "ol",
    "q": "wa",
    "r": "edft",
    "s": "awedxz",
    "t": "rfgy",
    "u": "yhji",
    "v": "cfgb",
    "w": "qase",
    "x": "zsdc",
    "y": "tghu",
    "z": "asx",
}
# Spelling confusions common in Spanish-speaking registries.
_SOUNDALIKE = {
    "b": "v",
    "v": "b",
    "s": "z",
    "z": "s",
    "y": "i",
    "i": "y",
    "j": "g",
    "g": "j",
    "c": "s",
}


def _typo(text: str, prng: random.Random) -> str:
    """One character substituted, deleted, transposed or doubled, at a letter."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 3:
        return text
    for _attempt in range(6):
        i = prng.choice(letters[1:] if prng.random() < 0.8 else letters)
        c = text[i]
        op = prng.choice(("substitute", "substitute", "delete", "transpose", "double"))
        if op == "substitute":
            lower = c.lower()
            swap = _SOUNDALIKE.get(lower) if prng.random() < 0.4 else None
            if swap is None:
                swap = prng.choice(_KEYBOARD.get(names.strip_accents(lower), "aeiou"))
            new = swap.upper() if c.isupper() else swap
            result = text[:i] + new + text[i + 1 :]
        elif op == "delete":
            result = text[:i] + text[i + 1 :]
        elif op == "transpose":
            j = i + 1 if i + 1 < len(text) and text[i + 1].isalpha() else i - 1
            if j < 0 or not text[j].isalpha():
                continue
            a, b = sorted((i, j))
            result = text[:a] + text[b] + text[a] + text[b + 1 :]
        else:
            result = text[: i + 1] + c.lower() + text[i + 1 :]
        if result != text and result.strip():
            return result
    return text


def _random_phone(prng: random.Random) -> str:
    mobile = prng.choice(names.MOBILE_PREFIXES)
    number = prng.randrange(1_000_000, 10_000_000)
    if prng.random() < 0.7:
        return f"{names.COUNTRY_CALLING_CODE} {mobile} {number}"
    return f"0{mobile}-{number}"


def _random_address(prng: random.Random, muni: int) -> tuple[str, bool]:
    rural = prng.random() < _MUNI_RURAL[muni]
    place = prng.choice(names.PLACE_NAMES)
    if rural:
        region = _MUNI_REGION[muni]
        first = _REGION_FIRST_MUNI[region]
        road_to = _MUNI_NAME[first + prng.randrange(len(names.REGIONS[region][3]))]
        prefix = prng.choice(names.RURAL_PREFIXES)
        return f"{prefix} {place}, Km {prng.randrange(1, 60)} vía {road_to}", True
    street = f"{prng.choice(names.STREET_PREFIXES)} {prng.choice(names.STREET_NAMES)}"
    number = min(int(prng.expovariate(1 / 180)) + 1, 2500)
    return f"{street} {number}, {prng.choice(names.NEIGHBOURHOOD_PREFIXES)} {place}", False


def _shifted_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _choose_errors(prng: random.Random) -> list[str]:
    roll = prng.random()
    if roll < _EXACT_SHARE:
        return []
    if roll < _EXACT_SHARE + _NEAR_EXACT_SHARE:
        return ["case_changed"]
    count = prng.choices(range(1, len(_ERROR_COUNT_WEIGHTS) + 1), _ERROR_COUNT_WEIGHTS)[0]
    # Weighted order without replacement (Efraimidis-Spirakis keys); the caller applies the
    # first `count` that fit the record.
    keyed = sorted(ERROR_WEIGHTS, key=lambda kind: -(prng.random() ** (1 / ERROR_WEIGHTS[kind])))
    return [*keyed[:count], "|", *keyed[count:]]


def _make_duplicate(
    row: dict[str, Any], person: dict[str, Any], prng: random.Random, reference: date
) -> tuple[dict[str, Any], str]:
    """A copy of `row` registered again, with errors; returns the row and the errors applied."""
    dup = dict(row)
    dup["relationship_to_head"] = "head"
    plan = _choose_errors(prng)
    wanted = plan.index("|") if "|" in plan else len(plan)
    candidates = [k for k in plan if k != "|"]
    given1, given2 = person["given1"], person["given2"]
    family1, family2 = person["family1"], person["family2"]
    dob = date.fromisoformat(row["date_of_birth"])
    applied: set[str] = set()

    def fits(kind: str) -> bool:
        if kind == "nickname":
            return bool(names.NICKNAMES_BY_NAME.get(row["given_names"])) or bool(
                names.NICKNAMES_BY_NAME.get(given1)
            )
        if kind == "second_given_name_dropped":
            return (given2 is not None or " " in given1) and "nickname" not in applied
        if kind == "accents_dropped":
            text = f"{row['given_names']} {row['family_names']}"
            return names.strip_accents(text) != text
        if kind == "dob_day_month_swapped":
            return (
                dob.day <= 12
                and dob.day != dob.month
                and date(dob.year, dob.day, dob.month) <= reference
            )
        if kind == "national_id_missing":
            return row["national_id"] is not None
        if kind in ("phone_missing", "phone_changed"):
            other = "phone_changed" if kind == "phone_missing" else "phone_missing"
            return row["phone"] is not None and other not in applied
        return True

    for kind in candidates:
        if len(applied) >= wanted:
            break
        if fits(kind):
            applied.add(kind)

    given_words = [given1] + ([given2] if given2 else [])
    family = f"{family1} {family2}"
    if "nickname" in applied:
        full = names.NICKNAMES_BY_NAME.get(row["given_names"])
        given_words = [prng.choice(full or names.NICKNAMES_BY_NAME[given1])]
    if "second_given_name_dropped" in applied:
        given_words = [given_words[0].split(" ")[0]]
    if "first_family_name_only" in applied:
        family = family1
    given = " ".join(given_words)
    if "names_swapped" in applied:
        given, family = family, given
    if "accents_dropped" in applied:
        given, family = names.strip_accents(given), names.strip_accents(family)
    if "name_typo" in applied:
        if prng.random() < 0.5:
            given = _typo(given, prng)
        else:
            family = _typo(family, prng)
    if "case_changed" in applied:
        given, family = given.upper(), family.upper()
    dup["given_names"], dup["family_names"] = given, family

    if "dob_day_month_swapped" in applied:
        dob = date(dob.year, dob.day, dob.month)
    if "dob_year_off_by_one" in applied:
        shifted = _shifted_year(dob, prng.choice((-1, 1)))
        dob = shifted if shifted <= reference else _shifted_year(dob, -1)
    dup["date_of_birth"] = dob.isoformat()
    if "national_id_missing" in applied:
        dup["national_id"] = None
    if "phone_missing" in applied:
        dup["phone"] = None
    if "phone_changed" in applied:
        dup["phone"] = _random_phone(prng)
    if "address_changed" in applied:
        muni = person["muni"]
        if prng.random() < 0.4:  # moved to a neighbouring municipality of the same region
            region = _MUNI_REGION[muni]
            first, size = _REGION_FIRST_MUNI[region], len(names.REGIONS[region][3])
            muni = first + min(max(muni - first + prng.choice((-1, 1)), 0), size - 1)
        dup["municipality"] = _MUNI_NAME[muni]
        dup["region"] = names.REGIONS[_MUNI_REGION[muni]][0]
        dup["address"], _rural = _random_address(prng, muni)
    errors = ",".join(k for k in ERROR_WEIGHTS if k in applied) or "none"
    return dup, errors


def _pick_duplicate_sources(
    rng: np.random.Generator, population: _Population, count: int
) -> np.ndarray:
    """Which people are registered twice: mostly adults, never the same person twice."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    weight = np.select([population.age >= 18, population.age >= 16], [1.0, 0.2], 0.0)
    with np.errstate(divide="ignore"):
        keys = np.log(rng.random(population.n)) / weight
    chosen = np.argpartition(-keys, count - 1)[:count]
    return np.sort(chosen)


def _duplicates(
    rng: np.random.Generator, population: _Population, sources: np.ndarray, reference: date
) -> tuple[list[dict[str, Any]], list[str]]:
    if sources.size == 0:
        return [], []
    prng = random.Random(int(rng.integers(0, 2**63)))
    columns = population.render(sources)
    rows = pa.table(columns).to_pylist()
    given1 = [_GIVEN_ALL[i] for i in population.given1[sources]]
    given2 = [_GIVEN_ALL[i] if i >= 0 else None for i in population.given2[sources]]
    family1 = [names.FAMILY_NAMES[i] for i in population.fam1[sources]]
    family2 = [names.FAMILY_NAMES[i] for i in population.fam2[sources]]
    munis = population.muni[population.hh_of[sources]].tolist()
    out: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, row in enumerate(rows):
        person = {
            "given1": given1[i],
            "given2": given2[i],
            "family1": family1[i],
            "family2": family2[i],
            "muni": munis[i],
        }
        dup, applied = _make_duplicate(row, person, prng, reference)
        out.append(dup)
        errors.append(applied)
    return out, errors


# -- the public API ----------------------------------------------------------------------------


def generate(
    people: int = 20_000,
    seed: int = 42,
    duplicate_rate: float = 0.03,
    reference_date: date = date(2026, 1, 1),
) -> Population:
    """A population of `people` registration records, about `duplicate_rate` of them duplicates.

    Raises ValueError when people is outside 1..50,000,000 or duplicate_rate outside [0, 0.5].
    """
    if (
        isinstance(people, bool)
        or not isinstance(people, numbers.Integral)
        or not 1 <= people <= MAX_PEOPLE
    ):
        raise ValueError(f"people must be a whole number from 1 to {MAX_PEOPLE:,}, got {people!r}")
    people = int(people)
    if not isinstance(duplicate_rate, int | float) or not (
        0.0 <= duplicate_rate <= MAX_DUPLICATE_RATE
    ):
        raise ValueError(
            f"duplicate_rate must be between 0 and {MAX_DUPLICATE_RATE}, got {duplicate_rate!r}"
        )
    if not isinstance(reference_date, date):
        raise ValueError(f"reference_date must be a date, got {reference_date!r}")
    rng = np.random.default_rng(seed)
    n_dup = min(math.floor(duplicate_rate * people + 0.5), people - 1)
    n_orig = people - n_dup
    population = _Population(rng, n_orig, reference_date)
    sources = _pick_duplicate_sources(rng, population, n_dup)
    dup_rows, dup_errors = _duplicates(rng, population, sources, reference_date)

    # Order: households as generated; each duplicate (its own household) registered at some
    # point after the original's household.
    n_hh = population.n_hh
    src_hh = population.hh_of[sources]
    key = np.concatenate(
        [np.arange(n_hh, dtype=np.float64), src_hh + rng.random(n_dup) * (n_hh - src_hh)]
    )
    unit_order = np.argsort(key, kind="stable")
    unit_sizes = np.concatenate([population.sizes, np.ones(n_dup, dtype=np.int64)])[unit_order]
    final_unit = np.repeat(unit_order, unit_sizes)
    unit_start = np.cumsum(unit_sizes) - unit_sizes
    within = np.arange(people) - np.repeat(unit_start, unit_sizes)
    is_dup = final_unit >= n_hh
    src = np.where(
        is_dup, final_unit - n_hh, population.start[np.minimum(final_unit, n_hh - 1)] + within
    )
    household_number = np.repeat(np.arange(1, len(unit_order) + 1), unit_sizes)
    record_number = np.arange(1, people + 1)
    final_pos_of_original = np.empty(n_orig, dtype=np.int64)
    final_pos_of_original[src[~is_dup]] = np.flatnonzero(~is_dup)
    # The original row each record stands for (itself, for originals).
    original_row = np.where(is_dup, sources[np.where(is_dup, src, 0)], src) if n_dup else src
    person_number = original_row + 1
    original_record = np.where(is_dup, final_pos_of_original[original_row] + 1, -1)

    width = max(7, len(str(people)))
    dup_columns = {
        name: pa.array([row[name] for row in dup_rows], pa.string())
        for name in RECORD_COLUMNS
        if name not in ("record_ref", "household_ref")
    }
    dup_errors_array = pa.array(dup_errors, pa.string())
    record_chunks: list[pa.RecordBatch] = []
    truth_chunks: list[pa.RecordBatch] = []
    for begin in range(0, people, _CHUNK_ROWS):
        end = min(begin + _CHUNK_ROWS, people)
        chunk_dup = is_dup[begin:end]
        chunk_src = src[begin:end]
        original_rows = np.flatnonzero(~chunk_dup)
        duplicate_rows = np.flatnonzero(chunk_dup)
        rendered = population.render(chunk_src[original_rows])
        placement = np.empty(end - begin, dtype=np.int64)
        placement[original_rows] = np.arange(original_rows.size)
        placement[duplicate_rows] = original_rows.size + np.arange(duplicate_rows.size)
        placement_array = pa.array(placement)
        dup_take = pa.array(chunk_src[duplicate_rows])
        record_ref = _refs("R", record_number[begin:end], width)
        arrays: list[pa.Array] = [record_ref, _refs("H", household_number[begin:end], width)]
        for name in RECORD_COLUMNS[2:]:
            if duplicate_rows.size:
                merged = pa.concat_arrays([rendered[name], dup_columns[name].take(dup_take)])
                arrays.append(merged.take(placement_array))
            else:
                arrays.append(rendered[name])
        record_chunks.append(pa.RecordBatch.from_arrays(arrays, names=list(RECORD_COLUMNS)))
        originals = original_record[begin:end]
        errors_index = np.where(chunk_dup, chunk_src, -1)
        truth_chunks.append(
            pa.RecordBatch.from_arrays(
                [
                    record_ref,
                    _refs("P", person_number[begin:end], width),
                    pc.if_else(
                        pa.array(chunk_dup),
                        _refs("R", np.maximum(originals, 0), width),
                        pa.scalar(None, pa.string()),
                    ),
                    _take_nullable(dup_errors_array, errors_index)
                    if n_dup
                    else pa.nulls(end - begin, pa.string()),
                ],
                names=list(TRUTH_COLUMNS),
            )
        )
    return Population(
        records=pa.Table.from_batches(record_chunks), truth=pa.Table.from_batches(truth_chunks)
    )


def write(population: Population, out_dir: Path, fmt: str = "parquet") -> tuple[Path, Path]:
    """Write people.<fmt> and truth.<fmt> into out_dir; return (records_path, truth_path)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records_path = out_dir / f"people.{fmt}"
    truth_path = out_dir / f"truth.{fmt}"
    for table, path in ((population.records, records_path), (population.truth, truth_path)):
        if fmt == "parquet":
            pq.write_table(table, path)
        else:
            pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=True))
    return records_path, truth_path


__all__ = [
    "ERROR_WEIGHTS",
    "FORMATS",
    "MAX_DUPLICATE_RATE",
    "MAX_PEOPLE",
    "RECORD_COLUMNS",
    "TRUTH_COLUMNS",
    "Population",
    "generate",
    "write",
]
