"""Density ratio (DR) as published: a cross-fitted, temperature-calibrated binary classifier.

PAPER.md, "Methods as published" (code of the Madry lab's pretraining-distribution-shift work):
a binary classifier separates a reference set from a shifted set. Here the shifted set is the
target class (``rendition`` for DR-R, ``natural`` for DR-N) and the reference set is every other
labeled image, so a high ratio means "looks like the target":

1. K-fold cross-fitting (K = 10): each labeled image gets a logit from a model that never saw it.
2. The hyperparameter (here the L2 strength ``C``) is the one with the best out-of-fold AUC
   (candidates within ``AUC_TIE`` of it, which differ mostly in logit scale, go to the lowest
   calibrated out-of-fold cross-entropy).
3. One temperature ``T`` is fitted on the out-of-fold logits by binary cross-entropy;
   ``p = sigmoid(T * logit)``.
4. ``ratio = p / (1 - p) * n_reference / n_shifted`` = p_shifted(x) / p_reference(x): the odds
   with the class prior divided out. It is thresholded (the original used 0.2; the product's
   calibration picks the ratio at the target precision).
5. New images are scored by a final model fitted on all labels with the chosen ``C``, under the
   cross-fitted temperature; the labeled images keep their out-of-fold scores.

The classifier: ``dr-N`` / ``dr-R`` are logistic readouts on frozen features (CPU), ``dr-ft-N`` /
``dr-ft-R`` fine-tune the backbone (``classifier.ml.finetune``, GPU). A single logistic regression
fitted once on all labels is not this method: it is ``logreg-N`` / ``logreg-R``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_FOLDS = 10
DEFAULT_CS = (0.01, 0.1, 1.0, 10.0)
AUC_TIE = 1e-3


class DensityRatioError(ValueError):
    """Labels DR cannot be fitted on (too few of a side for the folds)."""


@dataclass
class CrossFit:
    """What cross-fitting produced: out-of-fold logits, the chosen hyperparameter and temperature."""

    oof_logits: np.ndarray  # (n,) raw logits, each from the fold model that did not see the image
    temperature: float
    n_shifted: int
    n_reference: int
    params: dict[str, Any] = field(default_factory=dict)
    auc_by_param: dict[str, float] = field(default_factory=dict)

    @property
    def prior_correction(self) -> float:
        return self.n_reference / self.n_shifted

    def ratio(self, logits: np.ndarray) -> np.ndarray:
        return ratio_from_logits(logits, self.temperature, self.prior_correction)

    def oof_probabilities(self) -> np.ndarray:
        return _sigmoid(self.temperature * self.oof_logits)


def ratio_from_logits(logits: np.ndarray, temperature: float, prior_correction: float) -> np.ndarray:
    """``p/(1-p) * n_reference/n_shifted`` with ``p = sigmoid(T * logit)``: ``exp(T * logit) * prior``."""
    return np.exp(np.clip(temperature * np.asarray(logits, dtype=np.float64), -50, 50)) * prior_correction


def fold_indices(positive: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Stratified folds: each fold holds its share of both sides. Raises when a side has fewer than k."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if min(n_pos, n_neg) < k:
        raise DensityRatioError(f"{k}-fold cross-fitting needs at least {k} images on each side; "
                                f"have {n_pos} shifted and {n_neg} reference")
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(positive)), positive.astype(int))]


def fit_temperature(logits: np.ndarray, positive: np.ndarray) -> float:
    """The T > 0 minimizing the binary cross-entropy of ``sigmoid(T * logit)`` against ``positive``."""
    from scipy.optimize import minimize_scalar

    z, y = np.asarray(logits, dtype=np.float64), np.asarray(positive, dtype=np.float64)

    def bce(log_t: float) -> float:
        return _bce(np.exp(log_t) * z, y)

    best = minimize_scalar(bce, bounds=(-7.0, 5.0), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(best.x))


def cross_fit(n: int, positive: np.ndarray, fit_fold: Callable[[np.ndarray, np.ndarray, Any], np.ndarray], *,
              candidates: Sequence[Any] = (None,), k: int = DEFAULT_FOLDS, seed: int = 0,
              progress: Callable[[int, int], None] | None = None) -> CrossFit:
    """Cross-fit any binary classifier.

    ``fit_fold(train_idx, heldout_idx, candidate) -> logits of heldout`` fits on ``train_idx`` and
    scores ``heldout_idx``; it is called ``k * len(candidates)`` times. The candidate with the best
    out-of-fold AUC wins; the temperature is fitted on its out-of-fold logits.
    """
    from sklearn.metrics import roc_auc_score

    positive = np.asarray(positive, dtype=bool)
    folds = fold_indices(positive, k, seed)
    everything = np.arange(n)
    scored: list[tuple[float, float, Any, np.ndarray]] = []  # (auc, calibrated BCE, candidate, oof)
    aucs: dict[str, float] = {}
    done, total = 0, k * len(candidates)
    for candidate in candidates:
        oof = np.zeros(n, dtype=np.float64)
        for held in folds:
            train = np.setdiff1d(everything, held, assume_unique=True)
            oof[held] = np.asarray(fit_fold(train, held, candidate), dtype=np.float64)
            done += 1
            if progress is not None:
                progress(done, total)
        auc = float(roc_auc_score(positive, oof))
        aucs[str(candidate)] = auc
        scored.append((auc, _bce(fit_temperature(oof, positive) * oof, positive), candidate, oof))
    # AUC ignores the scale of the logits, so candidates that only shrink them tie; among those
    # within AUC_TIE of the best, the lowest calibrated out-of-fold cross-entropy wins.
    top = max(a for a, _, _, _ in scored)
    _, _, chosen, oof = min((r for r in scored if r[0] >= top - AUC_TIE), key=lambda r: r[1])
    return CrossFit(oof_logits=oof, temperature=fit_temperature(oof, positive), n_shifted=int(positive.sum()),
                    n_reference=int((~positive).sum()), params={"choice": chosen, "folds": k, "seed": seed},
                    auc_by_param=aucs)


def logistic_logits(x_train: np.ndarray, y_train: np.ndarray, x_score: np.ndarray, *, C: float,
                    seed: int = 0) -> tuple[np.ndarray, Any]:
    """Fit an L2 logistic readout on ``x_train`` (already scaled) and return raw logits of ``x_score``."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=3000, random_state=seed).fit(x_train, y_train.astype(int))
    return clf.decision_function(x_score), clf


