"""Selectors (reads) for neighbour work: indexes, dedup runs, contamination reports and matches.

Shared among researchers and admins, like classifier runs; nobody else sees them (404).
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from classifier.models.neighbours import ContaminationMatch, ContaminationReport, DedupRun, VectorIndex
from domainsieve.auth import RESEARCHER, has_role


def vector_indexes_for_user(*, user: Any) -> QuerySet[VectorIndex]:
    if not has_role(user, RESEARCHER):
        return VectorIndex.objects.none()
    return VectorIndex.objects.prefetch_related("embedding_sets__dataset")


def get_vector_index_for_user(*, user: Any, index_id: int) -> VectorIndex:
    try:
        return vector_indexes_for_user(user=user).get(pk=index_id)
    except VectorIndex.DoesNotExist as exc:
        raise Http404("no such index") from exc


def dedup_runs_for_user(*, user: Any) -> QuerySet[DedupRun]:
    if not has_role(user, RESEARCHER):
        return DedupRun.objects.none()
    return DedupRun.objects.select_related("index")


def get_dedup_run_for_user(*, user: Any, run_id: int) -> DedupRun:
    try:
        return dedup_runs_for_user(user=user).get(pk=run_id)
    except DedupRun.DoesNotExist as exc:
        raise Http404("no such dedup run") from exc


def contamination_reports_for_user(*, user: Any) -> QuerySet[ContaminationReport]:
    if not has_role(user, RESEARCHER):
        return ContaminationReport.objects.none()
    return ContaminationReport.objects.select_related("index").prefetch_related("testsets")


def get_contamination_report_for_user(*, user: Any, report_id: int) -> ContaminationReport:
    try:
        return contamination_reports_for_user(user=user).get(pk=report_id)
    except ContaminationReport.DoesNotExist as exc:
        raise Http404("no such contamination report") from exc


def contamination_matches(*, report: ContaminationReport, dataset_id: int | None = None) -> QuerySet[ContaminationMatch]:
    """Matches of a report, best similarity first, optionally of one test set."""
    matches = report.matches.select_related("test_image", "pool_image", "pool_image__dataset")
    if dataset_id is not None:
        matches = matches.filter(test_image__dataset_id=dataset_id)
    return matches
