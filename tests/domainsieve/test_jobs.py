"""One job status vocabulary (domainsieve.jobs): every job model stores it, the browser polls the
same active statuses, and the shared state changes write only their own columns."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import timezone

from domainsieve.jobs import ACTIVE, ERROR_MAX_CHARS, FINISHED, CountedJobFields, JobFields, JobStatus
from labeling.models import ImportJob
from tests.factories import make_dataset
from training.models import TrainingRun

REPO = Path(__file__).resolve().parents[2]
NOT_JOBS = {"labeling.Campaign", "training.TrainHost"}  # their own lifecycles: active/paused, up/lost


def test_it_splits_every_status_into_active_or_finished() -> None:
    assert set(ACTIVE) | set(FINISHED) == set(JobStatus) and not set(ACTIVE) & set(FINISHED)


def test_it_gives_every_job_model_the_shared_values() -> None:
    with_status = [m for m in apps.get_models() if any(f.name == "status" for f in m._meta.fields)]
    jobs = [m for m in with_status if m._meta.label not in NOT_JOBS]
    assert {m._meta.label for m in jobs} >= {
        "labeling.ImportJob", "classifier.EmbeddingSet", "classifier.ClassifierRun", "classifier.ApplyJob",
        "classifier.ApplyShard", "classifier.CleanTestset", "classifier.ReshardJob", "classifier.SubsetJob",
        "classifier.VectorIndex", "classifier.DedupRun", "classifier.ContaminationReport", "training.TrainingRun"}
    for model in jobs:
        field = model._meta.get_field("status")
        assert set(dict(field.choices)) <= set(JobStatus.values), model
        assert field.default == JobStatus.QUEUED, model
        assert issubclass(model, JobFields) or model._meta.label == "classifier.ApplyShard", model


def test_it_polls_the_same_active_statuses_in_the_browser() -> None:
    source = (REPO / "frontend/static/js/jobs.js").read_text()
    listed = re.search(r"export const ACTIVE = new Set\(\[([^\]]*)\]\)", source)
    assert listed is not None
    assert re.findall(r'"(\w+)"', listed.group(1)) == [s.value for s in ACTIVE]


@pytest.mark.django_db
def test_it_marks_running_and_finished_without_undoing_a_concurrent_write() -> None:
    job = ImportJob.objects.create(dataset=make_dataset(), source="/data", error="last attempt failed")
    ImportJob.objects.filter(pk=job.pk).update(imported=7)  # another process, after job was read

    assert job.mark_running(total=10) == 1
    row = ImportJob.objects.get(pk=job.pk)
    assert (row.status, row.error, row.total, row.imported) == ("running", "", 10, 7)
    assert row.started_at == job.started_at and job.status == JobStatus.RUNNING

    job.mark_finished(JobStatus.FAILED, error="x" * (ERROR_MAX_CHARS + 10))
    row.refresh_from_db()
    assert (row.status, len(row.error), row.imported) == ("failed", ERROR_MAX_CHARS, 7)
    assert row.finished_at is not None and row.finished_at >= row.started_at


@pytest.mark.django_db
def test_it_refuses_to_finish_a_job_with_a_status_that_does_not_end_it() -> None:
    job = ImportJob.objects.create(dataset=make_dataset(), source="/data")
    with pytest.raises(ValueError, match="does not end a job"):
        job.mark_finished(JobStatus.RUNNING)
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.QUEUED


@pytest.mark.django_db
def test_it_moves_updated_at_as_a_save_would() -> None:
    run = TrainingRun.objects.create(name="r", logs_dir="/logs")
    long_ago = timezone.now() - timedelta(days=1)
    TrainingRun.objects.filter(pk=run.pk).update(updated_at=long_ago)
    run.mark_finished(JobStatus.CANCELLED)
    run.refresh_from_db()
    assert run.status == "cancelled" and run.updated_at > long_ago and not run.is_active and run.is_finished


def test_it_reports_progress_of_counted_work() -> None:
    assert issubclass(ImportJob, CountedJobFields)
    assert ImportJob(done=3, total=4).progress == 0.75
    assert ImportJob(status=JobStatus.SUCCEEDED).progress == 1.0 and ImportJob().progress == 0.0
