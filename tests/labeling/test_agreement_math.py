"""The agreement math equals the reference libraries on random label matrices with missing values."""
from __future__ import annotations

import time

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from labeling.agreement import (
    Ratings,
    agreement_report,
    cohen_kappa_pairs,
    final_labels,
    fleiss_kappa,
    krippendorff_alpha,
    per_class_agreement,
    percent_agreement,
    rater_vs_gold,
    rater_vs_majority,
)
from labeling.agreement.final import ADJUDICATED, GOLD, MAJORITY, NONE, UNANIMOUS

SEEDS = range(8)


def random_matrix(seed: int, n_items: int = 300, n_raters: int = 5, n_classes: int = 3,
                  missing: float = 0.4) -> np.ndarray:
    """Correlated labels (a hidden truth plus noise) with NaN holes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    noise = rng.random((n_items, n_raters)) < 0.3
    matrix = np.where(noise, rng.integers(0, n_classes, (n_items, n_raters)), truth[:, None]).astype(float)
    matrix[rng.random((n_items, n_raters)) < missing] = np.nan
    return matrix


@pytest.mark.parametrize("seed", SEEDS)
def test_it_matches_sklearn_cohen_kappa_for_every_pair(seed: int) -> None:
    matrix = random_matrix(seed)
    pairs = cohen_kappa_pairs(Ratings.from_matrix(matrix, n_classes=3))
    assert len(pairs) == 10
    for pair in pairs:
        both = ~np.isnan(matrix[:, pair.rater_a]) & ~np.isnan(matrix[:, pair.rater_b])
        assert pair.n == both.sum()
        expected = cohen_kappa_score(matrix[both, pair.rater_a], matrix[both, pair.rater_b])
        assert pair.kappa == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_it_matches_statsmodels_fleiss_kappa_on_items_with_equal_counts(seed: int) -> None:
    matrix = random_matrix(seed, missing=0.3)
    ratings = Ratings.from_matrix(matrix, n_classes=3)
    result = fleiss_kappa(ratings)
    for m, (kappa, n_items) in result.by_count.items():
        table = ratings.counts[ratings.labels_per_item == m]
        assert n_items == table.shape[0]
        assert kappa == pytest.approx(sm_fleiss_kappa(table, method="fleiss"), abs=1e-9)
    assert result.n_items == max(n for _, n in result.by_count.values())


@pytest.mark.parametrize("seed", SEEDS)
def test_it_matches_krippendorff_alpha_nominal(seed: int) -> None:
    matrix = random_matrix(seed, n_raters=4 + seed % 3, missing=0.5)
    ours = krippendorff_alpha(Ratings.from_matrix(matrix, n_classes=3), n_boot=0)
    expected = krippendorff.alpha(reliability_data=matrix.T, level_of_measurement="nominal")
    assert ours.alpha == pytest.approx(expected, abs=1e-9)


def test_it_bootstraps_by_weights_exactly_like_resampling_items() -> None:
    matrix = random_matrix(3, n_items=200)
    ratings = Ratings.from_matrix(matrix, n_classes=3)
    rng = np.random.default_rng(7)
    pairable = np.flatnonzero(ratings.labels_per_item >= 2)
    for _ in range(5):
        sample = rng.choice(pairable, size=pairable.size, replace=True)
        weights = np.bincount(sample, minlength=ratings.n_items)
        ours = krippendorff_alpha(ratings, weights=weights).alpha
        expected = krippendorff.alpha(reliability_data=matrix[sample].T, level_of_measurement="nominal")
        assert ours == pytest.approx(expected, abs=1e-9)


def test_it_gives_a_bootstrap_interval_around_alpha_that_narrows_with_more_items() -> None:
    small = krippendorff_alpha(Ratings.from_matrix(random_matrix(1, n_items=200), n_classes=3), n_boot=500)
    large = krippendorff_alpha(Ratings.from_matrix(random_matrix(1, n_items=5000), n_classes=3), n_boot=500)
    for result in (small, large):
        assert result.ci_low < result.alpha < result.ci_high
    assert large.ci_high - large.ci_low < small.ci_high - small.ci_low
    again = krippendorff_alpha(Ratings.from_matrix(random_matrix(1, n_items=200), n_classes=3), n_boot=500)
    assert (again.ci_low, again.ci_high) == (small.ci_low, small.ci_high)


def test_it_computes_percent_and_per_class_agreement_by_hand() -> None:
    # item 0: all natural; item 1: 2 natural 1 rendition; item 2: one label only (not pairable)
    matrix = np.array([[0, 0, 0], [0, 0, 1], [2, np.nan, np.nan]])
    ratings = Ratings.from_matrix(matrix, n_classes=3)
    pa = percent_agreement(ratings)
    assert pa.n_items == 2
    assert pa.pairwise == pytest.approx((1 + 1 / 3) / 2)
    assert pa.unanimous == pytest.approx(0.5)
    per_class = per_class_agreement(ratings)
    # natural: pairs involving natural: item0 3*2=6 ordered, item1 2*2=4 -> agreeing 6+2=8 of 10
    assert per_class[0] == pytest.approx(8 / 10)
    assert per_class[1] == pytest.approx(0.0)
    assert np.isnan(per_class[2])


def test_it_compares_each_rater_with_the_majority_of_the_others_and_with_gold() -> None:
    matrix = np.array([[0, 0, 1], [1, 1, 1], [0, 1, 2], [2, 2, np.nan]])
    ratings = Ratings.from_matrix(matrix, n_classes=3)
    majority = rater_vs_majority(ratings)
    # rater 2: item0 others say 0 (wrong), item1 right, item2 others tie (skipped) -> 1 of 2
    assert majority.n.tolist() == [2, 2, 2]  # ties among the others are skipped
    assert majority.correct[2] == 1
    assert majority.confusion[2][0, 1] == 1  # reference natural, rater said rendition
    gold = rater_vs_gold(ratings, np.array([0, -1, -1, 2]))
    assert gold.n.tolist() == [2, 2, 1]
    assert gold.accuracy.tolist() == [1.0, 1.0, 0.0]


def test_it_applies_the_final_label_rule_in_order() -> None:
    counts = np.array([[3, 0, 0], [2, 1, 0], [1, 1, 0], [0, 1, 0], [1, 2, 0], [0, 0, 0]])
    adjudicated = np.array([-1, -1, -1, -1, 2, -1])
    gold = np.array([-1, -1, -1, -1, -1, 1])
    final, source = final_labels(counts, adjudicated=adjudicated, gold=gold)
    assert final.tolist() == [0, 0, -1, 1, 2, 1]
    assert source.tolist() == [UNANIMOUS, MAJORITY, NONE, UNANIMOUS, ADJUDICATED, GOLD]
    final, _ = final_labels(counts, adjudicated=adjudicated, rule="adjudicated>unanimous")
    assert final.tolist() == [0, -1, -1, 1, 2, -1]
    final, _ = final_labels(counts, adjudicated=adjudicated, rule="adjudicated")
    assert final.tolist() == [-1, -1, -1, -1, 2, -1]
    with pytest.raises(ValueError, match="unknown final label rule"):
        final_labels(counts, rule="coin flip")


def test_it_refuses_a_rater_labelling_one_item_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        Ratings.from_long([0, 0], [1, 1], [0, 1])


def test_it_reports_json_ready_figures_with_undefined_as_null() -> None:
    ratings = Ratings.from_matrix(np.array([[0, 0], [0, 0]]), n_classes=3)
    report = agreement_report(ratings, class_names=["natural", "rendition", "ambiguous"], rater_names=["a", "b"])
    assert report["percent_agreement"]["pairwise"] == 1.0
    assert report["cohen_kappa"][0]["kappa"] is None  # chance agreement is 1: kappa undefined
    assert report["per_class"]["rendition"] is None


def test_it_computes_everything_for_31000_items_with_3_labels_in_under_a_second() -> None:
    rng = np.random.default_rng(0)
    n_items, n_raters = 31_000, 8
    truth = rng.integers(0, 3, n_items)
    raters = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :3]
    labels = np.where(rng.random((n_items, 3)) < 0.2, rng.integers(0, 3, (n_items, 3)), truth[:, None])
    items = np.repeat(np.arange(n_items), 3)
    gold = np.where(rng.random(n_items) < 0.05, truth, -1)
    start = time.perf_counter()
    ratings = Ratings.from_long(items, raters.ravel(), labels.ravel(), n_classes=3)
    report = agreement_report(ratings, class_names=["n", "r", "a"], rater_names=[str(r) for r in range(n_raters)],
                              gold=gold, n_boot=1000)
    elapsed = time.perf_counter() - start
    assert report["fleiss_kappa"]["n_items"] == n_items
    assert len(report["cohen_kappa"]) == n_raters * (n_raters - 1) // 2
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
