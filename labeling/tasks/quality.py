"""Celery tasks: quality. Thin adapters: take ids, call a service."""
from __future__ import annotations

from celery import shared_task

from labeling.models import Campaign, LabelSnapshot, Split
from labeling.services.quality import labels_export_to_file


@shared_task(acks_late=True)
def export_labels_task(campaign_id: int, fmt: str, snapshot_id: int | None = None, split_id: int | None = None,
                       base_url: str = "") -> str:
    """Write an export file under ARTIFACTS_ROOT/exports/; returns its path. Safe to redeliver."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return "missing"
    snapshot = LabelSnapshot.objects.filter(pk=snapshot_id).first() if snapshot_id else None
    split = Split.objects.filter(pk=split_id).first() if split_id else None
    return str(labels_export_to_file(campaign=campaign, fmt=fmt, snapshot=snapshot, split=split, base_url=base_url))
