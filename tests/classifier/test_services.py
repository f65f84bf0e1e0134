from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from classifier.ml.embed import load_embeddings
from classifier.ml.methods import FittedModel
from classifier.models import ClassifierRun, EmbeddingSet
from classifier.services.runs import (
    ClassifierInputError,
    classifier_run_create,
    classifier_run_execute,
    embedding_set_compute,
    embedding_set_get_or_create,
    stratified_split,
)
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from tests.classifier.conftest import TINY
from tests.factories import make_dataset, make_images


def run_for(dataset: Dataset, method: str = "linear", **kwargs: object) -> ClassifierRun:
    return classifier_run_create(created_by=None, method=method, extractor=TINY, labels_source="intended_domain",
                                 datasets=[dataset], enqueue=False, **kwargs)


def test_it_embeds_a_dataset_into_artifacts_and_reuses_it(labelled_pool: Dataset) -> None:
    embedding_set = embedding_set_get_or_create(dataset=labelled_pool, extractor=TINY)
    done = embedding_set_compute(embedding_set_id=embedding_set.id, batch_size=8, chunk_size=16)
    assert (done.status, done.count, done.done, done.dim) == (JobStatus.SUCCEEDED, 45, 45, 32)
    ids, features = load_embeddings(Path(settings.ARTIFACTS_ROOT) / done.path)
    assert sorted(ids.tolist()) == sorted(labelled_pool.images.values_list("id", flat=True))
    mtime = (Path(settings.ARTIFACTS_ROOT) / done.path / "chunk_00000.npy").stat().st_mtime_ns
    embedding_set_compute(embedding_set_id=embedding_set.id)
    assert (Path(settings.ARTIFACTS_ROOT) / done.path / "chunk_00000.npy").stat().st_mtime_ns == mtime


def test_it_trains_calibrates_and_evaluates_a_linear_probe(labelled_pool: Dataset) -> None:
    run = run_for(labelled_pool, classes=["natural", "rendition"], hyperparameters={"seed": 1})
    assert run.status == JobStatus.QUEUED
    run = classifier_run_execute(run_id=run.id)
    assert run.status == JobStatus.SUCCEEDED and run.progress == 1.0 and run.duration_s > 0
    assert run.metrics["val"]["rendition"]["precision"] >= 0.98 and run.metrics["counts"]["test"]["natural"] == 3
    # Flat vs noisy images: even a random tiny ViT ranks them apart on held-out images.
    from sklearn.metrics import roc_auc_score

    scores = np.load(Path(settings.ARTIFACTS_ROOT) / run.artifacts["scores"])
    truth = dict(labelled_pool.images.values_list("id", "intended_domain"))
    held_out = np.r_[scores["val_ids"], scores["test_ids"]]
    natural = np.r_[scores["val_scores"][:, 0], scores["test_scores"][:, 0]]
    assert roc_auc_score([truth[int(i)] == "natural" for i in held_out], natural) >= 0.8
    assert set(run.thresholds) == {"natural", "rendition"} and "pool" in run.metrics["per_dataset"]
    root = Path(settings.ARTIFACTS_ROOT)
    model = FittedModel.load(root / run.artifacts["model"])
    assert model.classes == ["natural", "rendition"]
    assert json.loads((root / run.artifacts["metrics"]).read_text())["thresholds"] == run.thresholds
    assert EmbeddingSet.objects.get(dataset=labelled_pool, extractor=TINY).status == JobStatus.SUCCEEDED


@pytest.mark.parametrize("method", ["centroid", "dr-R", "knn-N"])
def test_it_runs_the_other_embedding_methods(labelled_pool: Dataset, method: str) -> None:
    run = classifier_run_execute(run_id=run_for(labelled_pool, method).id)
    assert run.status == JobStatus.SUCCEEDED
    assert set(run.metrics["scored_classes"]) <= {"natural", "rendition", "ambiguous"}


def test_it_fine_tunes_from_images(labelled_pool: Dataset) -> None:
    run = run_for(labelled_pool, "ft-N", hyperparameters={"epochs": 2, "batch_size": 8, "max_steps": 2})
    run = classifier_run_execute(run_id=run.id)
    assert run.status == JobStatus.SUCCEEDED and run.metrics["scored_classes"] == ["natural"]
    assert len(run.metrics["fitted"]["history"]) == 2
    assert (Path(settings.ARTIFACTS_ROOT) / run.artifacts["model"]).name == "ft.pt"


def test_it_refuses_bad_input_before_creating_a_run(db: None, media_root: Path) -> None:
    dataset = make_dataset()
    make_images(dataset=dataset, n=8, domains=("natural", "rendition"))
    with pytest.raises(ClassifierInputError, match="class ambiguous"):
        run_for(dataset)
    with pytest.raises(ClassifierInputError, match="too few"):
        run_for(dataset, classes=["natural", "rendition"])  # 4 per class; train/val/test need 5
    with pytest.raises(ClassifierInputError, match="unknown extractor"):
        classifier_run_create(created_by=None, method="linear", extractor="vgg16", labels_source="intended_domain",
                              datasets=[dataset], enqueue=False)
    with pytest.raises(ClassifierInputError, match="unknown method"):
        run_for(dataset, method="svm")
    assert ClassifierRun.objects.count() == 0


