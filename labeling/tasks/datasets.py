"""Celery tasks: datasets. Thin adapters: take ids, call a service."""
from __future__ import annotations

from celery import shared_task

from labeling.models import ImportJob
from labeling.services.datasets import import_run


@shared_task(bind=True, acks_late=True)
def import_images_task(self: object, job_id: int) -> str:
    """Run one import job. Safe to redeliver: a re-run adds nothing already imported."""
    job = ImportJob.objects.select_related("dataset").filter(pk=job_id).first()
    if job is None:
        return "missing"
    return import_run(job=job).status
