"""Selectors (reads) of the classifier app. Runs and embedding sets are shared among researchers."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from classifier.models import ClassifierRun, EmbeddingSet
from domainsieve.auth import RESEARCHER, has_role


def classifier_runs_for_user(*, user: Any) -> QuerySet[ClassifierRun]:
    """Every run for researchers and admins; none for anyone else."""
    if not has_role(user, RESEARCHER):
        return ClassifierRun.objects.none()
    return ClassifierRun.objects.select_related("created_by", "split").prefetch_related("datasets")


def get_classifier_run_for_user(*, user: Any, run_id: int) -> ClassifierRun:
    """The run, or Http404 when it does not exist or the user may not see it."""
    try:
        return classifier_runs_for_user(user=user).get(pk=run_id)
    except ClassifierRun.DoesNotExist as exc:
        raise Http404("no such classifier run") from exc


def embedding_sets_for_user(*, user: Any) -> QuerySet[EmbeddingSet]:
    if not has_role(user, RESEARCHER):
        return EmbeddingSet.objects.none()
    return EmbeddingSet.objects.select_related("dataset")
