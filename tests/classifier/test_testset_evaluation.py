"""The paper's classifier evaluation: the labeled test-set images are an evaluation set apart,
reported per test set and averaged (Table 4), beside the pool's own test split."""
from __future__ import annotations

import numpy as np
import pytest

from classifier.ml.calibration import average_over_groups, evaluate_model
from classifier.services.runs import classifier_run_create, classifier_run_execute, labelled_images
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from tests.classifier.conftest import TINY
from tests.factories import make_dataset, make_image


@pytest.fixture
def testsets(labelled_pool: Dataset) -> list[Dataset]:
    """Two small labeled test sets (natural IN-Val-like, rendition IN-Sketch-like), 10 images each."""
    sets = []
    for name, domain, other in (("IN-Val", "natural", "rendition"), ("IN-Sketch", "rendition", "natural")):
        dataset = make_dataset(name=name, kind=Dataset.Kind.TESTSET, expected_domain=domain)
        for i in range(10):
            make_image(dataset=dataset, domain=domain if i < 8 else other, seed=20_000 + 100 * len(sets) + i)
        sets.append(dataset)
    return sets


def test_it_never_draws_test_set_images_into_train_val_or_test(labelled_pool: Dataset, testsets: list[Dataset]) -> None:
    data = labelled_images(labels_source="intended_domain", datasets=[labelled_pool, *testsets],
                           classes=["natural", "rendition"])
    kinds = dict(Dataset.objects.values_list("name", "kind"))
    in_testsets = np.array([kinds[g] == "testset" for g in data.groups])
    assert in_testsets.sum() == 20 and set(data.subsets[in_testsets]) == {"eval"}
    assert set(data.subsets[~in_testsets]) == {"train", "val", "test"}
    # Only when asked: the old behaviour mixes them into the split.
    mixed = labelled_images(labels_source="intended_domain", datasets=[labelled_pool, *testsets],
                            classes=["natural", "rendition"], testsets_apart=False)
    assert "eval" not in set(mixed.subsets)


def test_it_reports_each_test_set_and_their_average_beside_the_pool_test_split(
        labelled_pool: Dataset, testsets: list[Dataset], client: object, researcher: object) -> None:
    run = classifier_run_create(created_by=None, method="linear", extractor=TINY, labels_source="intended_domain",
                                datasets=[labelled_pool, *testsets], classes=["natural", "rendition"], enqueue=False,
                                hyperparameters={"seed": 1})
    run = classifier_run_execute(run_id=run.id)
    assert run.status == JobStatus.SUCCEEDED
    m = run.metrics
    assert set(m["testsets"]) == {"IN-Val", "IN-Sketch"} and set(m["per_dataset"]) == {"pool"}
    assert m["counts"]["eval"] == {"natural": 10, "rendition": 10}
    assert m["testsets"]["IN-Val"]["natural"]["support"] == 8 and m["testsets"]["IN-Sketch"]["natural"]["support"] == 2
    recalls = [m["testsets"][s]["natural"]["recall"] for s in ("IN-Val", "IN-Sketch")]
    assert m["testsets_average"]["natural"]["recall"] == pytest.approx(np.mean(recalls))
    client.force_login(researcher)
    detail = client.get(f"/classifier/runs/{run.id}/").content.decode()
    assert 'id="testsets"' in detail and "IN-Sketch" in detail
    compare = client.get(f"/classifier/compare/?runs={run.id}").content.decode()
    assert 'id="table4"' in compare


def test_it_averages_precision_only_over_sets_where_the_classifier_fires() -> None:
    y_val = np.array(["natural"] * 5 + ["rendition"] * 5)
    val = np.r_[np.linspace(0.6, 1, 5), np.linspace(0, 0.4, 5)][:, None]
    y_eval = np.array(["natural", "natural", "rendition", "rendition", "rendition", "natural"])
    groups = np.array(["A", "A", "A", "B", "B", "C"])
    scores = np.array([0.9, 0.1, 0.95, 0.0, 0.1, 0.0])[:, None]
    m = evaluate_model(classes=["natural"], val_scores=val, y_val=y_val, test_scores=val, y_test=y_val,
                       eval_scores=scores, y_eval=y_eval, eval_groups=groups)
    assert m["testsets"]["A"]["natural"] == {"threshold": 0.6, "precision": 0.5, "recall": 0.5, "support": 2}
    assert m["testsets"]["B"]["natural"]["support"] == 0 and m["testsets"]["C"]["natural"]["recall"] == 0.0
    avg = average_over_groups(m["testsets"], ["natural"])["natural"]
    # Recall over the sets holding naturals (A: 0.5, C: 0.0); precision over the one set where it fired.
    assert avg == {"recall": 0.25, "precision": 0.5, "sets": 2}
