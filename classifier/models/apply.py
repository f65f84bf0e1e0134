"""Apply jobs (classifiers over webdataset shards), their shards, and test-set cleaning jobs.

An ApplyJob keeps a snapshot of what it applies (extractor string, head artifact paths,
thresholds) so a job stays reproducible when classifier runs are retrained or deleted.
Progress and completion live in ApplyShard rows: one per input shard (or embedding chunk).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from domainsieve.jobs import CountedJobFields, JobFields, JobStatus

__all__ = ["ApplyJob", "ApplyShard", "CleanTestset", "ReshardJob"]


class ApplyJob(JobFields):
    """Starts running (its shards queued), goes finalizing once no shard is queued or running, and
    ends succeeded, cancelled, or failed when some shards failed (the summary covers the
    succeeded ones and says so)."""

    class Source(models.TextChoices):
        SHARDS = "shards", "webdataset shards"
        EMBEDDINGS = "embeddings", "stored embeddings"

    class Level(models.TextChoices):
        STRICT = "strict", "strict (98% precision)"
        DEFAULT = "default", "default"

    name = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SHARDS)
    pattern = models.TextField(blank=True, default="", help_text="brace pattern or glob of .tar shards")
    embedding_dir = models.CharField(max_length=500, blank=True, default="")
    embedding_set_id = models.BigIntegerField(null=True, blank=True)
    natural_run_id = models.BigIntegerField(null=True, blank=True)
    rendition_run_id = models.BigIntegerField(null=True, blank=True)
    extractor = models.CharField(max_length=300)
    natural_head_path = models.CharField(max_length=500)
    rendition_head_path = models.CharField(max_length=500)
    # {"strict": {"natural": t, "rendition": t}, "default": {...}}
    thresholds = models.JSONField(default=dict)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.STRICT,
                             help_text="which thresholds the parquet 'domain' column uses")
    batch_size = models.PositiveIntegerField(default=256)
    device = models.CharField(max_length=32, default="auto")
    out_dir = models.CharField(max_length=500, blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    shards_total = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="apply_jobs")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"apply job {self.id} ({self.name}): {self.status}"


class ApplyShard(models.Model):
    # Not a job of its own: queued -> running -> succeeded or failed (back to queued on resume).
    STATES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED)

    job = models.ForeignKey(ApplyJob, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    path = models.CharField(max_length=500, help_text="input tar, or embedding chunk name")
    out_path = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=[(s.value, s.label) for s in STATES], default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0)
    skipped = models.PositiveBigIntegerField(default=0)
    skipped_keys = models.JSONField(default=list, blank=True)
    uid_sources = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")
    # A fresh token per claim: only the claim holder may complete the shard, so a worker presumed
    # dead that wakes up late cannot count its shard twice.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0.0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["job_id", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="applyshard_unique_index")]
        indexes = [models.Index(fields=["job", "status"])]

    def __str__(self) -> str:
        return f"shard {self.index} of job {self.job_id}: {self.status}"


class CleanTestset(JobFields):
    source = models.ForeignKey("labeling.Dataset", on_delete=models.CASCADE, related_name="clean_jobs")
    result = models.ForeignKey("labeling.Dataset", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="cleaned_from")
    result_name = models.CharField(max_length=200)
    natural_run_id = models.BigIntegerField(null=True, blank=True)
    rendition_run_id = models.BigIntegerField(null=True, blank=True)
    extractor = models.CharField(max_length=300)
    natural_head_path = models.CharField(max_length=500)
    rendition_head_path = models.CharField(max_length=500)
    thresholds = models.JSONField(default=dict)  # the strict thresholds used: {"natural": t, "rendition": t}
    # classifier.apply.clean.CLEAN_RULES: own_classifier (the paper's) or two_head.
    rule = models.CharField(max_length=16, choices=[("own_classifier", "the set's own classifier (paper)"),
                                                    ("two_head", "own classifier fires, the other does not")],
                            default="own_classifier")
    # Table 12 row plus masked classes and per-class kept counts.
    counts = models.JSONField(default=dict, blank=True)
    scores_path = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="clean_jobs")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"clean {self.source_id} -> {self.result_name}: {self.status}"


class ReshardJob(CountedJobFields):
    """Webdataset shards of one subset of a finished apply job (its sorted uid list), written by a
    ``default`` worker so the Training form can pick them. Progress: ``done`` of ``total`` source
    shards read."""

    apply_job = models.ForeignKey(ApplyJob, on_delete=models.CASCADE, related_name="reshards")
    subset = models.CharField(max_length=32, help_text="natural_strict, rendition_default, ...")
    shard_size = models.PositiveIntegerField(default=10_000)
    out_dir = models.CharField(max_length=500)
    samples = models.PositiveBigIntegerField(default=0)
    shards = models.PositiveIntegerField(default=0, help_text="shards written")
    pattern = models.TextField(blank=True, default="", help_text="brace pattern of the written shards")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["apply_job", "subset"], name="reshardjob_unique_subset")]

    def __str__(self) -> str:
        return f"reshard {self.subset} of apply job {self.apply_job_id}: {self.status}"
