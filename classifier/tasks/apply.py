"""Celery adapters for apply jobs and test-set cleaning: take ids, call a service.

Every task is named ``classifier.tasks.*`` so CELERY_TASK_ROUTES sends it to the ``gpu`` queue
(one ``-Q gpu -P solo`` worker per GPU), and is ``acks_late`` with ``reject_on_worker_lost``: a
message whose worker dies is not lost, and the shard claim (``classifier.services.apply``) makes any
duplicate delivery a no-op. The worker imports this module through ``classifier.tasks``.
"""
from __future__ import annotations

from celery import shared_task

from classifier.services import apply as services_apply

_OPTS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(name="classifier.tasks.apply_shard", **_OPTS)
def apply_shard(shard_id: int) -> str:
    return services_apply.apply_shard_run(shard_id=shard_id)


@shared_task(name="classifier.tasks.apply_job_finalize", **_OPTS)
def apply_job_finalize(job_id: int) -> None:
    services_apply.apply_job_finalize(job_id=job_id)


@shared_task(name="classifier.tasks.apply_job_watch", **_OPTS)
def apply_job_watch(job_id: int, repeat: bool = True) -> None:
    if services_apply.apply_job_watch(job_id=job_id) and repeat:
        apply_job_watch.apply_async((job_id,), countdown=services_apply.stale_seconds())


@shared_task(name="classifier.tasks.apply_reap_stale", **_OPTS)
def apply_reap_stale_task() -> int:
    return services_apply.apply_reap_stale()


@shared_task(name="classifier.tasks.clean_testset_run", **_OPTS)
def clean_testset_run(clean_id: int) -> None:
    services_apply.clean_testset_run(clean_id=clean_id)


@shared_task(name="classifier.reshard_run", **_OPTS)
def reshard_run(reshard_id: int) -> None:
    # Enqueued with queue="default" (classifier.services.reshard): disk work that must not hold a GPU worker.
    from classifier.services.reshard import reshard_job_run

    reshard_job_run(reshard_id=reshard_id)
