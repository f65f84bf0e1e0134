from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from classifier.models import ClassifierRun, EmbeddingSet
from domainsieve.jobs import JobStatus
from tests.classifier.conftest import TINY
from tests.conftest import wait_for
from tests.factories import make_dataset, make_images


@pytest.mark.worker
def test_it_trains_a_posted_run_on_the_gpu_queue_worker(celery_worker_proc: object, api: type,
                                                        researcher: User) -> None:
    dataset = make_dataset(name="queued-pool")
    make_images(dataset=dataset, n=30, domains=("natural", "rendition"))
    response = api(researcher).post("/api/v1/classifier-runs/", {
        "method": "centroid", "extractor": TINY, "labels_source": "intended_domain", "datasets": [dataset.id],
        "classes": ["natural", "rendition"]}, format="json")
    assert response.status_code == 201
    run_id = response.json()["id"]
    wait_for(lambda: ClassifierRun.objects.get(pk=run_id).status in (JobStatus.SUCCEEDED, JobStatus.FAILED), 120)
    run = ClassifierRun.objects.get(pk=run_id)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert EmbeddingSet.objects.get(dataset=dataset).count == 30
