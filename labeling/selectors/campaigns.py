"""Selectors (reads): campaigns and their progress."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Count, F, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from domainsieve.auth import RESEARCHER, has_role
from labeling.leasing import lease_cap
from labeling.models import Annotation, Campaign, CampaignItem, Image, Lease

# Statuses an annotator may see; researchers and admins see every campaign.
ANNOTATOR_VISIBLE = (Campaign.Status.ACTIVE, Campaign.Status.PAUSED, Campaign.Status.FINISHED)


def _member_sql(alias: str) -> str:
    """SQL true when campaign ``alias`` is the user's: it names no member and no member group (open
    to every annotator), or names the user, or names one of the user's groups. Params: user id
    twice. Plain SQL, not nested ORM Exists: it runs on every lease, label and thumbnail, and
    compiling the ORM version cost several times more than PostgreSQL takes to run it (three
    index probes on the link tables)."""
    members = Campaign.members.through._meta.db_table
    groups = Campaign.member_groups.through._meta.db_table
    user_groups = get_user_model().groups.through._meta.db_table
    return (f"((NOT EXISTS (SELECT 1 FROM {members} m WHERE m.campaign_id = {alias}.id) "
            f"AND NOT EXISTS (SELECT 1 FROM {groups} g WHERE g.campaign_id = {alias}.id)) "
            f"OR EXISTS (SELECT 1 FROM {members} m WHERE m.campaign_id = {alias}.id AND m.user_id = %s) "
            f"OR EXISTS (SELECT 1 FROM {groups} g JOIN {user_groups} ug ON ug.group_id = g.group_id "
            f"WHERE g.campaign_id = {alias}.id AND ug.user_id = %s))")


def annotator_campaign_sql(*, user: Any, alias: str,
                           statuses: Sequence[str] = ANNOTATOR_VISIBLE) -> tuple[str, list[Any]]:
    """SQL and params true when campaign ``alias`` is one an annotator ``user`` may see: in
    ``statuses`` and theirs (``_member_sql``). The one statement of the rule; campaign, image and
    dataset selectors embed it."""
    placeholders = ", ".join(["%s"] * len(statuses))
    return (f"({alias}.status IN ({placeholders}) AND {_member_sql(alias)})",
            [*statuses, user.pk, user.pk])


def campaigns_visible(queryset: QuerySet[Campaign], *, user: Any,
                      statuses: Sequence[str] = ANNOTATOR_VISIBLE) -> QuerySet[Campaign]:
    """``queryset`` narrowed to what ``user`` may see: all of it for researchers and admins; for
    annotators, campaigns in ``statuses`` they belong to."""
    if has_role(user, RESEARCHER):
        return queryset
    sql, params = annotator_campaign_sql(user=user, alias=Campaign._meta.db_table, statuses=statuses)
    return queryset.filter(RawSQL(sql, params, output_field=BooleanField()))


def campaigns_for_user(*, user: Any) -> QuerySet[Campaign]:
    """Campaigns the user may see: researchers all of them, annotators the active ones they belong to."""
    return campaigns_visible(Campaign.objects.all(), user=user, statuses=(Campaign.Status.ACTIVE,)).order_by("-id")


def get_campaign_for_user(*, user: Any, campaign_id: int, fields: Sequence[str] = ()) -> Campaign:
    """The campaign, if the user may see it; else 404. The one permission-checked fetch every
    campaign page and endpoint goes through (the PostgreSQL statements of leasing and submitting
    trust the campaign they are given): annotators get only active or finished campaigns they
    belong to, and do not learn that others exist. Cost: one query, membership included.
    ``fields``: load only these (the rest is deferred), for hot paths that skip the guidelines text."""
    queryset = Campaign.objects.only(*fields) if fields else Campaign.objects.all()
    try:
        return campaigns_visible(queryset, user=user).get(pk=campaign_id)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign.") from None


# A campaign's item set and each item's target_k are frozen at creation (turning an item into a
# gold item changes neither), so its label slots are counted once per process.
_SLOTS: dict[int, int] = {}


def campaign_lease_cap(*, campaign: Campaign) -> int:
    """How many live leases one annotator may hold in ``campaign`` (``labeling.leasing`` rule 12):
    a quarter of its label slots (sum of target_k over its items), at least 1. Large campaigns
    never feel it (a grid with two pages prefetched holds 75); small ones stay shared, so no
    annotator holds half of a 30-item campaign in prefetch. Cost: one aggregate the first time per
    process."""
    slots = _SLOTS.get(campaign.id)
    if slots is None:
        slots = CampaignItem.objects.filter(campaign_id=campaign.id).aggregate(s=Sum("target_k"))["s"] or 0
        _SLOTS[campaign.id] = slots
    return lease_cap(label_slots=slots)


def campaign_item_counts(*, campaign: Campaign) -> dict[str, int]:
    """Items (gold items apart), complete items, labels given and wanted, gold items. One query."""
    return campaigns_item_counts(campaign_ids=[campaign.id])[campaign.id]


def campaigns_item_counts(*, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """``campaign_item_counts`` of each campaign, in one GROUP BY over their items (a list page
    pays one query, not one per campaign)."""
    regular = Q(is_gold=False)
    rows = (CampaignItem.objects.filter(campaign_id__in=campaign_ids).order_by().values("campaign_id")
            .annotate(items=Count("id", filter=regular),
                      items_complete=Count("id", filter=regular & Q(labels_count__gte=F("target_k"))),
                      labels=Sum("labels_count", filter=regular), labels_wanted=Sum("target_k", filter=regular),
                      gold_items=Count("id", filter=Q(is_gold=True))))
    counts = {campaign_id: dict.fromkeys(("items", "items_complete", "labels", "labels_wanted", "gold_items"), 0)
              for campaign_id in campaign_ids}
    for row in rows:
        counts[row.pop("campaign_id")] = {name: int(value or 0) for name, value in row.items()}
    return counts


def _per_hour(stamps: Sequence[Any]) -> float:
    if len(stamps) < 2:
        return 0.0
    span = max((stamps[-1] - stamps[0]).total_seconds(), 60.0)
    return round(len(stamps) / span * 3600, 1)


def annotator_rate_per_hour(*, campaign: Campaign, annotator: Any, window_minutes: int = 60) -> float:
    """Images per hour over the annotator's labels of the last ``window_minutes`` (0 if fewer than 2)."""
    return annotator_rates_per_hour(campaign_ids=[campaign.id], annotator=annotator,
                                    window_minutes=window_minutes)[campaign.id]


