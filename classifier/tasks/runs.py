"""Celery adapters for embedding sets, classifier runs and active learning (named
``classifier.tasks.*``, so queue ``gpu``): take ids, call a service.

CUDA is chosen inside the task, never at import, so the parent worker process stays CUDA-free.
"""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from classifier.services import claims as services_claims
from classifier.services import runs as services


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _num_workers() -> int:
    return int(settings.EMBED_WORKERS)


@shared_task(name="classifier.tasks.embed_task", acks_late=True)
def embed_task(embedding_set_id: int) -> None:
    device = _device()
    services.embedding_set_compute(embedding_set_id=embedding_set_id, device=device,
                                   precision="amp" if device == "cuda" else "fp32", num_workers=_num_workers())


@shared_task(name="classifier.tasks.train_task", acks_late=True, reject_on_worker_lost=True)
def train_task(run_id: int) -> None:
    # Safe to deliver twice: only the worker that claims the run fits it (classifier.services.claims).
    device = _device()
    services.classifier_run_execute(run_id=run_id, device=device, precision="amp" if device == "cuda" else "fp32",
                                    num_workers=_num_workers())


@shared_task(name="classifier.tasks.classifier_runs_reap_stale", acks_late=True, ignore_result=True)
def classifier_runs_reap_stale_task() -> dict[str, list[int]]:
    """Beat, every minute: fits whose worker died are queued again or failed with the reason."""
    return services_claims.classifier_runs_reap_stale()


@shared_task(name="classifier.tasks.campaign_predictions_task", acks_late=True)
def campaign_predictions_task(campaign_id: int, run_id: int, only_if_newer: bool = False) -> int:
    """Active learning: store a finished run's predictions on a campaign's items."""
    device = _device()
    return services.campaign_predictions_update(campaign_id=campaign_id, run_id=run_id, device=device,
                                                precision="amp" if device == "cuda" else "fp32",
                                                only_if_newer=only_if_newer)
