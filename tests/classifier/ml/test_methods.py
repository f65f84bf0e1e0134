from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.ml.methods import EMBEDDING_METHODS, FittedModel, MethodError, fit_method

CLASSES = ["natural", "rendition", "ambiguous"]


def blobs(n: int, seed: int, spread: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters in 16-d: separable but not trivially."""
    rng = np.random.default_rng(seed)
    centers = np.eye(16)[:3] * 3
    y = np.array([CLASSES[i % 3] for i in range(n)])
    x = centers[np.arange(n) % 3] + rng.normal(0, spread, (n, 16)) + 2.0
    return x.astype(np.float16), y


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
def test_it_fits_each_method_and_ranks_the_true_class_above_chance(method: str, tmp_path: Path) -> None:
    x, y = blobs(150, 0)
    xv, yv = blobs(60, 1)
    xt, yt = blobs(60, 2)
    model = fit_method(method, x, y, CLASSES, x_val=xv, y_val=yv)
    scores = model.scores(xt)
    assert scores.shape == (60, len(model.classes)) and np.isfinite(scores).all()
    from sklearn.metrics import roc_auc_score

    for j, c in enumerate(model.classes):
        assert roc_auc_score(yt == c, scores[:, j]) > 0.9, (method, c)
    model.save(tmp_path / "m.pkl")
    assert np.allclose(FittedModel.load(tmp_path / "m.pkl").scores(xt), scores)


def test_it_picks_k_for_knn_on_validation() -> None:
    x, y = blobs(90, 0, spread=1.5)
    xv, yv = blobs(60, 1, spread=1.5)
    model = fit_method("knn-R", x, y, CLASSES, x_val=xv, y_val=yv)
    assert model.classes == ["rendition"] and model.params["k"] in model.params["ks"]


def test_it_explains_missing_classes_and_unknown_methods() -> None:
    x, y = blobs(30, 0)
    y = np.where(y == "ambiguous", "natural", y)
    with pytest.raises(MethodError, match="ambiguous: 0"):
        fit_method("linear", x, y, CLASSES, x_val=x, y_val=y)
    with pytest.raises(MethodError, match="unknown method"):
        fit_method("svm", x, y, CLASSES, x_val=x, y_val=y)
