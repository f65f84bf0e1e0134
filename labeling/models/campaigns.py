"""Labeling campaigns, their items, leases, annotations and the history of every change.

A Campaign covers images of one or more datasets; each covered image becomes one CampaignItem
that wants ``target_k`` labels. Annotators get items through short Leases and answer with one
Annotation per (item, annotator); every change of an annotation leaves an AnnotationHistory row.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from labeling.domains import DEFAULT_COLOURS, DEFAULT_HOTKEYS, DOMAINS
from labeling.guidelines import DEFAULT_GUIDELINES

from .datasets import Dataset, Image


def default_label_choices() -> list[dict[str, str]]:
    return [{"name": d, "key": DEFAULT_HOTKEYS[d], "colour": DEFAULT_COLOURS[d]} for d in DOMAINS]


def default_guidelines() -> str:
    return DEFAULT_GUIDELINES


class Campaign(models.Model):
    class Ordering(models.TextChoices):
        RANDOM = "random", "random"
        PREDICTED_GROUPS = "predicted_groups", "grouped by predicted class"
        UNCERTAINTY = "uncertainty", "most uncertain first"
        DISAGREEMENT = "disagreement", "most disputed first"

    class UncertaintyMeasure(models.TextChoices):
        # Both are stored so that HIGHER means MORE uncertain, in [0, 1]:
        # margin = 1 - (p_top1 - p_top2); entropy = -sum p log p / log(n_classes).
        MARGIN = "margin", "margin (1 - top1 + top2)"
        ENTROPY = "entropy", "entropy (normalised)"

    class PredictionSource(models.TextChoices):
        NONE = "none", "only runs picked by hand"
        LATEST_RUN = "latest_run", "the newest finished classifier over its datasets"

    class FinalLabelRule(models.TextChoices):
        # The final label of an item: the adjudicated one where there is one, else a unanimous
        # vote, else the majority; the stricter rules leave disputed items without a label.
        ADJUDICATED_UNANIMOUS_MAJORITY = "adjudicated>unanimous>majority", "adjudicated > unanimous > majority"
        ADJUDICATED_UNANIMOUS = "adjudicated>unanimous", "adjudicated > unanimous"
        ADJUDICATED_ONLY = "adjudicated", "adjudicated only"
        # Annotator-aware (labeling/agreement/consensus.py): adjudicated, else gold, else the consensus
        # label; they need items labelled by two or more annotators.
        DAWID_SKENE = "dawid-skene", "adjudicated > gold > Dawid-Skene consensus"
        CROWDLAB = "crowdlab", "adjudicated > gold > CROWDLAB (annotators + classifier)"

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"  # no new leases until reopened; labels on items already leased still save
        FINISHED = "finished"
        ARCHIVED = "archived"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    datasets = models.ManyToManyField(Dataset, related_name="campaigns")
    # [{"name": "natural", "key": "1", "colour": "#2e9e44"}, ...]; names are what labels store.
    label_choices = models.JSONField(default=default_label_choices)
    k = models.PositiveSmallIntegerField(default=1, help_text="labels wanted per item")
    agreement_fraction = models.FloatField(default=0.0, help_text="fraction of items that want agreement_k labels")
    agreement_k = models.PositiveSmallIntegerField(default=3)
    guidelines = models.TextField(blank=True, default=default_guidelines, help_text="markdown")
    ordering = models.CharField(max_length=20, choices=Ordering.choices, default=Ordering.RANDOM)
    show_suggestions = models.BooleanField(default=False)
    uncertainty_measure = models.CharField(max_length=16, choices=UncertaintyMeasure.choices,
                                           default=UncertaintyMeasure.MARGIN)
    # Active learning: with LATEST_RUN every newly finished run over an overlapping dataset refreshes
    # the items' predictions. prediction_run is the run whose predictions the items hold now (set when
    # a refresh finishes); a string reference, so that labeling never imports classifier at load time.
    prediction_source = models.CharField(max_length=16, choices=PredictionSource.choices,
                                         default=PredictionSource.NONE)
    prediction_run = models.ForeignKey("classifier.ClassifierRun", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    predictions_updated_at = models.DateTimeField(null=True, blank=True)
    gold_rate = models.FloatField(default=0.0, help_text="fraction of served items that are gold items")
    lease_minutes = models.PositiveIntegerField(default=10)
    final_label_rule = models.CharField(
        max_length=40, choices=FinalLabelRule.choices, default=FinalLabelRule.ADJUDICATED_UNANIMOUS_MAJORITY)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Who may label it: these users and the members of these groups. With neither set the campaign
    # is open to every annotator. Researchers and admins see every campaign whatever these say.
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="member_campaigns",
                                     help_text="annotators who may label it (none here and in groups: everyone)")
    member_groups = models.ManyToManyField("auth.Group", blank=True, related_name="member_campaigns",
                                           help_text="groups whose members may label it")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def label_names(self) -> list[str]:
        return [choice["name"] for choice in self.label_choices]


class CampaignItem(models.Model):
    """One image in one campaign. ``labels_count`` mirrors the number of its Annotations and is
    updated in the same transaction as they are, so leasing can compare it with ``target_k``
    without counting rows."""

    # No index of its own on campaign: the composite indexes below start with it (every index is
    # rewritten when labels_count changes, so each one costs on every label).
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items", db_index=False)
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="campaign_items")
    target_k = models.PositiveSmallIntegerField()
    is_gold = models.BooleanField(default=False)
    gold_label = models.CharField(max_length=32, blank=True, default="")
    # NULL (no prediction yet) sorts after every predicted class in grouped ordering.
    predicted_label = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    predicted_score = models.FloatField(null=True, blank=True)
    # In [0, 1], higher = more uncertain (the campaign's uncertainty_measure); NULL sorts last.
    uncertainty = models.FloatField(null=True, blank=True)
    sort_key = models.FloatField(default=0.0, help_text="random order, fixed at creation")
    labels_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "image"], name="campaign_item_unique_image")]
        indexes = [
            models.Index(fields=["campaign", "sort_key"]),
            # Leasing walks open items in random order and stops after a page: this index holds
            # only the items that still want labels, so done items cost nothing to skip.
            models.Index(fields=["campaign", "sort_key"], name="campaign_item_open_sort",
                         condition=models.Q(is_gold=False, labels_count__lt=models.F("target_k"))),
            models.Index(fields=["campaign", "is_gold", "labels_count"]),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"item {self.id} of campaign {self.campaign_id}"


class Lease(models.Model):
    """An item reserved for one annotator until ``expires_at``; an expired lease counts for nothing."""

    # Both foreign keys are served by the composite indexes below (leases are written on every page).
    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="leases", db_index=False)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases",
                                  db_index=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="lease_unique_item_annotator")]
        indexes = [models.Index(fields=["annotator", "expires_at"]), models.Index(fields=["item", "expires_at"])]

    def __str__(self) -> str:
        return f"lease of item {self.item_id} to {self.annotator_id}"


class Annotation(models.Model):
    # Served by the unique (item, annotator) and the (annotator, created_at) indexes.
    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="annotations", db_index=False)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations",
                                  db_index=False)
    label = models.CharField(max_length=32)
    seconds = models.FloatField(default=0.0, help_text="time the annotator spent on the item")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="annotation_unique_item_annotator")]
        indexes = [models.Index(fields=["annotator", "created_at"])]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.annotator_id} says {self.label} on item {self.item_id}"


class AnnotationHistory(models.Model):
    """One row per change of an annotation, the first label included (old_label empty)."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="history")
    old_label = models.CharField(max_length=32, blank=True, default="")
    new_label = models.CharField(max_length=32)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "annotation history"

    def __str__(self) -> str:
        return f"{self.old_label or '-'} -> {self.new_label}"
