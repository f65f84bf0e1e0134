"""Label quality: per-campaign quality settings, adjudications, frozen label snapshots and splits.

Snapshots and splits are immutable once written: classifier runs train on them, and a run is
only reproducible if what it trained on can never change. Their rows refuse updates and
deletes (``ImmutableError``); images and campaigns they reference are PROTECTed.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from .campaigns import Campaign, CampaignItem
from .datasets import Image


class ImmutableError(RuntimeError):
    """Raised on an attempt to change or delete a frozen snapshot or split."""


class _Frozen(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError(f"{type(self).__name__} rows are frozen; create a new one instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableError(f"{type(self).__name__} rows are frozen and cannot be deleted")


class CampaignQuality(models.Model):
    """Quality knobs of one campaign (created with defaults on first use)."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="quality")
    # The switch: any item somebody labelled "ambiguous" goes to the disagreement queue.
    queue_ambiguous = models.BooleanField(default=True)
    gold_min_accuracy = models.FloatField(default=0.8, help_text="annotators below this gold accuracy are flagged")
    gold_min_answers = models.PositiveIntegerField(default=5, help_text="gold answers needed before flagging")
    # Annotators whose estimated accuracy (Dawid-Skene, or gold) falls below this may be paused by an admin.
    accuracy_floor = models.FloatField(default=0.6, help_text="estimated accuracy below which an admin may pause")

    def __str__(self) -> str:
        return f"quality settings of campaign {self.campaign_id}"


class Adjudication(models.Model):
    """An admin's final label for an item, with the reason. Append-only: the latest row of an
    item is its adjudicated label; earlier rows are its history."""

    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="adjudications")
    label = models.CharField(max_length=32)
    reason = models.TextField()
    made_gold = models.BooleanField(default=False, help_text="the decision also made the item a gold item")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["item", "-id"])]

    def __str__(self) -> str:
        return f"item {self.item_id} adjudicated {self.label}"


class LabelSnapshot(_Frozen):
    """A campaign's final labels, frozen under a name. Items without a final label are left out."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="snapshots")
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    rule = models.CharField(max_length=40)
    class_names = models.JSONField(help_text="label names in index order")
    counts = models.JSONField(help_text="{label name: images}")
    n_labelled = models.PositiveIntegerField()
    n_unlabelled = models.PositiveIntegerField(help_text="campaign items left out: no final label")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class SnapshotLabel(_Frozen):
    snapshot = models.ForeignKey(LabelSnapshot, on_delete=models.PROTECT, related_name="labels")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=32)
    label_index = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=16,
                              help_text="adjudicated | gold | unanimous | majority | dawid-skene | crowdlab")
    label_count = models.PositiveSmallIntegerField()
    agreement = models.FloatField(null=True, help_text="share of annotators' labels equal to the final label")
    quality = models.FloatField(null=True, help_text="consensus quality in [0, 1] (annotator-aware rules only)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "image"], name="snapshot_label_unique_image")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"image {self.image_id}: {self.label}"


class Split(_Frozen):
    """One frozen version of a named split of a snapshot. Versions of a name count up from 1."""

    class Preset(models.TextChoices):
        PAPER = "paper", "paper (train 13,000; val/test 1,000 per class)"
        RATIO = "ratio", "ratios"

    snapshot = models.ForeignKey(LabelSnapshot, on_delete=models.PROTECT, related_name="splits")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    preset = models.CharField(max_length=16, choices=Preset.choices)
    seed = models.BigIntegerField()
    params = models.JSONField(default=dict)
    counts = models.JSONField(help_text="{subset: {label name: images}}")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="split_unique_name_version")]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class SplitAssignment(_Frozen):
    class Subset(models.TextChoices):
        TRAIN = "train"
        VAL = "val"
        TEST = "test"
        UNUSED = "unused"

    split = models.ForeignKey(Split, on_delete=models.PROTECT, related_name="assignments")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="+")
    subset = models.CharField(max_length=8, choices=Subset.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["split", "image"], name="split_assignment_unique_image")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"image {self.image_id}: {self.subset}"
