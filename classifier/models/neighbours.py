"""Nearest-neighbour indexes over embeddings, near-duplicate removal runs and contamination reports.

Every job here is a ``domainsieve.jobs.CountedJobFields``: the shared status vocabulary, timestamps
and ``done``/``total`` progress. Index files, uid lists and row tables live under ``ARTIFACTS_ROOT``
(``neighbours/index_<id>/``, ``neighbours/dedup_<id>/``, ``neighbours/contamination_<id>/``).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from classifier.models.runs import EmbeddingSet
from domainsieve.jobs import CountedJobFields

__all__ = ["ContaminationMatch", "ContaminationReport", "DedupRun", "VectorIndex"]


class _Job(CountedJobFields):
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        abstract = True
        ordering = ["-id"]


class VectorIndex(_Job):
    """A FAISS index over the embeddings of embedding sets (one extractor), built on the gpu queue."""

    class Source(models.TextChoices):
        EMBEDDING_SETS = "embedding_sets", "embedding sets"
        APPLY_JOB = "apply_job", "an apply job's embeddings"

    name = models.CharField(max_length=200)
    extractor = models.CharField(max_length=500)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.EMBEDDING_SETS)
    embedding_sets = models.ManyToManyField(EmbeddingSet, blank=True, related_name="vector_indexes")
    apply_job = models.ForeignKey("classifier.ApplyJob", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="vector_indexes")
    path = models.CharField(max_length=500, blank=True, default="", help_text="directory under ARTIFACTS_ROOT")
    factory = models.CharField(max_length=100, blank=True, default="", help_text="FAISS index; blank: by size")
    parameters = models.JSONField(default=dict, blank=True, help_text="the plan: nlist, nprobe, train size, shards")
    rows = models.PositiveBigIntegerField(default=0, help_text="embedding rows")
    size = models.PositiveBigIntegerField(default=0, help_text="vectors in the index (rows with an embedding)")
    index_bytes = models.PositiveBigIntegerField(default=0)
    peak_memory_bytes = models.PositiveBigIntegerField(default=0, help_text="the building process's peak RSS")
    build_seconds = models.FloatField(null=True, blank=True)

    class Meta(_Job.Meta):
        verbose_name_plural = "vector indexes"

    def __str__(self) -> str:
        return f"index {self.id} {self.name} ({self.extractor}): {self.status}"


class DedupRun(_Job):
    """Near-duplicate clusters of an index's rows at one or more cosine thresholds."""

    index = models.ForeignKey(VectorIndex, on_delete=models.CASCADE, related_name="dedup_runs")
    thresholds = models.JSONField(default=list)
    k = models.PositiveSmallIntegerField(default=16)
    rule = models.CharField(max_length=200, default="most pixels, then lowest uid")
    counts = models.JSONField(default=list, blank=True, help_text="per threshold: total, clusters, removed, kept")
    out_dir = models.CharField(max_length=500, blank=True, default="")

    def __str__(self) -> str:
        return f"dedup {self.id} of index {self.index_id}: {self.status}"


class ContaminationReport(_Job):
    """For each image of the test sets, its pool neighbours (in ``index``) at cosine >= threshold."""

    index = models.ForeignKey(VectorIndex, on_delete=models.CASCADE, related_name="contamination_reports")
    testsets = models.ManyToManyField("labeling.Dataset", related_name="contamination_reports")
    threshold = models.FloatField()
    k = models.PositiveSmallIntegerField(default=5)
    summary = models.JSONField(default=list, blank=True, help_text="one entry per test set")
    exclusion_path = models.CharField(max_length=500, blank=True, default="",
                                      help_text="sorted uid list (.npy) of the pool images with a test twin")
    exclusion_count = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"contamination {self.id} (index {self.index_id}, t={self.threshold}): {self.status}"


class ContaminationMatch(models.Model):
    report = models.ForeignKey(ContaminationReport, on_delete=models.CASCADE, related_name="matches")
    test_image = models.ForeignKey("labeling.Image", on_delete=models.CASCADE, related_name="+")
    pool_image = models.ForeignKey("labeling.Image", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    pool_row = models.BigIntegerField()
    pool_uid = models.CharField(max_length=32, blank=True, default="")
    similarity = models.FloatField()
    rank = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["report_id", "-similarity", "test_image_id", "rank"]
        indexes = [models.Index(fields=["report", "test_image"])]

    def __str__(self) -> str:
        return f"test image {self.test_image_id} ~ pool row {self.pool_row} ({self.similarity:.3f})"
