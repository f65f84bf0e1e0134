"""Thresholds at a target precision, the paper's evaluation tables, and the combined rule.

For each model and class the threshold is the smallest score whose validation precision
reaches the target (default 0.98): the smallest such threshold keeps the most recall. Among
models, the one with the highest validation recall at its threshold wins the class. Applying:
a natural model and a rendition model run separately; an image is natural (rendition) only when
its natural (rendition) model fires and the other does not; disagreement or neither: ambiguous.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

NATURAL, RENDITION, AMBIGUOUS = "natural", "rendition", "ambiguous"


@dataclass(frozen=True)
class Operating:
    threshold: float  # +inf when no threshold reaches the target precision
    precision: float
    recall: float
    support: int  # positives

    def as_dict(self) -> dict[str, float | int | None]:
        d = asdict(self)
        d["threshold"] = None if not np.isfinite(self.threshold) else float(self.threshold)
        return d


def threshold_at_precision(scores: np.ndarray, positive: np.ndarray, target: float = 0.98) -> Operating:
    """Smallest threshold t with precision(score >= t) >= target, and the recall there."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    if len(scores) == 0 or n_pos == 0:
        return Operating(float("inf"), 0.0, 0.0, n_pos)
    order = np.argsort(-scores, kind="stable")
    s, p = scores[order], positive[order]
    tp, fp = np.cumsum(p), np.cumsum(~p)
    # Only the last index of a run of equal scores is a real cut (ties are in or out together).
    last = np.r_[s[1:] != s[:-1], True]
    precision = tp / (tp + fp)
    ok = np.flatnonzero(last & (precision >= target))
    if len(ok) == 0:
        return Operating(float("inf"), 0.0, 0.0, n_pos)
    i = ok[-1]  # lowest score still at target precision
    return Operating(float(s[i]), float(precision[i]), float(tp[i] / n_pos), n_pos)


