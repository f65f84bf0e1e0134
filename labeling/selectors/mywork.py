"""Reads for an annotator's own work: their labels (filtered), their progress and gold accuracy.
Every function takes the user and returns only that user's rows: never other people's labels."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from domainsieve.ids import parse_id
from labeling.models import Annotation, Campaign
from labeling.selectors.campaigns import annotator_rates_per_hour, campaigns_for_user


class MyLabelsFilterError(ValueError):
    """A filter value that is not a campaign, a label or a day."""


def my_labels_filters(*, user: Any, params: Any) -> dict[str, Any]:
    """Validate ``campaign`` (id of a campaign the user may see), ``label`` (a name) and ``day``
    (YYYY-MM-DD, in the server's time zone) from query parameters; empty ones are left out."""
    filters: dict[str, Any] = {}
    raw_campaign = (params.get("campaign") or "").strip()
    if raw_campaign:
        campaign_id = parse_id(raw_campaign)
        if campaign_id is None or not (
                campaigns_for_user(user=user).filter(pk=campaign_id).exists()
                or Annotation.objects.filter(annotator=user, item__campaign_id=campaign_id).exists()):
            raise MyLabelsFilterError(f"no campaign {raw_campaign[:40]!r} of yours")
        filters["campaign"] = campaign_id
    label = (params.get("label") or "").strip()
    if label:
        if len(label) > 32 or not label.replace("_", "").replace("-", "").isalnum():
            raise MyLabelsFilterError(f"{label[:40]!r} is not a label name")
        filters["label"] = label
    raw_day = (params.get("day") or "").strip()
    if raw_day:
        try:
            filters["day"] = date.fromisoformat(raw_day)
        except ValueError:
            raise MyLabelsFilterError(f"day must be YYYY-MM-DD, not {raw_day[:40]!r}") from None
    return filters


def my_labels(*, user: Any, campaign: int | None = None, label: str | None = None,
              day: date | None = None) -> QuerySet[Annotation]:
    """The user's own annotations, oldest first (a stable order, so a page of them reopens the
    same after a reload), with the campaign and image ids the pages need."""
    queryset = (Annotation.objects.filter(annotator=user)
                .select_related("item", "item__campaign").order_by("created_at", "id"))
    if campaign is not None:
        queryset = queryset.filter(item__campaign_id=campaign)
    if label:
        queryset = queryset.filter(label=label)
    if day is not None:
        start = timezone.make_aware(datetime.combine(day, time.min))
        queryset = queryset.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    return queryset


def my_label_row(annotation: Annotation) -> dict[str, Any]:
    image = annotation.item.image_id
    return {
        "item": annotation.item_id, "image": image, "thumb": f"/api/v1/images/{image}/thumb/",
        "file": f"/api/v1/images/{image}/file/", "campaign": annotation.item.campaign_id,
        "campaign_name": annotation.item.campaign.name, "label": annotation.label,
        "seconds": round(annotation.seconds, 2), "created_at": annotation.created_at.isoformat(),
        "updated_at": annotation.updated_at.isoformat(),
    }


def my_progress(*, user: Any, days: int = 14, campaign_id: int | None = None) -> dict[str, Any]:
    """Per campaign the user labeled in (or only ``campaign_id``): labels, seconds per label, pace
    over the last hour and gold accuracy where the campaign has gold items the user labeled;
    labels per day overall."""
    mine = Annotation.objects.filter(annotator=user)
    if campaign_id is not None:
        mine = mine.filter(item__campaign_id=campaign_id)
    rows = list(mine.values("item__campaign_id", "item__campaign__name")
                .annotate(labels=Count("id"), seconds=Sum("seconds"),
                          gold=Count("id", filter=Q(item__is_gold=True)),
                          gold_correct=Count("id", filter=Q(item__is_gold=True, label=F("item__gold_label")))))
    campaigns = {c.id: c for c in Campaign.objects.only("id", "status").filter(
        pk__in=[r["item__campaign_id"] for r in rows])}
    rates = annotator_rates_per_hour(campaign_ids=list(campaigns), annotator=user)
    per_campaign = []
    for row in sorted(rows, key=lambda r: -r["item__campaign_id"]):
        campaign = campaigns[row["item__campaign_id"]]
        per_campaign.append({
            "campaign": campaign.id, "name": row["item__campaign__name"], "status": campaign.status,
            "labels": row["labels"],
            "seconds_per_label": round((row["seconds"] or 0) / row["labels"], 2) if row["labels"] else None,
            "rate_per_hour": rates[campaign.id],
            "gold_labeled": row["gold"],
            "gold_accuracy": round(row["gold_correct"] / row["gold"], 4) if row["gold"] else None,
        })
    since = timezone.now() - timedelta(days=days)
    per_day = (mine.filter(created_at__gte=since)
               .annotate(day=TruncDate("created_at")).values("day").annotate(labels=Count("id")).order_by("day"))
    return {
        "labels": sum(c["labels"] for c in per_campaign),
        "campaigns": per_campaign,
        "per_day": [{"day": r["day"].isoformat(), "labels": r["labels"]} for r in per_day],
    }
