"""Each comparison level of the linkage model in words: agree, partly, disagree, missing."""

from __future__ import annotations

import pytest

from fairshare.dedup.comparisons import level_labels
from fairshare.dedup.pairs import Agreement, agreement, with_agreement


@pytest.mark.parametrize(
    ("comparison", "level", "weight", "expected"),
    [
        ("given_names", "exact", 6.2, Agreement.AGREE),
        ("sex", "same", 0.9, Agreement.AGREE),
        ("family_names_and_address", "same family names, same address", 9.0, Agreement.AGREE),
        ("given_names", "nickname", 3.0, Agreement.PARTLY),
        ("date_of_birth", "year off by one", 1.2, Agreement.PARTLY),
        ("national_id", "different", -7.0, Agreement.DISAGREE),
        ("phone", "missing", 0.0, Agreement.MISSING),
        # Levels an older model named differently: by the weight's sign.
        ("given_names", "retired level", 2.0, Agreement.PARTLY),
        ("given_names", "retired level", -2.0, Agreement.DISAGREE),
        ("unknown_comparison", "exact", 5.0, Agreement.AGREE),
        ("unknown_comparison", "null", 0.0, Agreement.MISSING),
    ],
)
def test_levels_in_words(comparison: str, level: str, weight: float, expected: Agreement) -> None:
    """The model's strongest level agrees, its weakest disagrees, the null level is missing."""
    assert agreement(comparison, level, weight) is expected


def test_every_level_of_the_model_has_words() -> None:
    """Each comparison has exactly one agreeing and one disagreeing level."""
    for comparison, labels in level_labels().items():
        words = [agreement(comparison, label, 0.0) for label in labels.values()]
        assert words.count(Agreement.AGREE) == 1, comparison
        assert words.count(Agreement.DISAGREE) == 1, comparison
        assert words.count(Agreement.MISSING) == 1, comparison


def test_stored_evidence_gains_its_words() -> None:
    """The stored evidence keeps its numbers and gains the agreement."""
    stored = {"sex": {"level": "different", "match_weight": -3.1, "bayes_factor": 0.117}}
    assert with_agreement(stored) == {"sex": {**stored["sex"], "agreement": "disagree"}}