def cross_fit_logistic(x: np.ndarray, positive: np.ndarray, *, cs: Sequence[float] = DEFAULT_CS,
                       k: int = DEFAULT_FOLDS, seed: int = 0) -> tuple[CrossFit, Any]:
    """The frozen-feature DR: cross-fitted logistic readouts on ``x`` (scaled by the caller).
    Returns the cross-fit and the final classifier fitted on all of ``x`` with the chosen C."""
    positive = np.asarray(positive, dtype=bool)

    def fit_fold(train: np.ndarray, held: np.ndarray, c: float) -> np.ndarray:
        return logistic_logits(x[train], positive[train], x[held], C=c, seed=seed)[0]

    fit = cross_fit(len(x), positive, fit_fold, candidates=tuple(cs), k=k, seed=seed)
    fit.params["C"] = float(fit.params.pop("choice"))
    _, final = logistic_logits(x, positive, x[:1], C=fit.params["C"], seed=seed)
    return fit, final


def expected_calibration_error(probabilities: np.ndarray, positive: np.ndarray, *, bins: int = 10) -> float:
    """ECE of binary probabilities: the weighted mean |accuracy - confidence| over equal-width bins
    of ``p`` (the probability of the positive class)."""
    p, y = np.asarray(probabilities, dtype=np.float64), np.asarray(positive, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(error)


def _bce(logits: np.ndarray, positive: np.ndarray) -> float:
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(positive, dtype=np.float64)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
