"""Fixed training subsets drawn from an apply job's output (the page beside ``make_subset``)."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from domainsieve.jobs import JobFields

__all__ = ["SubsetJob"]


class SubsetJob(JobFields):
    """A seeded random subset of ``n`` uids of an apply job's pool (or one of its domain lists),
    minus an exclusion list, written as a DataComp uid list and resharded under ARTIFACTS_ROOT."""

    name = models.CharField(max_length=100, unique=True)
    apply_job = models.ForeignKey("classifier.ApplyJob", on_delete=models.PROTECT, related_name="subset_jobs")
    subset = models.CharField(max_length=32, default="all", help_text="all, or one of the job's domain uid lists")
    n = models.PositiveBigIntegerField()
    seed = models.IntegerField(default=0)
    exclude_path = models.CharField(max_length=500, blank=True, default="")
    reshard = models.BooleanField(default=True)
    shard_size = models.PositiveIntegerField(default=10_000)
    # {"pool": int, "drawn": int, "uid_list": path, "resharded": int, "shards": int, "pattern": str}
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="subset_jobs")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"subset {self.name}: {self.n} of apply job {self.apply_job_id} ({self.status})"