def test_it_refuses_an_embedding_set_of_another_extractor(labelled_pool: Dataset) -> None:
    other = embedding_set_get_or_create(dataset=labelled_pool, extractor="timm:efficientnet_lite0/random")
    with pytest.raises(ClassifierInputError, match="was made with"):
        run_for(labelled_pool, embedding_sets=[other])
    assert ClassifierRun.objects.count() == 0


def test_it_marks_a_failed_run_and_leaves_no_artifacts(labelled_pool: Dataset) -> None:
    with pytest.raises(ClassifierInputError, match="preset"):
        run_for(labelled_pool, "ft", hyperparameters={"epochs": 1, "preset": "adam"})
    with pytest.raises(ClassifierInputError, match="must be a number"):
        run_for(labelled_pool, hyperparameters={"seed": "one"})
    run = run_for(labelled_pool, "ft", hyperparameters={"epochs": 1})
    # A row edited by hand past validation fails in the worker, leaving no half-written artifacts.
    ClassifierRun.objects.filter(pk=run.id).update(hyperparameters={"epochs": 1, "preset": "adam"})
    with pytest.raises(ValueError, match="preset"):
        classifier_run_execute(run_id=run.id)
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "preset" in run.error
    assert not list((Path(settings.ARTIFACTS_ROOT) / "classifier_runs").iterdir())


def test_it_splits_each_class_in_proportion_and_reproducibly() -> None:
    labels = ["natural"] * 50 + ["rendition"] * 20
    a = stratified_split(labels, seed=3, val_fraction=0.2, test_fraction=0.2)
    assert np.array_equal(a, stratified_split(labels, seed=3, val_fraction=0.2, test_fraction=0.2))
    assert ((a == "val") & (np.array(labels) == "rendition")).sum() == 4
    assert (a == "train").sum() == 42


def test_it_fills_campaign_predictions_for_active_learning_ordering(labelled_pool: Dataset, researcher: object) -> None:
    from classifier.services.runs import campaign_predictions_update
    from labeling.models import CampaignItem
    from labeling.services.campaigns import campaign_create

    campaign = campaign_create(name="c", datasets=[labelled_pool], user=researcher)
    run = classifier_run_execute(run_id=run_for(labelled_pool, "centroid").id)
    assert campaign_predictions_update(campaign_id=campaign.id, run_id=run.id) == 45
    items = CampaignItem.objects.filter(campaign=campaign)
    assert all(i.predicted_label in ("natural", "rendition", "ambiguous") for i in items)
    # Margin uncertainty (the default): 1 - (top1 - top2), so at least 1 - top1 and at most 1.
    assert all(1 - i.predicted_score - 1e-6 <= i.uncertainty <= 1 for i in items)
    queued = run_for(labelled_pool)
    with pytest.raises(ClassifierInputError, match="only a finished run"):
        campaign_predictions_update(campaign_id=campaign.id, run_id=queued.id)


def test_it_trains_on_a_frozen_split_of_a_label_snapshot(labelled_pool: Dataset, researcher: object) -> None:
    from labeling.models import LabelSnapshot, SnapshotLabel, Split, SplitAssignment
    from labeling.services.campaigns import campaign_create

    campaign = campaign_create(name="c", datasets=[labelled_pool], user=researcher)
    images = list(labelled_pool.images.order_by("id"))
    snapshot = LabelSnapshot.objects.create(campaign=campaign, name="s1", rule="majority",
                                            class_names=["natural", "rendition", "ambiguous"], counts={},
                                            n_labelled=len(images), n_unlabelled=0)
    split = Split.objects.create(snapshot=snapshot, name="sp", version=1, preset="ratio", seed=0, counts={})
    for i, image in enumerate(images):
        # The annotators' label, not the intended domain: ambiguous images were called natural.
        label = "natural" if image.intended_domain == "ambiguous" else image.intended_domain
        SnapshotLabel.objects.create(snapshot=snapshot, image=image, label=label, label_index=0, source="majority",
                                     label_count=1)
        SplitAssignment.objects.create(split=split, image=image, subset=("train", "train", "val", "test", "train")[i % 5])
    run = classifier_run_create(created_by=None, method="linear", extractor=TINY, labels_source="split", split=split,
                                classes=["natural", "rendition"], enqueue=False)
    run = classifier_run_execute(run_id=run.id)
    assert run.metrics["counts"]["train"] == {"natural": 18, "rendition": 9}
    assert run.metrics["counts"]["test"]["natural"] + run.metrics["counts"]["test"]["rendition"] == 9
    with pytest.raises(ClassifierInputError, match="no labelled images of class ambiguous"):
        classifier_run_create(created_by=None, method="linear", extractor=TINY, labels_source="split", split=split,
                              enqueue=False)
