"""What the classifier app installs into labeling (labeling never imports classifier).

``ClassifierConfig.ready()`` calls ``install()``; labeling/hooks.py documents each hook.
"""
from __future__ import annotations

from typing import Any

from labeling import hooks


def _predictions_configure(**options: Any) -> Any:
    from classifier.services.runs import ClassifierInputError, campaign_predictions_configure

    try:
        return campaign_predictions_configure(**options)
    except ClassifierInputError as error:
        raise hooks.PredictionsError(str(error)) from error


def _prediction_runs(*, limit: int) -> list[Any]:
    from classifier.selectors.runs import finished_runs

    return finished_runs(limit=limit)


def install() -> None:
    from classifier.services.consensus import campaign_item_probabilities, campaign_pr_curves

    hooks.install(item_probabilities=campaign_item_probabilities, pr_curves=campaign_pr_curves,
                  predictions_configure=_predictions_configure, prediction_runs=_prediction_runs)
