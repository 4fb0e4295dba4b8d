"""Deduplication domain: thresholds, pair outcomes, evidence and evaluation. Plain Python.

A scored pair of records has a match probability. At or above the upper threshold the pair is
linked automatically (the records join one cluster); from the lower threshold up to the upper
one it goes to a caseworker's review queue; below the lower one the records are distinct.

Evaluation compares the results with a truth mapping record -> person key:

- pair metrics: the linked pairs (as scored, each on its own probability) against every pair of
  records that share a person key;
- cluster metrics, pairwise: the pairs implied by the clusters (every two records in one
  cluster, so A-B and B-C also count A-C) against the true pairs. With a few per cent of
  duplicates this is the figure that moves; it is the headline cluster metric;
- cluster metrics, B-cubed: per record, the share of its cluster that is truly the same person
  (precision) and the share of its true group found in its cluster (recall), averaged over
  records. Singletons count, so on a registry with few duplicates B-cubed stays close to 1.

All counts are computed from group sizes, never by listing pairs, so a run that wrongly puts
thousands of records into one cluster is measured in linear time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from fairshare.errors import FairshareError, InvalidInput

Record = TypeVar("Record", bound=Hashable)  # how records are named: a reference or an id

DEFAULT_UPPER = 0.99
DEFAULT_LOWER = 0.80


class PairOutcome(StrEnum):
    LINKED = "linked"  # at or above the upper threshold: same person, clustered automatically
    REVIEW = "review"  # between the thresholds: a caseworker decides
    DISTINCT = "distinct"  # below the lower threshold: different people


class ReviewStatus(StrEnum):
    AUTOMATIC = "automatic"  # linked by the model; a caseworker may still reject it later
    PENDING = "pending"  # waiting in the review queue
    ACCEPTED = "accepted"  # a caseworker confirmed the two records are one person
    REJECTED = "rejected"  # a caseworker found two different people


class InvalidThresholds(InvalidInput):
    def __init__(self, message: str) -> None:
        # The message says it all; the one error item lets the API point at the field.
        super().__init__(message, errors=[{"field": "thresholds", "reason": "invalid"}])


class EmptyRegistry(FairshareError):
    """There is nothing to deduplicate."""

    exit_code = 2
    title = "Nothing to deduplicate"


class NoRun(FairshareError):
    """No finished deduplication run to export or evaluate."""

    status = 404
    exit_code = 3
    title = "No deduplication run"


@dataclass(frozen=True)
class Thresholds:
    """Match-probability thresholds: `upper` links automatically, `lower` opens a review."""

    upper: float = DEFAULT_UPPER
    lower: float = DEFAULT_LOWER

    def __post_init__(self) -> None:
        for name, value in (("upper", self.upper), ("lower", self.lower)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidThresholds(f"the {name} threshold must be a number, got {value!r}")
            if not 0.0 < value < 1.0:
                raise InvalidThresholds(
                    f"the {name} threshold is a match probability strictly between 0 and 1, "
                    f"got {value}"
                )
        if self.lower > self.upper:
            raise InvalidThresholds(
                f"the lower threshold ({self.lower}) must not be above the upper one "
                f"({self.upper}); pairs between them go to review"
            )

    def outcome(self, match_probability: float) -> PairOutcome:
        """Where a pair with this probability goes."""
        if match_probability >= self.upper:
            return PairOutcome.LINKED
        if match_probability >= self.lower:
            return PairOutcome.REVIEW
        return PairOutcome.DISTINCT


@dataclass(frozen=True)
class RunSummary:
    """What a finished run found (no personal data: counts and settings only)."""

    id: str
    started_at: datetime
    finished_at: datetime
    started_by: str
    thresholds: Thresholds
    records: int
    pairs_linked: int
    pairs_review: int
    clusters: int
    notes: tuple[str, ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)


def review_status_for(outcome: PairOutcome) -> ReviewStatus | None:
    """The review status a freshly scored pair starts with (None: not stored for review)."""
    if outcome is PairOutcome.LINKED:
        return ReviewStatus.AUTOMATIC
    if outcome is PairOutcome.REVIEW:
        return ReviewStatus.PENDING
    return None


@dataclass(frozen=True)
class FieldEvidence:
    """How one compared field voted: the level it reached and how strongly that counts.

    `bayes_factor` is m/u of the level: how many times likelier this agreement is between two
    records of one person than between two different people; `match_weight` is its log2.
    Positive weights push towards a match, negative ones away from it.
    """

    field: str
    level: str
    match_weight: float

    @property
    def bayes_factor(self) -> float:
        return float(2.0**self.match_weight)

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "match_weight": round(self.match_weight, 4),
            "bayes_factor": _round_significant(self.bayes_factor),
        }


def evidence_json(evidence: Iterable[FieldEvidence]) -> dict[str, dict[str, Any]]:
    """Evidence as stored and shown: field -> {level, match_weight, bayes_factor}."""
    return {item.field: item.as_dict() for item in evidence}


def _round_significant(value: float, digits: int = 5) -> float:
    return float(f"{value:.{digits}g}")


# ---- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1, with the counts behind them where they are counts."""

    precision: float
    recall: float
    true_positives: int | None = None
    predicted: int | None = None
    actual: int | None = None

    @classmethod
    def from_counts(cls, true_positives: int, predicted: int, actual: int) -> Scores:
        """Nothing predicted is precise (1.0); nothing to find is fully recalled (1.0)."""
        return cls(
            true_positives / predicted if predicted else 1.0,
            true_positives / actual if actual else 1.0,
            true_positives,
            predicted,
            actual,
        )

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
        }
        for name in ("true_positives", "predicted", "actual"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True)
