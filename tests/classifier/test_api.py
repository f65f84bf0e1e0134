from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from classifier.models import ClassifierRun
from classifier.services.runs import classifier_run_execute
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from tests.classifier.conftest import TINY

URL = "/api/v1/classifier-runs/"


def body(dataset: Dataset, **extra: object) -> dict[str, object]:
    return {"method": "linear", "extractor": TINY, "labels_source": "intended_domain", "datasets": [dataset.id],
            **extra}


def test_it_creates_a_queued_run_for_researchers(api: type, researcher: User, labelled_pool: Dataset,
                                                 django_capture_on_commit_callbacks: object) -> None:
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        response = api(researcher).post(URL, body(labelled_pool, hyperparameters={"seed": 2}), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "queued" and len(callbacks) == 1  # the train_task enqueue
    run = ClassifierRun.objects.get()
    assert run.created_by == researcher and run.hyperparameters["seed"] == 2
    classifier_run_execute(run_id=run.id)
    listed = api(researcher).get(URL).json()["results"]
    assert [r["status"] for r in listed] == ["succeeded"] and "metrics" not in listed[0]
    detail = api(researcher).get(f"{URL}{run.id}/").json()
    assert set(detail["metrics"]["thresholds"]) == {"natural", "rendition", "ambiguous"}


@pytest.mark.parametrize("extra,reason", [
    ({"extractor": "keras:vgg"}, "unknown extractor family"),
    ({"classes": ["natural", "rendition"], "datasets": []}, "at least one dataset"),
    ({"target_precision": 1.5}, "target_precision"),
])
def test_it_answers_400_with_the_reason(api: type, researcher: User, labelled_pool: Dataset, extra: dict,
                                        reason: str) -> None:
    response = api(researcher).post(URL, body(labelled_pool, **extra), format="json")
    assert response.status_code == 400 and reason in response.json()["detail"]
    assert not ClassifierRun.objects.exists()


def test_it_refuses_annotators_outsiders_and_anonymous(api: type, annotator: User, outsider: User,
                                                       labelled_pool: Dataset) -> None:
    for user, code in ((annotator, 403), (outsider, 403), (None, 401)):
        assert api(user).get(URL).status_code in (code, 403)
        assert api(user).post(URL, body(labelled_pool), format="json").status_code in (code, 403)
    assert not ClassifierRun.objects.exists()


def test_it_hides_run_details_from_annotators(api: type, annotator: User, labelled_pool: Dataset) -> None:
    run = ClassifierRun.objects.create(labels_source="intended_domain", extractor=TINY, method="linear")
    assert api(annotator).get(f"{URL}{run.id}/").status_code == 403


def test_it_queues_embedding_sets(api: type, researcher: User, labelled_pool: Dataset, media_root: Path) -> None:
    response = api(researcher).post("/api/v1/embedding-sets/", {"dataset": labelled_pool.id, "extractor": TINY},
                                    format="json")
    assert response.status_code == 202 and response.json()["status"] == JobStatus.QUEUED
    bad = api(researcher).post("/api/v1/embedding-sets/", {"dataset": labelled_pool.id, "extractor": "nope"},
                               format="json")
    assert bad.status_code == 400