def annotator_rates_per_hour(*, campaign_ids: Sequence[int], annotator: Any,
                             window_minutes: int = 60) -> dict[int, float]:
    """``annotator_rate_per_hour`` in each campaign, from one query over the window's labels."""
    since = timezone.now() - timedelta(minutes=window_minutes)
    stamps: dict[int, list[Any]] = {campaign_id: [] for campaign_id in campaign_ids}
    for campaign_id, created_at in (Annotation.objects.filter(item__campaign_id__in=campaign_ids, annotator=annotator,
                                                              created_at__gte=since)
                                    .order_by("created_at").values_list("item__campaign_id", "created_at")):
        stamps[campaign_id].append(created_at)
    return {campaign_id: _per_hour(times) for campaign_id, times in stamps.items()}


def campaign_progress(*, campaign: Campaign, user: Any) -> dict[str, Any]:
    """What the progress endpoint and pages show: the caller's own figures, and for researchers and
    admins the campaign's completion and labels per annotator per day. Never other people's labels."""
    counts = campaign_item_counts(campaign=campaign)
    mine = Annotation.objects.filter(item__campaign=campaign, annotator=user).count()
    progress: dict[str, Any] = {
        "campaign": campaign.id,
        "status": campaign.status,
        "me": {
            "done": mine,
            "target": counts["items"],
            "rate_per_hour": annotator_rate_per_hour(campaign=campaign, annotator=user),
        },
        "items": counts["items"],
        "items_complete": counts["items_complete"],
    }
    if has_role(user, RESEARCHER):
        per_day = (Annotation.objects.filter(item__campaign=campaign)
                   .annotate(day=TruncDate("created_at"))
                   .values("annotator__username", "day").annotate(labels=Count("id"))
                   .order_by("day", "annotator__username"))
        per_annotator = (Annotation.objects.filter(item__campaign=campaign)
                         .values("annotator__username").annotate(labels=Count("id"), seconds=Sum("seconds"))
                         .order_by("-labels"))
        progress.update({
            "labels": counts["labels"],
            "labels_wanted": counts["labels_wanted"],
            "gold_items": counts["gold_items"],
            "live_leases": Lease.objects.filter(item__campaign=campaign, expires_at__gt=timezone.now()).count(),
            "per_annotator_per_day": [
                {"annotator": row["annotator__username"], "day": row["day"].isoformat(), "labels": row["labels"]}
                for row in per_day
            ],
            "per_annotator": [
                {"annotator": row["annotator__username"], "labels": row["labels"],
                 "seconds_per_label": round((row["seconds"] or 0) / row["labels"], 2)}
                for row in per_annotator
            ],
        })
    return progress


def guideline_examples(*, campaign: Campaign, per_class: int = 4) -> dict[str, list[Image]]:
    """Example images per label: the campaign's images whose source names their domain
    (Image.intended_domain). Never a gold item: an example tile would give its answer away, and
    gold items score the annotators who meet them."""
    examples: dict[str, list[Image]] = {}
    image_ids = CampaignItem.objects.filter(campaign=campaign, is_gold=False).values("image_id")
    gold_ids = CampaignItem.objects.filter(campaign=campaign, is_gold=True).values("image_id")
    for name in campaign.label_names:
        found = list(Image.objects.filter(id__in=image_ids, intended_domain=name).exclude(id__in=gold_ids)
                     .order_by("id")[:per_class])
        if found:
            examples[name] = found
    return examples
