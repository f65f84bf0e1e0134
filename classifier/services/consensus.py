"""What labeling's consensus needs from classifiers (installed as labeling.hooks in ClassifierConfig.ready).

- ``campaign_item_probabilities``: out-of-fold class probabilities of a campaign's items, for
  CROWDLAB and label-error ranking. Held-out predictions of a run exist only for its validation
  and test images, so they are not enough: the latest run over the campaign's datasets whose head
  gives class probabilities (linear or centroid) lends its extractor, head type and fitted
  hyperparameters, and ``classifier.ml.oof`` refits that head by 5-fold cross-validation on the
  items' given labels. The result is cached under ARTIFACTS_ROOT/consensus/, keyed by run, items
  and labels, so a page view only pays for it when the labels changed.
- ``campaign_pr_curves``: the test precision-recall curves of the runs over the campaign's
  datasets, each with its operating point at the run's target precision.
"""
from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

import numpy as np
from django.db.models import Q

from classifier.ml.methods import MethodError
from classifier.ml.oof import PROBABILITY_METHODS, out_of_fold_probabilities
from classifier.models import ClassifierRun
from classifier.services.runs import _artifacts, _features_for
from domainsieve.jobs import JobStatus
from labeling.agreement.consensus import ConsensusInputError
from labeling.hooks import ItemProbabilities
from labeling.models import Image

log = logging.getLogger(__name__)


def _runs_over(campaign: Any) -> Any:
    dataset_ids = list(campaign.datasets.values_list("id", flat=True))
    return (ClassifierRun.objects.filter(status=JobStatus.SUCCEEDED)
            .filter(Q(datasets__in=dataset_ids) | Q(split__snapshot__campaign__datasets__in=dataset_ids))
            .distinct().order_by("-finished_at", "-id"))


def campaign_probability_run(*, campaign: Any) -> ClassifierRun:
    """The newest finished run over the campaign's datasets whose head gives class probabilities."""
    runs = list(_runs_over(campaign)[:200])
    usable = next((r for r in runs if r.method in PROBABILITY_METHODS), None)
    if usable is None:
        if runs:
            raise ConsensusInputError(
                f"the classifier runs over this campaign's datasets ({', '.join(r.method for r in runs[:5])}) give "
                f"no class probabilities; train a {' or '.join(PROBABILITY_METHODS)} run first", reason="needs_classifier")
        raise ConsensusInputError("CROWDLAB and label-error ranking need a finished classifier run over this "
                                  "campaign's datasets; train one on the Classifiers page first",
                                  reason="needs_classifier")
    return usable


def campaign_item_probabilities(*, campaign: Any, image_ids: np.ndarray, labels: np.ndarray,
                                class_names: list[str]) -> ItemProbabilities:
    """(n_items, n_classes) out-of-fold probabilities for labelled items (``labels`` >= 0);
    unlabelled items get a uniform row. Cost on a cache miss: embedding of items not embedded
    yet, then five fits of the head."""
    run = campaign_probability_run(campaign=campaign)
    labels = np.asarray(labels, dtype=np.int64)
    image_ids = np.asarray(image_ids, dtype=np.int64)
    n_classes = len(class_names)
    digest = hashlib.sha1()
    for part in (image_ids.tobytes(), labels.tobytes(), "\0".join(class_names).encode(), run.extractor.encode(),
                 run.method.encode(), repr(sorted((run.metrics.get("fitted") or {}).items())).encode()):
        digest.update(part)
    path = _artifacts() / "consensus" / f"campaign{campaign.id}-run{run.id}-{digest.hexdigest()[:16]}.npy"
    note = (f"out-of-fold probabilities: run {run.id}'s {run.method} head on {run.extractor} embeddings, refitted "
            "by 5-fold cross-validation on the items' labels (the run's own predictions exist only for its "
            "validation and test images)")
    if path.exists():
        return ItemProbabilities(np.load(path), run.id, note)
    labelled = np.flatnonzero(labels >= 0)
    dataset_of = dict(Image.objects.filter(id__in=image_ids[labelled].tolist()).values_list("id", "dataset_id"))
    features = _features_for(run, image_ids[labelled], np.array([dataset_of[int(i)] for i in image_ids[labelled]],
                                                                dtype=np.int64))
    fitted = run.metrics.get("fitted") or {}
    try:
        oof = out_of_fold_probabilities(features.astype(np.float32), labels[labelled], n_classes, method=run.method,
                                        hyperparameters=fitted, seed=int(run.hyperparameters.get("seed", 0)))
    except MethodError as error:
        raise ConsensusInputError(f"cannot fit run {run.id}'s head on this campaign's labels: {error}",
                                  reason="needs_classifier") from error
    probabilities = np.full((image_ids.size, n_classes), 1.0 / n_classes)
    probabilities[labelled] = oof
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp.npy")
    np.save(temporary, probabilities)
    os.replace(temporary, path)
    log.info("campaign %s: out-of-fold probabilities from run %s cached at %s", campaign.id, run.id, path)
    return ItemProbabilities(probabilities, run.id, note)


def campaign_pr_curves(*, campaign: Any, limit: int = 6) -> dict[str, Any]:
    """{run name: {class: {precision, recall, thresholds, operating_point: {precision, recall, threshold}}}}."""
    out: dict[str, Any] = {}
    for run in _runs_over(campaign)[:limit]:
        metrics = run.metrics or {}
        curves = {}
        for name, curve in (metrics.get("pr_test") or {}).items():
            point = (metrics.get("test") or {}).get(name) or {}
            curves[name] = {**curve, "operating_point": {"precision": point.get("precision"),
                                                         "recall": point.get("recall"),
                                                         "threshold": point.get("threshold")},
                            "target_precision": run.target_precision}
        if curves:
            out[f"run {run.id} {run.method}"] = curves
    return out
