"""The product's own fitted heads for the benches (not heads written in a bench).

``fitted_heads(dim)`` fits, on synthetic labeled features (three Gaussian clusters), the methods a
researcher would apply: the ternary linear probe (``linear``) as the natural head and the published
density ratio (``dr-R``, 10-fold cross-fitted) as the rendition head, through
``classifier.ml.methods.fit_method``: the same code and the same ``FittedModel.scores`` path that
``apply_classifier`` runs.
"""
from __future__ import annotations

import numpy as np

CLASSES = ["natural", "rendition", "ambiguous"]


def synthetic_labeled(dim: int, *, n: int = 900, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)).astype(np.float32)
    y = np.array(CLASSES * (n // 3))
    x = centres[np.arange(len(y)) % 3] + rng.normal(scale=2.0, size=(len(y), dim)).astype(np.float32)
    return x, y


def fitted_heads(dim: int, *, seed: int = 0) -> tuple[object, object]:
    """(natural head, rendition head): FittedModels with ``classes`` and ``predict_proba``."""
    from classifier.ml.methods import fit_method

    x, y = synthetic_labeled(dim, seed=seed)
    xv, yv = synthetic_labeled(dim, n=300, seed=seed + 1)
    natural = fit_method("linear", x, y, CLASSES, x_val=xv, y_val=yv, seed=seed)
    rendition = fit_method("dr-R", x, y, CLASSES, x_val=xv, y_val=yv, seed=seed, hyperparameters={"cs": [1.0]})
    return natural, rendition
