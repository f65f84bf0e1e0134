"""Selectors (reads) of apply jobs and test-set cleanings: lab-wide, for researchers and admins.

Progress figures come from the shard rows; a list of jobs sums them in its one query.
"""
from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from classifier.models import ApplyJob, ApplyShard, CleanTestset
from domainsieve.auth import RESEARCHER, has_role
from domainsieve.jobs import JobStatus


def _shard_totals(path: str = "") -> dict[str, Any]:
    """What progress sums over a job's shards: rows, skipped, and a count per status. ``path``
    ("shards__") states them from the job's side, as annotations."""
    return {"rows": Sum(f"{path}rows"), "skipped": Sum(f"{path}skipped"),
            **{s.value: Count(f"{path}id", filter=Q(**{f"{path}status": s.value})) for s in ApplyShard.STATES}}


def apply_jobs_with_progress(jobs: QuerySet[ApplyJob]) -> QuerySet[ApplyJob]:
    """``jobs`` with the shard totals ``apply_job_progress`` reads, summed in the same query (one
    GROUP BY over their shards), so a list of jobs costs one query, not one more per job. For lists
    only: the totals are those of the moment the query ran."""
    ordering = jobs.query.order_by or ApplyJob._meta.ordering  # a GROUP BY query drops Meta.ordering
    return jobs.annotate(**{f"shard_{name}": total for name, total in _shard_totals("shards__").items()}
                         ).order_by(*ordering)


def apply_job_progress(*, job: ApplyJob) -> dict[str, Any]:
    """Shards per status (ApplyShard.STATES), rows, samples/s since start and an ETA from the mean
    shard pace. Cost: one aggregate, none for a job from ``apply_jobs_with_progress``."""
    if hasattr(job, "shard_rows"):
        agg = {name: getattr(job, f"shard_{name}") for name in _shard_totals()}
    else:
        agg = job.shards.aggregate(**_shard_totals())
    counts = {s.value: int(agg[s.value]) for s in ApplyShard.STATES}
    end = job.finished_at or timezone.now()
    elapsed = max((end - job.started_at).total_seconds(), 1e-6) if job.started_at else 0.0
    rows = int(agg["rows"] or 0)
    rate = rows / elapsed if elapsed else 0.0
    finished = counts[JobStatus.SUCCEEDED] + counts[JobStatus.FAILED]
    remaining = job.shards_total - finished
    eta = elapsed / finished * remaining if finished and remaining and not job.is_finished else None
    return {"status": job.status, "shards_total": job.shards_total, "shards": counts, "rows": rows,
            "skipped": int(agg["skipped"] or 0), "samples_per_s": round(rate, 2), "elapsed_s": round(elapsed, 1),
            "eta_s": round(eta, 1) if eta is not None else None,
            "percent": round(100.0 * finished / job.shards_total, 1) if job.shards_total else 100.0}


def apply_jobs_for_user(*, user: Any) -> QuerySet[ApplyJob]:
    """Apply jobs are lab-wide: every job for researchers and admins, none for anyone else (the API
    and pages check the role first; this holds if one forgets)."""
    if not has_role(user, RESEARCHER):
        return ApplyJob.objects.none()
    return ApplyJob.objects.select_related("created_by")


def get_apply_job_for_user(*, user: Any, job_id: int) -> ApplyJob:
    """The job, or Http404 when it does not exist or the user may not see it."""
    return get_object_or_404(apply_jobs_for_user(user=user), pk=job_id)


def cleans_for_user(*, user: Any) -> QuerySet[CleanTestset]:
    """Test-set cleanings, lab-wide like apply jobs: all for researchers and admins, none for others."""
    if not has_role(user, RESEARCHER):
        return CleanTestset.objects.none()
    return CleanTestset.objects.select_related("source", "result")


def get_clean_for_user(*, user: Any, clean_id: int) -> CleanTestset:
    """The cleaning, or Http404 when it does not exist or the user may not see it."""
    return get_object_or_404(cleans_for_user(user=user), pk=clean_id)
