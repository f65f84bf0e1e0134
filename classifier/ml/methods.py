"""Domain-classifier methods on precomputed embeddings (the paper's section on classifiers).

Every fitted model answers ``scores(features) -> (n, len(classes))`` for the classes it scores:
a ternary model scores all classes; a binary variant (``-N``, ``-R``) scores its one class.
Higher means more confident; thresholds are set later by calibration. Features are raw
embeddings; every method L2-normalizes them first (the paper normalizes before the readout).
"""
from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.ml.arrays import l2_normalize
from classifier.ml.density_ratio import DEFAULT_CS, DEFAULT_FOLDS, cross_fit_logistic, ratio_from_logits

NATURAL, RENDITION, AMBIGUOUS = "natural", "rendition", "ambiguous"
BINARY_TARGET = {"N": NATURAL, "R": RENDITION}


class MethodError(ValueError):
    """Unknown method or labels it cannot be fitted on."""


@dataclass
class FittedModel:
    method: str
    classes: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def scores(self, features: np.ndarray) -> np.ndarray:
        kind = method_kind(self)
        if kind in _READOUT_KINDS:
            # Linear readouts on standardized unit rows, folded into one matmul (no normalized copy).
            return _SCORERS[kind](self, readout_logits(self.state, features))
        return _SCORERS[kind](self, l2_normalize(features))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Alias of ``scores`` for appliers: (n, len(classes)); probabilities for linear/centroid,
        max neighbour cosine for k-NN, density ratios for DR and prior-corrected odds for logreg (compare
        with the run's thresholds)."""
        return self.scores(features)

    def save(self, path: str | Path) -> None:
        with open(path, "wb") as handle:
            pickle.dump({"method": self.method, "classes": self.classes, "params": self.params,
                         "state": self.state}, handle)

    @classmethod
    def load(cls, path: str | Path) -> FittedModel:
        # Only our own artifacts under ARTIFACTS_ROOT are ever loaded here.
        with open(path, "rb") as handle:
            data = pickle.load(handle)
        return cls(**data)


def load_head(path: str | Path) -> FittedModel:
    """A trained embedding-method head (a run's ``artifacts["model"]`` ending in .pkl)."""
    return FittedModel.load(path)


def check_labels(y: Sequence[str], classes: Sequence[str], *, what: str = "training", minimum: int = 1) -> None:
    """Raise MethodError when a class has fewer than ``minimum`` labels in ``y``."""
    counts = {c: int(np.sum(np.asarray(y) == c)) for c in classes}
    short = {c: n for c, n in counts.items() if n < minimum}
    if short:
        detail = ", ".join(f"{c}: {n}" for c, n in short.items())
        raise MethodError(f"too few {what} labels (need at least {minimum} per class): {detail}")


def fit_linear_probe(x: np.ndarray, y: Sequence[str], classes: Sequence[str], *, x_val: np.ndarray | None = None,
                     y_val: Sequence[str] | None = None, cs: Sequence[float] = (0.1, 1.0, 10.0),
                     balanced: bool = False, seed: int = 0) -> FittedModel:
    """Multinomial logistic regression on L2-normalized features; C picked by validation log loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    classes = list(classes)
    check_labels(y, classes)
    scaler = _fit_scaler(l2_normalize(x))
    xn, yi = _scale(scaler, l2_normalize(x)), _indices(y, classes)
    best: tuple[float, Any, float] | None = None
    candidates = cs if x_val is not None else (cs[len(cs) // 2],)
    for c in candidates:
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None, random_state=seed)
        clf.fit(xn, yi)
        if x_val is None:
            best = (0.0, clf, c)
            break
        loss = log_loss(_indices(y_val, classes), clf.predict_proba(_scale(scaler, l2_normalize(x_val))),
                        labels=range(len(classes)))
        if best is None or loss < best[0]:
            best = (loss, clf, c)
    assert best is not None
    clf = best[1]
    return FittedModel("linear", classes, {"C": best[2], "balanced": balanced},
                       {"coef": clf.coef_.astype(np.float32), "intercept": clf.intercept_.astype(np.float32),
                        **scaler})


def readout_logits(state: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """``((x/|x|) - mean) / scale @ coef.T + intercept`` computed as ``(x @ W.T) / |x| + b`` with
    ``W = coef / scale`` and ``b = intercept - (mean / scale) @ coef.T``: the same numbers, one pass
    over ``x``. All-zero rows (failed decodes) get ``b``, as a zero unit row would."""
    x = np.asarray(features, dtype=np.float32)
    coef = state["coef"].astype(np.float32)
    scale, mean = state["scale"].astype(np.float32), state["mean"].astype(np.float32)
    weight = coef / scale
    bias = state["intercept"].astype(np.float32) - (mean / scale) @ coef.T
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    return (x @ weight.T) / np.maximum(norms, 1e-12)[:, None] + bias


def _score_linear(model: FittedModel, logits: np.ndarray) -> np.ndarray:
    if logits.shape[1] == 1:  # sklearn's binary form: one column for the second class
        p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1 - p, p], axis=1)
    return _softmax(logits)


def fit_centroids(x: np.ndarray, y: Sequence[str], classes: Sequence[str], *, temperature: float = 0.01) -> FittedModel:
    """CE: nearest class centroid of normalized embeddings; scores are a softmax over cosines."""
    classes = list(classes)
    check_labels(y, classes)
    xn, ya = l2_normalize(x), np.asarray(y)
    centroids = l2_normalize(np.stack([xn[ya == c].mean(axis=0) for c in classes]))
    return FittedModel("centroid", classes, {"temperature": temperature}, {"centroids": centroids})


def _score_centroid(model: FittedModel, x: np.ndarray) -> np.ndarray:
    return _softmax(x @ model.state["centroids"].T / model.params["temperature"])


def fit_knn(x: np.ndarray, y: Sequence[str], target: str, *, x_val: np.ndarray, y_val: Sequence[str],
            ks: Sequence[int] = (1, 3, 5, 10, 20), target_precision: float = 0.98) -> FittedModel:
    """CSD-style k-NN, binary: an image has ``target`` if any of its k nearest labelled neighbours has.

    The score is the highest cosine similarity among those of the k neighbours labelled
    ``target`` (-1 when none is), so thresholding it tightens the "any neighbour" rule. k is the
    one with the best validation recall at ``target_precision`` (ties: smaller k).
    """
    from classifier.ml.calibration import threshold_at_precision

    ya = np.asarray(y)
    check_labels(ya == target, [True, False], what=f"{target}-vs-rest")
    xn = l2_normalize(x)
    positive = (ya == target)
    best: tuple[float, int] | None = None
    for k in ks:
        if k > len(xn):
            continue
        model = FittedModel(f"knn-{_suffix(target)}", [target], {"k": k}, {"bank": xn.astype(np.float16), "positive": positive})
        recall = threshold_at_precision(model.scores(x_val)[:, 0], np.asarray(y_val) == target, target_precision).recall
        if best is None or recall > best[0]:
            best = (recall, k)
    if best is None:
        raise MethodError(f"k-NN needs at least {min(ks)} labelled examples")
    return FittedModel(f"knn-{_suffix(target)}", [target], {"k": best[1], "ks": list(ks)},
                       {"bank": xn.astype(np.float16), "positive": positive})


def _score_knn(model: FittedModel, x: np.ndarray, block: int = 4096) -> np.ndarray:
    bank = model.state["bank"].astype(np.float32)
    positive, k = model.state["positive"], model.params["k"]
    out = np.empty(len(x), np.float32)
    for start in range(0, len(x), block):
        sims = x[start:start + block] @ bank.T
        top = np.argpartition(-sims, kth=k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        top_sims = np.where(positive[top], top_sims, -1.0)
        out[start:start + block] = top_sims.max(axis=1)
    return out[:, None]


def fit_logreg_ovr(x: np.ndarray, y: Sequence[str], target: str, *, C: float = 1.0, seed: int = 0) -> FittedModel:
    """``logreg-N`` / ``logreg-R``: one logistic regression, ``target`` against the rest, fitted once.

    Named for what it is (it was once called ``dr-*``; see ``density_ratio`` for the
    published DR). The score is its odds with the class prior divided out, odds x (n_rest / n_target):
    a density ratio only if the linear model were exact, and never calibrated by cross-fitting.
    """
    from sklearn.linear_model import LogisticRegression

    ya = np.asarray(y)
    positive = ya == target
    check_labels(positive, [True, False], what=f"{target}-vs-rest")
    scaler = _fit_scaler(l2_normalize(x))
    clf = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(_scale(scaler, l2_normalize(x)),
                                                                        positive.astype(int))
    prior = float((~positive).sum() / positive.sum())
    return FittedModel(f"logreg-{_suffix(target)}", [target], {"C": C, "prior_correction": prior},
                       {"coef": clf.coef_.astype(np.float32), "intercept": clf.intercept_.astype(np.float32),
                        **scaler})


def _score_logreg(model: FittedModel, logits: np.ndarray) -> np.ndarray:
    logit = logits[:, 0]
    return (np.exp(np.clip(logit, -50, 50)) * model.params["prior_correction"])[:, None]


def fit_density_ratio(x: np.ndarray, y: Sequence[str], target: str, *, cs: Sequence[float] = DEFAULT_CS,
                      folds: int = DEFAULT_FOLDS, seed: int = 0) -> FittedModel:
    """``dr-N`` / ``dr-R``: the published density ratio on frozen features (``classifier.ml.density_ratio``):
    K-fold cross-fitting, C by out-of-fold AUC, one temperature by BCE on the out-of-fold logits,
    score = p/(1-p) x n_reference/n_shifted. With fewer than ``folds`` labels on a side, K drops to
    that count (recorded in ``params["folds"]``). Cost: ``folds x len(cs) + 1`` logistic fits.
    """
    ya = np.asarray(y)
    positive = ya == target
    check_labels(positive, [True, False], what=f"{target}-vs-rest", minimum=2)
    k = int(min(folds, positive.sum(), (~positive).sum()))
    scaler = _fit_scaler(l2_normalize(x))
    fit, final = cross_fit_logistic(_scale(scaler, l2_normalize(x)), positive, cs=cs, k=k, seed=seed)
    params = {"C": fit.params["C"], "cs": [float(c) for c in cs], "folds": k, "folds_requested": int(folds),
              "temperature": fit.temperature, "prior_correction": fit.prior_correction,
              "n_shifted": fit.n_shifted, "n_reference": fit.n_reference, "oof_auc_by_C": fit.auc_by_param}
    return FittedModel(f"dr-{_suffix(target)}", [target], params,
                       {"coef": final.coef_.astype(np.float32), "intercept": final.intercept_.astype(np.float32),
                        "oof_ratio": fit.ratio(fit.oof_logits).astype(np.float32), **scaler})


def _score_dr(model: FittedModel, logits: np.ndarray) -> np.ndarray:
    logit = logits[:, 0]
    return ratio_from_logits(logit, model.params["temperature"], model.params["prior_correction"])[:, None]


_SCORERS = {"linear": _score_linear, "centroid": _score_centroid, "knn": _score_knn, "dr": _score_dr,
            "logreg": _score_logreg}
_READOUT_KINDS = {"linear", "dr", "logreg"}  # scorers that take readout_logits, not normalized rows

# Method names as the product spells them; FT lives in finetune.py (it needs images, not embeddings).
EMBEDDING_METHODS = ("linear", "linear-balanced", "centroid", "knn-N", "knn-R", "dr-N", "dr-R", "logreg-N",
                     "logreg-R")
IMAGE_METHODS = ("ft", "ft-balanced", "ft-N", "ft-R", "ft-N-balanced", "ft-R-balanced", "dr-ft-N", "dr-ft-R")
ALL_METHODS = EMBEDDING_METHODS + IMAGE_METHODS
# Shown where methods are chosen: runs made before the rename were migrated to logreg-* (classifier 0006).
RENAME_NOTE = ("dr-N/dr-R are the published cross-fitted density ratio; runs made before 2026-12 under those names "
               "were one-vs-rest logistic regressions and are now listed as logreg-N/logreg-R")


def method_kind(model: FittedModel) -> str:
    """The scorer of a fitted model. A ``dr-*`` pickle written before the rename (no temperature) is a
    one-vs-rest logistic regression and scores as one."""
    kind = model.method.split("-")[0]
    if kind == "dr" and "temperature" not in model.params:
        return "logreg"
    return kind


def fit_method(method: str, x: np.ndarray, y: Sequence[str], classes: Sequence[str], *, x_val: np.ndarray,
               y_val: Sequence[str], hyperparameters: dict[str, Any] | None = None, target_precision: float = 0.98,
               seed: int = 0) -> FittedModel:
    """Fit one embedding method by name; raise MethodError for unknown names."""
    hp = dict(hyperparameters or {})
    if method in ("linear", "linear-balanced"):
        return fit_linear_probe(x, y, classes, x_val=x_val, y_val=y_val, balanced=method.endswith("balanced"),
                                seed=seed, **hp)
    if method == "centroid":
        return fit_centroids(x, y, classes, **hp)
    if method in ("knn-N", "knn-R"):
        return fit_knn(x, y, BINARY_TARGET[method[-1]], x_val=x_val, y_val=y_val,
                       target_precision=target_precision, **hp)
    if method in ("logreg-N", "logreg-R"):
        return fit_logreg_ovr(x, y, BINARY_TARGET[method[-1]], seed=seed, **hp)
    if method in ("dr-N", "dr-R"):
        return fit_density_ratio(x, y, BINARY_TARGET[method[-1]], seed=seed, **hp)
    raise MethodError(f"unknown method {method!r}; expected one of {', '.join(ALL_METHODS)}")


def _suffix(target: str) -> str:
    return {NATURAL: "N", RENDITION: "R"}.get(target, target)


def _indices(y: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    try:
        return np.array([lookup[v] for v in y], dtype=np.int64)
    except KeyError as exc:
        raise MethodError(f"label {exc.args[0]!r} is not one of {list(classes)}") from exc


def _fit_scaler(xn: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension centring and scaling of normalized features, so one regularization strength
    suits extractors whose features crowd around a common direction (random or weak towers)."""
    return {"mean": xn.mean(axis=0).astype(np.float32), "scale": np.maximum(xn.std(axis=0), 1e-6).astype(np.float32)}


def _scale(state: dict[str, Any], xn: np.ndarray) -> np.ndarray:
    return (xn - state["mean"]) / state["scale"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
