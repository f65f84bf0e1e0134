"""Hooks a higher app installs into labeling (imports run one way: labeling never imports classifier).

The classifier app installs, in its AppConfig.ready():

- ``item_probabilities(*, campaign, image_ids, labels, class_names) -> ItemProbabilities``:
  out-of-fold class probabilities for the campaign's items (columns in ``class_names`` order),
  from the latest classifier run over the campaign's datasets; raises
  labeling.agreement.consensus.ConsensusInputError when no run can give them.
- ``pr_curves(*, campaign) -> {run name: {class: {precision, recall, thresholds, operating_point}}}``:
  the test precision-recall curves of the runs over the campaign's datasets.
- ``predictions_configure(*, campaign, ordering, uncertainty_measure, show_suggestions,
  prediction_source=None, run_id=None) -> run or None``: the campaign's "order by predictions"
  settings, queueing the predictions of the run it now follows; raises ``PredictionsError`` with
  a message for the user when the choice cannot be honoured.
- ``prediction_runs(*, limit) -> list``: the finished classifier runs a campaign may follow, newest
  first (objects with ``id``, ``name``, ``method``, ``finished_at``).

Without the classifier app, consensus rules that need a classifier refuse with a reason, ordering
by predictions refuses with ``PredictionsError`` and the run list is empty.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeling.agreement.consensus import ConsensusInputError


class PredictionsError(Exception):
    """A campaign cannot follow the predictions asked for; the message is for the user."""


@dataclass(frozen=True, eq=False)
class ItemProbabilities:
    probabilities: np.ndarray  # (n_items, n_classes)
    run_id: int
    note: str  # how they were made, shown to the user


_hooks: dict[str, Callable[..., Any]] = {}


def install(*, item_probabilities: Callable[..., ItemProbabilities] | None = None,
            pr_curves: Callable[..., dict[str, Any]] | None = None,
            predictions_configure: Callable[..., Any] | None = None,
            prediction_runs: Callable[..., list[Any]] | None = None) -> None:
    given = {"item_probabilities": item_probabilities, "pr_curves": pr_curves,
             "predictions_configure": predictions_configure, "prediction_runs": prediction_runs}
    _hooks.update({name: hook for name, hook in given.items() if hook is not None})


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


def predictions_configure(*, campaign: Any, ordering: str, uncertainty_measure: str, show_suggestions: bool,
                          prediction_source: str | None = None, run_id: int | None = None) -> Any:
    hook = _hooks.get("predictions_configure")
    if hook is None:
        raise PredictionsError("ordering by predictions needs the classifier app, which is not installed")
    return hook(campaign=campaign, ordering=ordering, uncertainty_measure=uncertainty_measure,
                show_suggestions=show_suggestions, prediction_source=prediction_source, run_id=run_id)


def prediction_runs(*, limit: int = 50) -> list[Any]:
    hook = _hooks.get("prediction_runs")
    return hook(limit=limit) if hook is not None else []
