"""Celery adapters for neighbour work: take ids, call a service.

Named ``classifier.tasks.*`` so CELERY_TASK_ROUTES sends them to the ``gpu`` queue (FAISS uses a
GPU where the worker has one). ``acks_late`` with ``reject_on_worker_lost``: a build whose worker
dies is delivered again and resumes from its finished shard files; dedup and contamination
reruns replace their outputs. FAISS threads: ``NEIGHBOURS_THREADS`` (default: all cores).
"""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from classifier.services import neighbours as services_neighbours

_OPTS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


def _threads() -> None:
    threads = int(settings.NEIGHBOURS_THREADS)
    if threads > 0:
        import faiss

        faiss.omp_set_num_threads(threads)


@shared_task(name="classifier.tasks.vector_index_build", **_OPTS)
def vector_index_build_task(index_id: int) -> None:
    _threads()
    services_neighbours.vector_index_build(index_id=index_id)


@shared_task(name="classifier.tasks.dedup_run", **_OPTS)
def dedup_run_task(run_id: int) -> None:
    _threads()
    services_neighbours.dedup_run_execute(run_id=run_id)


@shared_task(name="classifier.tasks.contamination_report", **_OPTS)
def contamination_report_task(report_id: int) -> None:
    _threads()
    services_neighbours.contamination_report_execute(report_id=report_id)
