"""Reads of the training app. Runs and results are shared by the lab: any researcher sees all."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from domainsieve.auth import RESEARCHER, has_role
from domainsieve.jobs import JobStatus
from training.models import EvalResult, TrainGpu, TrainHost, TrainingRun


def training_run_get(*, user: Any, run_id: int) -> TrainingRun:
    """The run, for a researcher or admin; 404 for a missing run (a 403 comes from the caller's
    role check, which runs first)."""
    if not has_role(user, RESEARCHER):
        raise Http404("no such training run")
    try:
        return TrainingRun.objects.get(pk=run_id)
    except (TrainingRun.DoesNotExist, ValueError, TypeError):
        raise Http404("no such training run") from None


def training_run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("created_by").all()


def eval_result_list(*, run_ids: list[int] | None = None, test_set: str | None = None) -> QuerySet[EvalResult]:
    results = EvalResult.objects.select_related("training_run", "dataset")
    if run_ids:
        results = results.filter(training_run_id__in=run_ids)
    if test_set:
        results = results.filter(test_set=test_set)
    return results.order_by("training_run_id", "epoch", "test_set", "clean")


def training_queue_list() -> list[TrainingRun]:
    """Local runs waiting for GPUs, in the order placement serves them (priority, then first in)."""
    return list(TrainingRun.objects.filter(backend=TrainingRun.Backend.LOCAL, status=JobStatus.QUEUED,
                                           host="", cancel_requested=False)
                .select_related("created_by").order_by("-priority", "queued_at", "id"))


def training_queue_positions() -> dict[int, int]:
    """run id -> 1-based place in the GPU queue, for the runs waiting there."""
    return {run.id: position for position, run in enumerate(training_queue_list(), start=1)}


def train_host_list() -> list[TrainHost]:
    """Every registered host with its devices and their holders; ``host.stale`` is True for an up
    host whose heartbeat is older than TRAIN_HOST_LOST_SECONDS (no new runs; lost at the next sweep);
    ``host.free`` counts the devices placement may hand out now (none on a lost or silent host)."""
    gpus = TrainGpu.objects.select_related("run").order_by("index")
    hosts = list(TrainHost.objects.prefetch_related(Prefetch("gpus", queryset=gpus)).order_by("name"))
    cutoff = timezone.now() - timedelta(seconds=float(settings.TRAIN_HOST_LOST_SECONDS))
    for host in hosts:
        host.stale = host.status == TrainHost.Status.UP and host.last_heartbeat < cutoff
        usable = host.status == TrainHost.Status.UP and not host.stale
        host.free = sum(1 for gpu in host.gpus.all() if gpu.run_id is None) if usable else 0
    return hosts
