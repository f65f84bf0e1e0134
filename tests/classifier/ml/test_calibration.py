from __future__ import annotations

import numpy as np

from classifier.ml.calibration import (
    best_model_per_class,
    combine,
    evaluate_model,
    operating_at,
    threshold_at_precision,
)


def test_it_finds_the_smallest_threshold_reaching_the_target_precision() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    positive = np.array([1, 1, 0, 1, 1, 0], bool)
    op = threshold_at_precision(scores, positive, 0.75)
    # At 0.5: 4 positives of 5 fired = 0.8 >= 0.75, recall 1.0; at 0.4 precision drops to 4/6.
    assert (op.threshold, op.precision, op.recall) == (0.5, 0.8, 1.0)
    strict = threshold_at_precision(scores, positive, 0.98)
    assert (strict.threshold, strict.recall) == (0.8, 0.5)


def test_it_treats_tied_scores_as_one_cut_and_reports_unreachable_targets() -> None:
    op = threshold_at_precision(np.array([0.9, 0.9, 0.1]), np.array([1, 0, 1], bool), 0.98)
    assert op.threshold == float("inf") and op.recall == 0.0 and op.as_dict()["threshold"] is None
    assert operating_at(np.array([0.2]), np.array([True]), float("inf")).recall == 0.0


def test_it_lays_out_val_test_and_per_dataset_metrics() -> None:
    rng = np.random.default_rng(0)
    y = np.array(["natural", "rendition", "ambiguous"] * 40)
    scores = rng.random((120, 3)) * 0.5
    scores[np.arange(120), np.arange(120) % 3] += 0.6  # the true class scores highest
    groups = np.array(["IN-Val", "IN-Sketch"] * 60)
    result = evaluate_model(classes=["natural", "rendition", "ambiguous"], val_scores=scores, y_val=y,
                            test_scores=scores, y_test=y, test_groups=groups)
    assert result["val"]["natural"]["precision"] >= 0.98 and result["test"]["natural"]["recall"] == 1.0
    assert set(result["per_dataset"]) == {"IN-Val", "IN-Sketch"}
    assert np.trace(np.array(result["confusion"]["test"])) == 120
    assert result["pr_val"]["rendition"]["recall"]


def test_it_picks_the_best_model_per_class_by_recall_and_combines() -> None:
    results = {
        "ft": {"thresholds": {"natural": 0.9, "rendition": 0.9}, "val": {"natural": {"recall": 0.5}, "rendition": {"recall": 0.2}}},
        "dr-R": {"thresholds": {"rendition": 3.0}, "val": {"rendition": {"recall": 0.6}}},
    }
    assert best_model_per_class(results) == {"natural": "ft", "rendition": "dr-R"}
    labels = combine(np.array([1, 1, 0, 0], bool), np.array([0, 1, 1, 0], bool))
    assert labels.tolist() == ["natural", "ambiguous", "rendition", "ambiguous"]
