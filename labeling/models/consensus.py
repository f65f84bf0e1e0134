"""Consensus follow-ups: annotators paused on a campaign, and relabel campaigns made from likely label errors."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from .campaigns import Campaign


class AnnotatorPause(models.Model):
    """An annotator who gets no new leases in one campaign: paused by an admin (estimated accuracy
    under the campaign's floor), or excluded from a relabel campaign because they labelled its
    items before. Lifting a pause deletes the row."""

    class Kind(models.TextChoices):
        PAUSED = "paused"
        EXCLUDED = "excluded"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="annotator_pauses")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "annotator"], name="annotator_pause_unique")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.annotator_id} {self.kind} in campaign {self.campaign_id}"


class RelabelRequest(models.Model):
    """A campaign of likely label errors of another campaign, for fresh annotators.

    ``items`` keeps what the source said when the request was made: [{"item", "image", "label",
    "issue_score"}], so the history can show what the fresh labels changed."""

    source = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="relabel_requests")
    target = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="relabel_of")
    k = models.PositiveSmallIntegerField()
    items = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"relabel of campaign {self.source_id} as {self.target_id}"
