"""Embedding sets and classifier runs (their status vocabulary is domainsieve.jobs.JobStatus).

Arrays live under ``settings.ARTIFACTS_ROOT``; rows hold metadata, relative paths and JSON
summaries (metrics, thresholds), never big arrays.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from domainsieve.jobs import JobFields
from labeling.models import Dataset


class EmbeddingSet(JobFields):
    """Features of every image of one dataset under one extractor (``classifier.ml.embed`` layout)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="embedding_sets")
    extractor = models.CharField(max_length=500, help_text="extractor string, e.g. timm:efficientnet_lite0/pypi")
    path = models.CharField(max_length=500, help_text="directory under ARTIFACTS_ROOT")
    dim = models.PositiveIntegerField(default=0)
    count = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0, help_text="images that did not decode (zero rows)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "extractor"], name="embedding_set_unique")]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.dataset_id} @ {self.extractor}: {self.status}"

    @property
    def progress(self) -> float:
        return self.done / self.count if self.count else 0.0


class ClassifierRun(JobFields):
    """One fitted domain classifier: what it trained on, how, and how well it did."""

    class LabelsSource(models.TextChoices):
        INTENDED_DOMAIN = "intended_domain", "images' intended domain, seeded stratified split"
        SPLIT = "split", "a frozen label snapshot split"

    name = models.CharField(max_length=200, blank=True, default="")
    labels_source = models.CharField(max_length=32, choices=LabelsSource.choices)
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="classifier_runs",
                                      help_text="datasets whose intended domain labels the run (intended_domain)")
    split = models.ForeignKey("labeling.Split", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="classifier_runs")
    extractor = models.CharField(max_length=500)
    method = models.CharField(max_length=40)
    classes = models.JSONField(default=list, help_text="class names in score-column order")
    hyperparameters = models.JSONField(default=dict, blank=True)
    target_precision = models.FloatField(default=0.98)
    metrics = models.JSONField(default=dict, blank=True)
    thresholds = models.JSONField(default=dict, blank=True, help_text="{class: score threshold at target precision}")
    artifacts = models.JSONField(default=dict, blank=True, help_text="{name: path under ARTIFACTS_ROOT}")
    progress = models.FloatField(default=0.0)
    duration_s = models.FloatField(null=True, blank=True)
    # Exactly one worker fits a run: it claims the row with a fresh token
    # (classifier.services.claims.classifier_run_claim) and heartbeats while it fits; a stale
    # heartbeat means its worker died.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="", help_text="host:pid of the fitting worker")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="fits started (a dead worker's fit counts)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"run {self.id} {self.method} @ {self.extractor}: {self.status}"
