"""DR as published: cross-fitted, temperature-calibrated, prior-corrected; checked on Gaussians
whose true density ratio is known."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.ml.density_ratio import (
    cross_fit_logistic,
    expected_calibration_error,
    fit_temperature,
    logistic_logits,
    ratio_from_logits,
)
from classifier.ml.methods import FittedModel, fit_density_ratio, fit_logreg_ovr, fit_method

MU = np.array([1.5, -0.5])
ECE_BOUND = 0.05  # cross-fitted, temperature-scaled probabilities on 2,000 labeled points


def _gaussians(n_shifted: int, n_reference: int, *, noise_dims: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shifted ~ N(MU, I), reference ~ N(0, I) in the first two dims; optional pure-noise dims."""
    rng = np.random.default_rng(seed)
    shifted = rng.normal(size=(n_shifted, 2)) + MU
    reference = rng.normal(size=(n_reference, 2))
    x = np.vstack([shifted, reference])
    if noise_dims:
        x = np.hstack([x, rng.normal(size=(len(x), noise_dims))])
    return x, np.r_[np.ones(n_shifted, bool), np.zeros(n_reference, bool)]


def true_log_ratio(x: np.ndarray) -> np.ndarray:
    """log p_shifted(x) / p_reference(x) for unit-variance Gaussians: MU.x - |MU|^2 / 2."""
    return x[:, :2] @ MU - MU @ MU / 2


def test_it_tracks_the_true_density_ratio_of_two_gaussians() -> None:
    x, positive = _gaussians(600, 1400)
    fit, final = cross_fit_logistic(x, positive, k=10, seed=0)
    assert fit.params["folds"] == 10 and fit.prior_correction == pytest.approx(1400 / 600)
    grid = np.random.default_rng(1).normal(size=(2000, 2)) + MU / 2  # where both densities have mass
    estimate = np.log(ratio_from_logits(final.decision_function(grid), fit.temperature, fit.prior_correction))
    truth = true_log_ratio(grid)
    assert np.corrcoef(estimate, truth)[0, 1] > 0.99
    assert np.median(np.abs(estimate - truth)) < 0.15
    # Without the prior correction the estimate is off by log(n_shifted / n_reference).
    uncorrected = np.log(ratio_from_logits(final.decision_function(grid), fit.temperature, 1.0))
    assert np.median(np.abs(uncorrected - truth)) > 0.6


def test_it_is_not_over_confident_on_the_labeled_images_with_cross_fitting() -> None:
    # 2 informative + 150 noise dimensions on 400 labeled images: a model scoring its own training
    # images separates them perfectly, so a temperature fitted on those in-sample logits sharpens
    # them further and the result is over-confident on new images. The out-of-fold logits are honest.
    x, positive = _gaussians(200, 200, noise_dims=150, seed=3)
    fresh_x, fresh_positive = _gaussians(1000, 1000, noise_dims=150, seed=103)
    fit, final = cross_fit_logistic(x, positive, cs=(1.0,), k=10, seed=0)
    assert expected_calibration_error(fit.oof_probabilities(), positive) < 0.08
    fresh = 1 / (1 + np.exp(-fit.temperature * final.decision_function(fresh_x)))
    assert expected_calibration_error(fresh, fresh_positive) < ECE_BOUND
    in_sample, model = logistic_logits(x, positive, x, C=1.0)
    t_in_sample = fit_temperature(in_sample, positive)
    assert t_in_sample > 1.2 > fit.temperature  # in-sample logits look too timid; out-of-fold ones too sure
    over = 1 / (1 + np.exp(-t_in_sample * model.decision_function(fresh_x)))
    assert expected_calibration_error(over, fresh_positive) > 0.2
    # And on plentiful clean data the calibrated out-of-fold probabilities sit under the stated bound.
    x, positive = _gaussians(600, 1400)
    fit, _ = cross_fit_logistic(x, positive, k=10, seed=0)
    assert expected_calibration_error(fit.oof_probabilities(), positive) < ECE_BOUND


def test_it_fits_the_temperature_that_minimizes_cross_entropy() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3, size=5000)
    y = rng.random(5000) < 1 / (1 + np.exp(-z / 3))  # the logits are 3x too confident
    assert fit_temperature(z, y) == pytest.approx(1 / 3, rel=0.1)


def test_it_scores_dr_as_the_prior_corrected_calibrated_odds(tmp_path: object) -> None:
    x, positive = _gaussians(60, 140, seed=5)
    y = np.where(positive, "rendition", "natural")
    model = fit_method("dr-R", x, y, ["natural", "rendition"], x_val=x, y_val=y, hyperparameters={"folds": 5})
    assert model.method == "dr-R" and model.classes == ["rendition"] and model.params["folds"] == 5
    assert set(model.params["oof_auc_by_C"]) == {"0.01", "0.1", "1.0", "10.0"}
    assert model.params["prior_correction"] == pytest.approx(140 / 60)
    scores = model.scores(x)[:, 0]
    from classifier.ml.arrays import l2_normalize
    from classifier.ml.methods import _scale

    logit = (_scale(model.state, l2_normalize(x)) @ model.state["coef"].T + model.state["intercept"])[:, 0]
    p = 1 / (1 + np.exp(-model.params["temperature"] * logit))
    assert np.allclose(scores, p / (1 - p) * 140 / 60, rtol=1e-4)
    assert model.state["oof_ratio"].shape == (200,)


def test_it_keeps_the_old_one_vs_rest_regression_under_its_own_name(tmp_path: object) -> None:
    from pathlib import Path

    x, positive = _gaussians(60, 140, seed=6)
    y = np.where(positive, "natural", "rendition")
    logreg = fit_method("logreg-N", x, y, ["natural", "rendition"], x_val=x, y_val=y)
    assert logreg.method == "logreg-N" and "temperature" not in logreg.params
    # A pickle written before the rename says "dr-N" but has no temperature: it scores as logreg.
    old = FittedModel("dr-N", logreg.classes, logreg.params, logreg.state)
    path = Path(str(tmp_path)) / "old.pkl"
    old.save(path)
    assert np.allclose(FittedModel.load(path).scores(x), logreg.scores(x))
    assert fit_logreg_ovr(x, y, "natural").params["prior_correction"] == pytest.approx(140 / 60)
    with pytest.raises(ValueError, match="too few"):
        fit_density_ratio(x[:3], np.array(["natural", "rendition", "rendition"]), "natural")
