"""Label-quality math on label matrices: agreement, final labels, splits. No Django imports.

``agreement_report`` bundles every agreement measure into one JSON-ready dict; the service in
labeling/services/quality.py feeds it a campaign's labels, the API and the ``agreement`` command
print it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .final import contest_scores, final_labels
from .metrics import (
    cohen_kappa_pairs,
    fleiss_kappa,
    krippendorff_alpha,
    per_class_agreement,
    percent_agreement,
    rater_vs_gold,
    rater_vs_majority,
)
from .ratings import Ratings
from .splits import assign_splits

__all__ = ["Ratings", "agreement_report", "assign_splits", "cohen_kappa_pairs", "contest_scores", "final_labels",
           "fleiss_kappa", "krippendorff_alpha", "per_class_agreement", "percent_agreement", "rater_vs_gold",
           "rater_vs_majority"]


def _num(value: float) -> float | None:
    """JSON has no NaN: undefined figures travel as null."""
    value = float(value)
    return None if math.isnan(value) else value


def agreement_report(ratings: Ratings, *, class_names: list[str], rater_names: list[str],
                     gold: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every agreement figure for one set of labels, as plain JSON types (NaN as None)."""
    pa = percent_agreement(ratings)
    fk = fleiss_kappa(ratings)
    alpha = krippendorff_alpha(ratings, n_boot=n_boot, seed=seed)
    majority = rater_vs_majority(ratings)
    per_rater_labels = np.bincount(ratings.rater, minlength=ratings.n_raters)
    vs_gold = rater_vs_gold(ratings, gold) if gold is not None else None
    raters = []
    for r, name in enumerate(rater_names):
        entry: dict[str, Any] = {
            "annotator": name, "labels": int(per_rater_labels[r]),
            "vs_majority": {"n": int(majority.n[r]), "agreement": _num(majority.accuracy[r]),
                            "confusion": majority.confusion[r].tolist()},
        }
        if vs_gold is not None:
            entry["vs_gold"] = {"n": int(vs_gold.n[r]), "accuracy": _num(vs_gold.accuracy[r]),
                                "confusion": vs_gold.confusion[r].tolist()}
        raters.append(entry)
    m = ratings.labels_per_item
    return {
        "classes": class_names,
        "n_items": ratings.n_items,
        "n_labels": ratings.n_labels,
        "n_items_multi": int((m >= 2).sum()),
        "labels_per_item": {str(k): int(v) for k, v in enumerate(np.bincount(m)) if v},
        "percent_agreement": {"pairwise": _num(pa.pairwise), "unanimous": _num(pa.unanimous), "n_items": pa.n_items},
        "cohen_kappa": [
            {"a": rater_names[p.rater_a], "b": rater_names[p.rater_b], "overlap": p.n,
             "agreement": _num(p.agreement), "kappa": _num(p.kappa), "confusion": p.confusion.tolist()}
            for p in cohen_kappa_pairs(ratings)
        ],
        "fleiss_kappa": {"kappa": _num(fk.kappa), "labels_per_item": fk.labels_per_item, "n_items": fk.n_items,
                         "by_labels_per_item": {str(k): {"kappa": _num(v[0]), "n_items": v[1]}
                                                for k, v in fk.by_count.items()}},
        "krippendorff_alpha": {"alpha": _num(alpha.alpha), "ci95": [_num(alpha.ci_low), _num(alpha.ci_high)],
                               "n_items": alpha.n_items, "n_values": alpha.n_values, "n_boot": alpha.n_boot,
                               "coincidence": alpha.coincidence.tolist()},
        "per_class": {name: _num(v) for name, v in zip(class_names, per_class_agreement(ratings), strict=True)},
        "annotators": raters,
        "confusion_vs_majority": majority.confusion.sum(axis=0).tolist(),
    }
