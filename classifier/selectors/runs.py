"""Selectors (reads) of the classifier app. Runs and embedding sets are shared among researchers."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from classifier.models import ClassifierRun, EmbeddingSet
from domainsieve.auth import RESEARCHER, has_role
from domainsieve.jobs import JobStatus


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


HEADS = ("natural", "rendition")


def head_unusable_reason(*, run: ClassifierRun, head: str) -> str:
    """Why ``run`` cannot serve as the ``head`` classifier of an apply job or a cleaning ("" when it
    can): the same rules ``head_spec_from_runs`` enforces, said for a form."""
    if run.status != "succeeded":
        return f"is {run.status}, not finished"
    if head not in (run.classes or []):
        trained = ", ".join(run.classes or []) or "no class"
        return f"has no {head} class (trained on {trained})"
    if (run.thresholds or {}).get(head) is None:
        return f"reached no {head} threshold at {run.target_precision:.0%} validation precision"
    return ""


def classifier_heads_for_user(*, user: Any, limit: int = 200) -> dict[str, dict[str, list[Any]]]:
    """For each head, the recent runs that can serve it (``usable``) and, for the others, a line
    saying why not (``missing``), so a form offers only runs that work and explains the rest."""
    runs = list(classifier_runs_for_user(user=user).order_by("-id")[:limit])
    out: dict[str, dict[str, list[Any]]] = {}
    for head in HEADS:
        usable, missing = [], []
        for run in runs:
            reason = head_unusable_reason(run=run, head=head)
            if reason:
                missing.append(f"run {run.id} {run.name} ({run.method}) {reason}".replace("  ", " "))
            else:
                usable.append(run)
        out[head] = {"usable": usable, "missing": missing}
    return out


def finished_runs(*, limit: int = 50) -> list[ClassifierRun]:
    """The newest finished runs first: the runs a campaign may take its predictions from."""
    return list(ClassifierRun.objects.filter(status=JobStatus.SUCCEEDED).order_by("-finished_at", "-id")[:limit])