def operating_at(scores: np.ndarray, positive: np.ndarray, threshold: float) -> Operating:
    """Precision and recall of ``score >= threshold`` (precision 1.0 when nothing fires, by convention 0 support)."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    fires = scores >= threshold
    tp = int((fires & positive).sum())
    n_fire, n_pos = int(fires.sum()), int(positive.sum())
    return Operating(float(threshold), tp / n_fire if n_fire else 1.0, tp / n_pos if n_pos else 0.0, n_pos)


def pr_curve(scores: np.ndarray, positive: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    """Precision-recall curve, thinned to at most ``max_points`` for storage in JSON."""
    from sklearn.metrics import precision_recall_curve

    positive = np.asarray(positive, dtype=bool)
    if positive.sum() == 0:
        return {"precision": [], "recall": [], "thresholds": []}
    precision, recall, thresholds = precision_recall_curve(positive, scores)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(max_points, len(thresholds))).astype(int))
    return {"precision": precision[keep].round(5).tolist(), "recall": recall[keep].round(5).tolist(),
            "thresholds": thresholds[keep].astype(float).round(6).tolist()}


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> list[list[int]]:
    """Rows: true class, columns: predicted class, in ``classes`` order."""
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return matrix.tolist()


def per_group(scores: np.ndarray, y: Sequence[str], groups: Sequence[str], classes: Sequence[str],
              thresholds: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """``{group: {class: op}}``: precision and recall of each class within each group at ``thresholds``."""
    y, groups = np.asarray(y), np.asarray(groups)
    out: dict[str, dict[str, Any]] = {}
    for g in sorted(set(groups.tolist())):
        mask = groups == g
        for j, c in enumerate(classes):
            out.setdefault(g, {})[c] = operating_at(scores[mask, j], y[mask] == c, thresholds[c]).as_dict()
    return out


def average_over_groups(table: Mapping[str, Mapping[str, Any]], classes: Sequence[str]) -> dict[str, Any]:
    """The paper's "average over test sets" row: per class, the mean recall over the sets holding
    that class and the mean precision over the sets where the classifier fires at all."""
    out: dict[str, Any] = {}
    for c in classes:
        rows = [t[c] for t in table.values() if c in t]
        with_support = [r for r in rows if r["support"] > 0]
        # operating_at reports precision 1.0 where nothing fires; that is no evidence, so skip it.
        fired = [r for r in rows if not (r["precision"] == 1.0 and r["recall"] == 0.0)]
        out[c] = {"recall": float(np.mean([r["recall"] for r in with_support])) if with_support else None,
                  "precision": float(np.mean([r["precision"] for r in fired])) if fired else None,
                  "sets": len(with_support)}
    return out


def evaluate_model(*, classes: Sequence[str], val_scores: np.ndarray, y_val: Sequence[str], test_scores: np.ndarray,
                   y_test: Sequence[str], test_groups: Sequence[str] | None = None, target: float = 0.98,
                   all_classes: Sequence[str] = (NATURAL, RENDITION, AMBIGUOUS),
                   eval_scores: np.ndarray | None = None, y_eval: Sequence[str] | None = None,
                   eval_groups: Sequence[str] | None = None) -> dict[str, Any]:
    """Thresholds on validation, then the paper's Table-4 layout on val, test and per test dataset.

    Returns JSON-ready ``{"thresholds": {class: op}, "val": {class: op}, "test": {class: op},
    "per_dataset": {group: {class: op}}, "pr_val": {class: curve}, "pr_test": {...},
    "confusion": {"classes": [...], "val": m, "test": m} (ternary models only)}``. With
    ``eval_scores`` (the labeled test-set images, an evaluation set apart from the pool's
    train/val/test: PAPER.md, "Classifier evaluation") also ``"testsets": {set: {class: op}}`` and
    ``"testsets_average": {class: {"precision", "recall", "sets"}}``.
    """
    y_val, y_test = np.asarray(y_val), np.asarray(y_test)
    out: dict[str, Any] = {"target_precision": target, "thresholds": {}, "val": {}, "test": {}, "per_dataset": {},
                           "pr_val": {}, "pr_test": {}}
    for j, c in enumerate(classes):
        op = threshold_at_precision(val_scores[:, j], y_val == c, target)
        out["thresholds"][c] = op.as_dict()["threshold"]
        out["val"][c] = op.as_dict()
        out["test"][c] = operating_at(test_scores[:, j], y_test == c, op.threshold).as_dict()
        out["pr_val"][c] = pr_curve(val_scores[:, j], y_val == c)
        out["pr_test"][c] = pr_curve(test_scores[:, j], y_test == c)
        if test_groups is not None:
            groups = np.asarray(test_groups)
            for g in sorted(set(groups.tolist())):
                mask = groups == g
                out["per_dataset"].setdefault(g, {})[c] = operating_at(
                    test_scores[mask, j], y_test[mask] == c, op.threshold).as_dict()
    if eval_scores is not None and y_eval is not None and eval_groups is not None and len(y_eval):
        at = {c: out["val"][c]["threshold"] if out["val"][c]["threshold"] is not None else float("inf")
              for c in classes}
        out["testsets"] = per_group(np.asarray(eval_scores), y_eval, eval_groups, classes, at)
        out["testsets_average"] = average_over_groups(out["testsets"], classes)
    if list(classes) == list(all_classes) or len(classes) > 1:
        cls = list(classes)
        out["confusion"] = {"classes": cls,
                            "val": confusion(y_val, [cls[i] for i in val_scores.argmax(1)], cls),
                            "test": confusion(y_test, [cls[i] for i in test_scores.argmax(1)], cls)}
    return out


def best_model_per_class(results: Mapping[str, Mapping[str, Any]], classes: Sequence[str] = (NATURAL, RENDITION)
                         ) -> dict[str, str | None]:
    """For each class, the model with the highest validation recall at its threshold (None: no model reaches it)."""
    best: dict[str, str | None] = {}
    for c in classes:
        ranked = [(r["val"][c]["recall"], name) for name, r in results.items()
                  if c in r.get("val", {}) and r["thresholds"].get(c) is not None]
        best[c] = max(ranked)[1] if ranked and max(ranked)[0] > 0 else None
    return best


def combine(natural_fires: np.ndarray, rendition_fires: np.ndarray) -> np.ndarray:
    """The applying rule: natural xor rendition decides; both or neither is ambiguous."""
    n, r = np.asarray(natural_fires, dtype=bool), np.asarray(rendition_fires, dtype=bool)
    out = np.full(len(n), AMBIGUOUS, dtype=object)
    out[n & ~r] = NATURAL
    out[r & ~n] = RENDITION
    return out.astype(str)
