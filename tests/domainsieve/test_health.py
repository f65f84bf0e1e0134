"""/api/v1/health/ reports database, broker and workers."""
from __future__ import annotations

import pytest

from tests.conftest import WorkerProcess


@pytest.mark.django_db
def test_it_reports_database_and_broker_without_workers(api, annotator, settings) -> None:
    response = api(annotator).get("/api/v1/health/")
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == "postgresql"
    assert body["broker"]["ok"] is True


@pytest.mark.worker
def test_it_reports_a_running_worker(api, annotator, celery_worker_proc: WorkerProcess) -> None:
    response = api(annotator).get("/api/v1/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["workers"]["count"] >= 1
    assert any(celery_worker_proc.name in w for w in body["workers"]["workers"])
