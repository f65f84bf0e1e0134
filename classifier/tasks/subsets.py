"""Celery adapter for subset jobs. Named outside ``classifier.tasks.*`` so it runs on the
``default`` queue (CPU and disk work), not on a GPU worker."""
from __future__ import annotations

from celery import shared_task

from classifier.services import subsets as services_subsets


@shared_task(name="classifier.subsets.make_subset", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def subset_job_run(job_id: int) -> None:
    services_subsets.subset_job_run(job_id=job_id)
