"""Out-of-fold class probabilities on embeddings: what cleanlab's CROWDLAB and label-issue ranking need.

A classifier run stores predictions only for its validation and test images; the images it
trained on have in-sample scores, which flatter their labels. Label-error ranking needs a
probability for every labelled item from a model that never saw that item's label, so this
refits the run's own head type (linear probe or class centroids, with the run's fitted
hyperparameters) k times on the items' given labels and predicts each held-out fold.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from classifier.ml.methods import MethodError, fit_centroids, fit_linear_probe

# Heads whose scores are class probabilities over every class.
PROBABILITY_METHODS = ("linear", "linear-balanced", "centroid")


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, n_classes: int, *, method: str,
                              hyperparameters: dict[str, Any] | None = None, n_folds: int = 5,
                              seed: int = 0) -> np.ndarray:
    """(n, n_classes) probabilities; row i comes from a head fitted without item i.

    ``labels``: class index per row, all >= 0. Classes with fewer than two rows are not fitted
    (their column is 0). Folds are stratified; their number is ``n_folds`` or the size of the
    smallest fitted class, whichever is smaller. Cost: ``n_folds`` fits of the head.
    """
    from sklearn.model_selection import StratifiedKFold

    if method not in PROBABILITY_METHODS:
        raise MethodError(f"method {method!r} gives no class probabilities; use one of {', '.join(PROBABILITY_METHODS)}")
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.bincount(labels, minlength=n_classes)
    fitted = [c for c in range(n_classes) if sizes[c] >= 2]
    if len(fitted) < 2:
        raise MethodError("out-of-fold probabilities need two classes with at least two labelled items each")
    keep = np.isin(labels, fitted)
    folds = int(min(n_folds, sizes[fitted].min()))
    hp = dict(hyperparameters or {})
    names = [str(c) for c in fitted]
    out = np.zeros((labels.size, n_classes))
    rows = np.flatnonzero(keep)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, held in splitter.split(rows, labels[rows]):
        x, y = features[rows[train]], labels[rows[train]].astype(str)
        if method == "centroid":
            head = fit_centroids(x, y, names, temperature=float(hp.get("temperature", 0.01)))
        else:
            head = fit_linear_probe(x, y, names, cs=(float(hp.get("C", 1.0)),),
                                    balanced=method == "linear-balanced", seed=seed)
        out[np.ix_(rows[held], fitted)] = head.scores(features[rows[held]])
    # Rows of unfitted classes: the head fitted on everything else predicts them.
    if (~keep).any():
        head = (fit_centroids(features[rows], labels[rows].astype(str), names) if method == "centroid" else
                fit_linear_probe(features[rows], labels[rows].astype(str), names,
                                 cs=(float(hp.get("C", 1.0)),), seed=seed))
        out[np.ix_(np.flatnonzero(~keep), fitted)] = head.scores(features[~keep])
    return out

