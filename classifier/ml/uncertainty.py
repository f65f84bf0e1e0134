"""Uncertainty of class-probability rows, for active-learning orderings of a labeling queue.

Both measures lie in [0, 1] and grow with uncertainty, so a queue sorts them descending:

- margin: ``1 - (p_top1 - p_top2)``: 0 when one class takes all the mass, 1 when the two best tie;
- entropy: ``-sum p log p / log(n_classes)``: 0 for a one-hot row, 1 for the uniform row.

Margin looks only at the two best classes (the choice an annotator actually faces); entropy also
counts how the rest is spread.
"""
from __future__ import annotations

import numpy as np

MEASURES = ("margin", "entropy")


def uncertainty(probabilities: np.ndarray, measure: str = "margin") -> np.ndarray:
    """(n,) uncertainty of (n, k) probability rows, k >= 2; rows are renormalised first."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"need (n, k>=2) probability rows, got shape {p.shape}")
    if measure not in MEASURES:
        raise ValueError(f"unknown uncertainty measure {measure!r}; expected one of {', '.join(MEASURES)}")
    p = np.clip(p, 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    p = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)
    if measure == "margin":
        top2 = -np.sort(-p, axis=1)[:, :2]
        return np.clip(1.0 - (top2[:, 0] - top2[:, 1]), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return np.clip(-terms.sum(axis=1) / np.log(p.shape[1]), 0.0, 1.0)