class Evaluation:
    """Pair and cluster metrics of one run against a truth mapping."""

    pairs: Scores
    clusters: Scores  # pairwise within clusters
    clusters_bcubed: Scores
    records: int  # records evaluated: in both the run and the truth
    unmatched_records: int = 0  # records of the run with no truth entry (left out)
    extra: dict[str, Any] = field(default_factory=dict)


def _pairs(count: int) -> int:
    return count * (count - 1) // 2


def true_pair_count(truth: Mapping[Record, Hashable]) -> int:
    """Pairs of records that are the same person."""
    return sum(_pairs(n) for n in Counter(truth.values()).values())


def pair_scores(
    predicted_pairs: Iterable[tuple[Record, Record]], truth: Mapping[Record, Hashable]
) -> Scores:
    """Scores of predicted same-person pairs against the truth.

    Pairs with a record missing from the truth are left out; a pair listed twice (in either
    order) counts once.
    """
    seen: set[frozenset[Record]] = set()
    true_positives = 0
    for a, b in predicted_pairs:
        if a == b or a not in truth or b not in truth:
            continue
        key = frozenset((a, b))
        if key in seen:
            continue
        seen.add(key)
        true_positives += int(truth[a] == truth[b])
    return Scores.from_counts(true_positives, len(seen), true_pair_count(truth))


def cluster_scores(
    clusters: Mapping[Record, Hashable], truth: Mapping[Record, Hashable]
) -> tuple[Scores, Scores]:
    """(pairwise, B-cubed) scores of a clustering record -> cluster id against the truth.

    Records of the truth absent from `clusters` are taken to be alone in their cluster;
    records of `clusters` absent from the truth are left out.
    """
    records = list(truth)
    cluster_of: dict[Record, Hashable] = {r: clusters.get(r, ("singleton", r)) for r in records}
    cluster_sizes = Counter(cluster_of.values())
    truth_sizes = Counter(truth[r] for r in records)
    cells = Counter((cluster_of[r], truth[r]) for r in records)

    pairwise = Scores.from_counts(
        sum(_pairs(n) for n in cells.values()),
        sum(_pairs(n) for n in cluster_sizes.values()),
        sum(_pairs(n) for n in truth_sizes.values()),
    )
    # B-cubed: each record in cell (c, t) has precision n_ct / n_c and recall n_ct / n_t;
    # summed over the cell's n_ct records that is n_ct² / n_c and n_ct² / n_t.
    total = len(records)
    bcubed = Scores(
        sum(n * n / cluster_sizes[c] for (c, _), n in cells.items()) / total if total else 1.0,
        sum(n * n / truth_sizes[t] for (_, t), n in cells.items()) / total if total else 1.0,
    )
    return pairwise, bcubed


def evaluate(
    linked_pairs: Iterable[tuple[Record, Record]],
    clusters: Mapping[Record, Hashable],
    truth: Mapping[Record, Hashable],
    run_records: Iterable[Record] | None = None,
) -> Evaluation:
    """Pair and cluster metrics of a run against `truth` (record -> person key).

    `run_records`, when given, restricts the truth to the records the run saw (a truth file
    may cover more records than were imported). Raises InvalidInput when no record of the run
    is in the truth.
    """
    unmatched = 0
    if run_records is not None:
        seen = set(run_records)
        unmatched = sum(1 for r in seen if r not in truth)
        truth = {r: k for r, k in truth.items() if r in seen}
    if not truth:
        raise InvalidInput(
            "no record of the run is in the truth file; check that its record_ref column "
            "holds the same references the registry was imported with"
        )
    pairs = pair_scores(linked_pairs, truth)
    pairwise, bcubed = cluster_scores(clusters, truth)
    return Evaluation(pairs, pairwise, bcubed, len(truth), unmatched)
