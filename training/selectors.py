"""Reads of the training app. Runs and results are shared by the lab: any researcher sees all."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from domainsieve.auth import RESEARCHER, has_role

from .models import EvalResult, TrainingRun


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
