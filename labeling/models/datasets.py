"""Datasets, images and import jobs."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from domainsieve.jobs import CountedJobFields
from labeling.domains import DOMAIN_CHOICES


class Dataset(models.Model):
    class Kind(models.TextChoices):
        POOL = "pool", "image pool"
        TESTSET = "testset", "test set"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.POOL)
    # The domain a test set claims to be (e.g. ImageNet-Sketch: rendition); cleaning checks it.
    expected_domain = models.CharField(max_length=16, choices=DOMAIN_CHOICES, blank=True, default="")
    description = models.TextField(blank=True, default="")
    # The label space zero-shot evaluation prompts with: {"set": name, "classes": [[key, name], ...]}
    # in class-index order (labeling.classnames); empty when images carry readable names already.
    class_names = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Image(models.Model):
    """One image of a dataset. Its bytes live content-addressed under MEDIA_ROOT.

    The same bytes in two datasets are two rows sharing one file; within a dataset sha256 is
    unique. ``uid`` is the caller-visible stable id (the shard json's uid, a manifest's uid, or a
    hash of the source), ``key`` the webdataset sample key where there is one.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    sha256 = models.CharField(max_length=64)
    file = models.CharField(max_length=200, help_text="path under MEDIA_ROOT")
    thumb = models.CharField(max_length=200, help_text="path under MEDIA_ROOT")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=16)
    size_bytes = models.PositiveBigIntegerField()
    uid = models.CharField(max_length=64, blank=True, default="")
    key = models.CharField(max_length=200, blank=True, default="")
    source = models.TextField(help_text="where it came from: a path, a url or tar:member")
    caption = models.TextField(blank=True, default="")
    class_name = models.CharField(max_length=200, blank=True, default="")
    # The domain the source says the image has (DomainNet domain, a demo recipe); not a label.
    intended_domain = models.CharField(max_length=16, choices=DOMAIN_CHOICES, blank=True, default="")
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "sha256"], name="image_unique_sha_per_dataset")]
        indexes = [
            models.Index(fields=["sha256"]),
            models.Index(fields=["dataset", "uid"]),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.uid or self.sha256[:12]}"


class ImportJob(CountedJobFields):
    """Progress: ``done`` of ``total`` listed items (imported, duplicate or rejected)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    source = models.TextField()
    format = models.CharField(max_length=32, default="auto")
    options = models.JSONField(default=dict, blank=True)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    cross_dataset_duplicates = models.PositiveIntegerField(default=0)
    rejects_path = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"import {self.id} into {self.dataset_id}: {self.status}"

    def summary(self) -> str:
        return (f"imported {self.imported}, duplicate {self.duplicates}, rejected {self.rejected}"
                f" (cross-dataset duplicates {self.cross_dataset_duplicates})")
