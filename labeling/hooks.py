"""Hooks a higher app installs into labeling (imports run one way: labeling never imports classifier).

The classifier app installs, in its AppConfig.ready():

- ``item_probabilities(*, campaign, image_ids, labels, class_names) -> ItemProbabilities``:
  out-of-fold class probabilities for the campaign's items (columns in ``class_names`` order),
  from the latest classifier run over the campaign's datasets; raises
  labeling.agreement.consensus.ConsensusInputError when no run can give them.
- ``pr_curves(*, campaign) -> {run name: {class: {precision, recall, thresholds, operating_point}}}``:
  the test precision-recall curves of the runs over the campaign's datasets.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeling.agreement.consensus import ConsensusInputError


@dataclass(frozen=True, eq=False)
class ItemProbabilities:
    probabilities: np.ndarray  # (n_items, n_classes)
    run_id: int
    note: str  # how they were made, shown to the user


_hooks: dict[str, Callable[..., Any]] = {}


def install(*, item_probabilities: Callable[..., ItemProbabilities] | None = None,
            pr_curves: Callable[..., dict[str, Any]] | None = None) -> None:
    if item_probabilities is not None:
        _hooks["item_probabilities"] = item_probabilities
    if pr_curves is not None:
        _hooks["pr_curves"] = pr_curves


def item_probabilities(*, campaign: Any, image_ids: np.ndarray, labels: np.ndarray,
                       class_names: list[str]) -> ItemProbabilities:
    hook = _hooks.get("item_probabilities")
    if hook is None:
        raise ConsensusInputError("CROWDLAB and label-error ranking need a classifier, and the classifier app "
                                  "is not installed",
                                  reason="needs_classifier")
    return hook(campaign=campaign, image_ids=image_ids, labels=labels, class_names=class_names)


def pr_curves(*, campaign: Any) -> dict[str, Any]:
    hook = _hooks.get("pr_curves")
    return hook(campaign=campaign) if hook is not None else {}
