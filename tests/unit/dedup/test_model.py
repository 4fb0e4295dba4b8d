"""Thresholds, outcomes, evidence and evaluation metrics of deduplication (plain Python)."""

from __future__ import annotations

import math

import pytest

from fairshare.dedup.model import (
    FieldEvidence,
    InvalidThresholds,
    PairOutcome,
    ReviewStatus,
    Scores,
    Thresholds,
    cluster_scores,
    evaluate,
    evidence_json,
    pair_scores,
    review_status_for,
    true_pair_count,
)
from fairshare.errors import InvalidInput

# Five records of three people: P1 registered three times, P2 twice, P3 once.
TRUTH = {"a": "P1", "b": "P1", "c": "P1", "d": "P2", "e": "P2", "f": "P3"}


def test_outcome_follows_thresholds() -> None:
    """At or above upper is linked, from lower up to upper is review, below lower distinct."""
    thresholds = Thresholds(upper=0.95, lower=0.7)
    assert thresholds.outcome(0.95) is PairOutcome.LINKED
    assert thresholds.outcome(0.9499) is PairOutcome.REVIEW
    assert thresholds.outcome(0.7) is PairOutcome.REVIEW
    assert thresholds.outcome(0.69) is PairOutcome.DISTINCT


def test_default_thresholds() -> None:
    """The defaults link at 0.99 and review from 0.8."""
    assert Thresholds() == Thresholds(upper=0.99, lower=0.8)


@pytest.mark.parametrize(
    ("upper", "lower", "says"),
    [
        (0.8, 0.9, "must not be above"),
        (1.0, 0.5, "strictly between 0 and 1"),
        (0.9, 0.0, "strictly between 0 and 1"),
        (0.9, True, "must be a number"),
    ],
)
def test_invalid_thresholds_are_refused(upper: float, lower: float, says: str) -> None:
    """Thresholds outside (0, 1) or in the wrong order are refused with a reason."""
    with pytest.raises(InvalidThresholds, match=says):
        Thresholds(upper=upper, lower=lower)


def test_invalid_thresholds_are_invalid_input() -> None:
    """A bad threshold is a user error (exit code 2 in the CLI, 422 in the API)."""
    assert issubclass(InvalidThresholds, InvalidInput)


def test_review_status_of_new_pairs() -> None:
    """Linked pairs start as automatic, review pairs as pending, distinct ones are not kept."""
    assert review_status_for(PairOutcome.LINKED) is ReviewStatus.AUTOMATIC
    assert review_status_for(PairOutcome.REVIEW) is ReviewStatus.PENDING
    assert review_status_for(PairOutcome.DISTINCT) is None


def test_field_evidence_reports_bayes_factor_and_weight() -> None:
    """A match weight of 3 is a Bayes factor of 8; evidence is keyed by field."""
    evidence = FieldEvidence("given_names", "nickname", 3.0)
    assert evidence.bayes_factor == 8.0
    assert evidence_json([evidence]) == {
        "given_names": {"level": "nickname", "match_weight": 3.0, "bayes_factor": 8.0}
    }


def test_true_pairs_are_counted_from_group_sizes() -> None:
    """Three records of one person make three pairs; two make one."""
    assert true_pair_count(TRUTH) == 4


def test_pair_scores_count_each_pair_once() -> None:
    """A pair predicted in both orders counts once; a wrong pair lowers precision."""
    scores = pair_scores([("a", "b"), ("b", "a"), ("d", "e"), ("e", "f")], TRUTH)
    assert (scores.true_positives, scores.predicted, scores.actual) == (2, 3, 4)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(0.5)
    assert scores.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_pair_scores_skip_records_outside_the_truth() -> None:
    """Pairs naming a record the truth does not know are left out, not counted wrong."""
    scores = pair_scores([("a", "zz"), ("a", "b")], TRUTH)
    assert (scores.true_positives, scores.predicted) == (1, 1)


def test_nothing_predicted_is_precise_but_recalls_nothing() -> None:
    """No prediction: precision 1 by convention, recall 0, F1 0."""
    scores = pair_scores([], TRUTH)
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 0.0, 0.0)


def test_cluster_pairwise_scores_count_transitive_pairs() -> None:
    """A cluster {a, b, c} implies a-c even if only a-b and b-c were scored."""
    clusters = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y"}
    pairwise, bcubed = cluster_scores(clusters, TRUTH)
    assert (pairwise.precision, pairwise.recall) == (1.0, 1.0)
    assert (bcubed.precision, bcubed.recall) == (1.0, 1.0)


def test_cluster_scores_of_a_wrong_merge() -> None:
    """Merging P2 and P3 into one cluster: pairwise and B-cubed precision drop as defined."""
    clusters = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y", "f": "y"}
    pairwise, bcubed = cluster_scores(clusters, TRUTH)
    # Predicted pairs: 3 (a, b, c) + 3 (d, e, f); true among them: 3 + 1.
    assert (pairwise.true_positives, pairwise.predicted, pairwise.actual) == (4, 6, 4)
    # B-cubed precision: a, b, c: 1 each; d, e: 2/3 each; f: 1/3 -> (3 + 4/3 + 1/3) / 6.
    assert bcubed.precision == pytest.approx((3 + 4 / 3 + 1 / 3) / 6)
    assert bcubed.recall == 1.0


def test_records_missing_from_clusters_are_singletons() -> None:
    """A record without a cluster is alone: it misses its true partners."""
    pairwise, bcubed = cluster_scores({"a": "x", "b": "x"}, TRUTH)
    assert (pairwise.true_positives, pairwise.predicted, pairwise.actual) == (1, 1, 4)
    assert bcubed.precision == 1.0
    assert bcubed.recall < 1.0


def test_one_giant_cluster_is_scored_without_listing_pairs() -> None:
    """200,000 records in one wrong cluster are scored from counts (20 billion pairs)."""
    truth = {i: i for i in range(200_000)}
    pairwise, bcubed = cluster_scores(dict.fromkeys(truth, "all"), truth)
    assert pairwise.predicted == 200_000 * 199_999 // 2
    assert pairwise.precision == 0.0
    assert math.isclose(bcubed.precision, 1 / 200_000)


def test_evaluate_restricts_the_truth_to_the_run() -> None:
    """Truth records the run never saw are not counted as missed."""
    result = evaluate([("a", "b")], {"a": "x", "b": "x"}, TRUTH, run_records=["a", "b", "new"])
    assert result.records == 2
    assert result.unmatched_records == 1
    assert (result.pairs.precision, result.pairs.recall) == (1.0, 1.0)


def test_evaluate_refuses_a_truth_without_common_records() -> None:
    """A truth file that shares no record with the run is a clear error."""
    with pytest.raises(InvalidInput, match="record_ref"):
        evaluate([], {}, TRUTH, run_records=["zz"])


def test_scores_as_dict_rounds_and_keeps_counts() -> None:
    """The dictionary form (for JSON and the bench) carries the counts when there are any."""
    assert Scores.from_counts(1, 2, 4).as_dict() == {
        "precision": 0.5,
        "recall": 0.25,
        "f1": pytest.approx(1 / 3, abs=1e-6),
        "true_positives": 1,
        "predicted": 2,
        "actual": 4,
    }
