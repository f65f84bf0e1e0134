"""Consensus math on cases small enough to check by hand, and the numpy EM against crowd-kit."""
from __future__ import annotations

import numpy as np
import pytest

from labeling.agreement.consensus import (
    ConsensusInputError,
    beta_interval,
    crowdlab,
    dawid_skene,
    dawid_skene_em,
    label_issues,
    majority_vote,
    require_overlap,
    soft_confusion,
)
from labeling.agreement.ratings import Ratings

NAN = np.nan


def _adversary_case() -> tuple[Ratings, np.ndarray]:
    """Raters 0 and 1 are always right, rater 2 always says the other class (two classes).

    Items 0-7 have all three labels; items 8 and 9 only rater 2's and rater 0's, which disagree:
    majority vote is a coin toss there, Dawid-Skene knows rater 2 lies."""
    truth = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    matrix = np.full((10, 3), NAN)
    matrix[:8, 0] = truth[:8]
    matrix[:8, 1] = truth[:8]
    matrix[:, 2] = 1 - truth
    matrix[8:, 0] = truth[8:]
    return Ratings.from_matrix(matrix, n_classes=2), truth


def _simulated(seed: int, n: int = 600, k: int = 3) -> tuple[Ratings, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    accuracy = np.array([0.92, 0.85, 0.55, 0.35, 0.97])
    item = np.repeat(np.arange(n), 3)
    rater = np.concatenate([rng.choice(5, 3, replace=False) for _ in range(n)])
    right = rng.random(item.size) < accuracy[rater]
    label = np.where(right, truth[item], rng.integers(0, k, item.size))
    return Ratings.from_long(item, rater, label, n_classes=k), truth


def test_it_learns_that_an_adversarial_annotator_flips_labels() -> None:
    ratings, truth = _adversary_case()
    result = dawid_skene(ratings)
    assert result.labels.tolist() == truth.tolist()
    # Rater 2's confusion: true 0 -> says 1, true 1 -> says 0.
    assert result.confusion[2, 0, 1] > 0.99 and result.confusion[2, 1, 0] > 0.99
    assert result.accuracy[2] < 0.01 and result.accuracy[0] > 0.99
    low, high = result.accuracy_ci[0]
    assert low < result.accuracy[0] <= high


def test_it_beats_majority_vote_when_annotators_differ_in_quality() -> None:
    ratings, truth = _simulated(seed=1)
    ds = dawid_skene(ratings).labels
    mv = majority_vote(ratings)
    assert (ds == truth).mean() > (mv == truth).mean()


@pytest.mark.parametrize("with_gold", [False, True])
def test_it_matches_crowdkit_with_the_numpy_em(with_gold: bool) -> None:
    ratings, truth = _simulated(seed=2)
    gold = np.where(np.arange(truth.size) < 40, truth, -1) if with_gold else None
    reference = dawid_skene(ratings, gold=gold, engine="crowdkit")
    fast = dawid_skene(ratings, gold=gold, engine="numpy")
    assert fast.iterations == reference.iterations
    np.testing.assert_allclose(fast.probabilities, reference.probabilities, atol=1e-6)
    np.testing.assert_allclose(fast.confusion, reference.confusion, atol=1e-6)
    assert fast.labels.tolist() == reference.labels.tolist()


def test_it_returns_priors_and_error_matrices_from_the_numpy_em() -> None:
    ratings, _ = _adversary_case()
    probas, priors, errors, _ = dawid_skene_em(ratings.item, ratings.rater, ratings.label, n_tasks=10,
                                               n_workers=3, n_classes=2)
    np.testing.assert_allclose(priors, [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(errors.sum(axis=1), 1.0)  # columns: P(given | true) sums to 1
    assert probas.shape == (10, 2)


def test_it_refuses_a_single_annotator() -> None:
    ratings = Ratings.from_matrix(np.array([[0.0], [1.0], [1.0]]), n_classes=2)
    with pytest.raises(ConsensusInputError, match="needs overlap: only one annotator"):
        dawid_skene(ratings)


def test_it_refuses_annotators_without_overlap() -> None:
    ratings = Ratings.from_matrix(np.array([[0.0, NAN], [NAN, 1.0], [1.0, NAN]]), n_classes=2)
    with pytest.raises(ConsensusInputError, match="no item has labels from two annotators"):
        require_overlap(ratings)
    with pytest.raises(ConsensusInputError):
        crowdlab(ratings, np.full((3, 2), 0.5))


def test_it_counts_hard_confusion_from_a_one_hot_posterior() -> None:
    ratings = Ratings.from_matrix(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), n_classes=2)
    posterior = np.eye(2)[[0, 1, 1]]
    counts = soft_confusion(ratings, posterior)
    # Rater 1 said 0 on item 1 whose truth is 1: one off-diagonal count.
    assert counts[1].tolist() == [[1.0, 0.0], [1.0, 1.0]]
    assert counts[0].tolist() == [[1.0, 0.0], [0.0, 2.0]]


def test_it_gives_jeffreys_intervals() -> None:
    ci = beta_interval(np.array([0.0, 5.0, 10.0, 0.0]), np.array([10.0, 10.0, 10.0, 0.0]))
    assert ci[0, 0] == 0.0 and 0.0 < ci[0, 1] < 0.25
    assert ci[1, 0] == pytest.approx(1 - ci[1, 1]) and ci[1, 0] < 0.5 < ci[1, 1]
    assert ci[2, 1] == 1.0 and ci[2, 0] > 0.75
    assert np.isnan(ci[3]).all()


def test_it_lets_crowdlab_settle_ties_with_the_classifier() -> None:
    # Two annotators disagree on items 2 and 3; the classifier is confident and right.
    matrix = np.array([[0, 0], [1, 1], [0, 1], [1, 0], [0, 0], [1, 1]], dtype=float)
    truth = np.array([0, 1, 0, 1, 0, 1])
    pred_probs = np.where(np.eye(2)[truth] > 0, 0.95, 0.05)
    result = crowdlab(Ratings.from_matrix(matrix, n_classes=2), pred_probs)
    assert result.labels.tolist() == truth.tolist()
    assert result.quality[2] < result.quality[0]
    assert result.annotator_score is not None and np.isfinite(result.annotator_score).all()


def test_it_ranks_the_flipped_label_first() -> None:
    truth = np.array([0, 1] * 20)
    pred_probs = np.where(np.eye(2)[truth] > 0, 0.9, 0.1)
    labels = truth.copy()
    labels[7] = 1 - labels[7]
    labels[3] = -1  # unlabelled: never an issue
    issues, scores = label_issues(labels, pred_probs)
    assert issues.tolist() == [7]
    assert np.isnan(scores[3]) and scores[7] < np.nanmin(np.delete(scores, [3, 7]))
