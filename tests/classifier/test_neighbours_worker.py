"""The index build as a queued job: a real Celery worker on the gpu queue builds what the API posted."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from classifier.models.neighbours import DedupRun, VectorIndex
from domainsieve.jobs import JobStatus
from tests.classifier.neighbour_factories import World
from tests.conftest import wait_for


@pytest.mark.worker
def test_it_builds_a_posted_index_and_dedups_on_the_gpu_queue_worker(celery_worker_proc: object, api: type,
                                                                     researcher: User) -> None:
    world = World()
    response = api(researcher).post("/api/v1/vector-indexes/", {"embedding_sets": [world.pool_set.id]},
                                    format="json")
    assert response.status_code == 202, response.content
    index_id = response.json()["id"]
    assert response.json()["status"] == JobStatus.QUEUED
    wait_for(lambda: VectorIndex.objects.get(pk=index_id).status in (JobStatus.SUCCEEDED, JobStatus.FAILED), 120)
    index = VectorIndex.objects.get(pk=index_id)
    assert index.status == JobStatus.SUCCEEDED, index.error
    assert (index.size, index.done, index.total) == (12, 12, 12) and index.build_seconds is not None
    assert (Path(settings.ARTIFACTS_ROOT) / index.path / "index.faiss").exists()

    response = api(researcher).post("/api/v1/dedup-runs/", {"index": index_id, "thresholds": [0.95]}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    wait_for(lambda: DedupRun.objects.get(pk=run_id).status in (JobStatus.SUCCEEDED, JobStatus.FAILED), 120)
    run = DedupRun.objects.get(pk=run_id)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.counts[0]["removed"] == 3
    detail = api(researcher).get(f"/api/v1/dedup-runs/{run_id}/").json()
    assert detail["progress"] == 1.0 and detail["counts"][0]["kept"] == 9
