"""ORM statements for the two hot calls of labeling: leasing a page and storing its labels.

The portable twin of ``campaigns_pg``: the same functions, written with the ORM for any database
(the SQLite demo, or PostgreSQL with ``LABELING_PG_STATEMENTS=false``). They take more and
costlier statements than the hand-written ones; ``campaigns.campaign_next_items`` and
``campaigns.annotations_submit`` drive both the same way. The rules they apply are stated in
``labeling.leasing`` (cited by number below); each function's contract is the docstring of its
namesake in ``labeling.leasing.Statements``.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Count, Exists, F, OrderBy, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from labeling import leasing
from labeling.leasing import SubmitState
from labeling.models import Annotation, AnnotationHistory, CampaignItem, Lease


def _live_leases_of_others(*, annotator_id: int, now: datetime) -> QuerySet[Lease]:
    # Rule 4 counts them against an item's room; live: rule 2.
    return Lease.objects.filter(item=OuterRef("pk"), expires_at__gt=now).exclude(annotator_id=annotator_id)


def _others_live_count(*, me: int, now: datetime) -> Coalesce:
    return Coalesce(Subquery(_live_leases_of_others(annotator_id=me, now=now).order_by().values("item")
                             .annotate(c=Count("id")).values("c")[:1]), Value(0))


def _order_by(keys: Sequence[leasing.SortKey]) -> list[OrderBy]:
    """Rule 8: ``leasing.ORDER`` as order_by() arguments (``DISTINCT_LABELS`` is annotated under
    that name by ``lock_candidates``)."""
    return [F(key.field).desc(nulls_last=key.nulls_last or None) if key.descending
            else F(key.field).asc(nulls_last=key.nulls_last or None) for key in keys]


def refresh_own_leases(*, campaign_id: int, me: int, now: datetime, expires: datetime, n: int) -> list[int]:
    # Rule 3. Only the caller touches its own leases, so they need no row lock.
    own = list(Lease.objects
               .filter(item__campaign_id=campaign_id, annotator_id=me, expires_at__gt=now)
               .exclude(item__annotations__annotator_id=me)
               .order_by("id").values_list("item_id", flat=True)[:n])
    if own:
        Lease.objects.filter(item_id__in=own, annotator_id=me).update(expires_at=expires)
    return own


def lock_candidates(*, campaign_id: int, ordering: str, me: int, now: datetime, gold: bool, limit: int,
                    exclude: Sequence[int] = (), lock: bool = True) -> list[int]:
    if limit <= 0:
        return []
    queryset = (  # rule 5
        CampaignItem.objects.filter(campaign_id=campaign_id, is_gold=gold)
        .exclude(Exists(Annotation.objects.filter(item=OuterRef("pk"), annotator_id=me)))
        .exclude(Exists(Lease.objects.filter(item=OuterRef("pk"), annotator_id=me, expires_at__gt=now)))
    )
    if exclude:
        queryset = queryset.exclude(id__in=exclude)
    if not gold:  # rule 4 (gold: rule 7); the first filter is the partial index's condition
        queryset = (queryset.filter(labels_count__lt=F("target_k"))
                    .annotate(others_live=_others_live_count(me=me, now=now))
                    .filter(labels_count__lt=F("target_k") - F("others_live")))
    keys = leasing.ORDER[ordering]
    if any(key.field == leasing.DISTINCT_LABELS for key in keys):
        distinct = Subquery(Annotation.objects.filter(item=OuterRef("pk")).order_by().values("item")
                            .annotate(c=Count("label", distinct=True)).values("c")[:1])
        queryset = queryset.annotate(**{leasing.DISTINCT_LABELS: Coalesce(distinct, Value(0))})
    queryset = queryset.order_by(*_order_by(keys))
    if lock:  # rule 9
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    return list(queryset.values_list("id", flat=True)[:limit])


def page_items(*, item_ids: Sequence[int], me: int, now: datetime) -> dict[int, CampaignItem]:
    # Rule 4: room, counted after the caller's locks.
    if not item_ids:
        return {}
    return {item.id: item for item in CampaignItem.objects.filter(id__in=item_ids)
            .only("id", "image_id", "is_gold", "predicted_label")
            .annotate(width=F("image__width"), height=F("image__height"),
                      room=F("target_k") - F("labels_count") - _others_live_count(me=me, now=now))}


def write_leases(*, item_ids: Sequence[int], me: int, now: datetime, expires: datetime) -> None:
    # Rule 10: expired leases of others on these items are reclaimed (the pool got them back); an
    # expired lease of the caller's own is renewed in place, like the upsert of ``campaigns_pg``.
    Lease.objects.filter(item_id__in=item_ids, expires_at__lte=now).exclude(annotator_id=me).delete()
    Lease.objects.bulk_create([Lease(item_id=i, annotator_id=me, expires_at=expires) for i in item_ids],
                              update_conflicts=True, unique_fields=["item", "annotator"],
                              update_fields=["expires_at", "created_at"])


def lock_submit_state(*, campaign_id: int, me: int, item_ids: Sequence[int]) -> SubmitState:
    items = dict(CampaignItem.objects.select_for_update().filter(campaign_id=campaign_id, id__in=item_ids)
                 .order_by("id").values_list("id", "is_gold"))
    annotations = {item: (pk, label) for pk, item, label in Annotation.objects
                   .filter(item_id__in=item_ids, annotator_id=me).values_list("id", "item_id", "label")}
    leases = dict(Lease.objects.filter(item_id__in=item_ids, annotator_id=me).values_list("item_id", "expires_at"))
    return SubmitState(items=items, annotations=annotations, leases=leases)


def write_annotations(*, me: int, now: datetime, created: Sequence[tuple[int, str, float]],
                      updated: Sequence[tuple[int, str, str, float]], item_ids: Sequence[int]) -> None:
    history: list[AnnotationHistory] = []
    for annotation_id, old, new, seconds in updated:
        Annotation.objects.filter(id=annotation_id).update(label=new, seconds=F("seconds") + seconds,
                                                           updated_at=now)
        history.append(AnnotationHistory(annotation_id=annotation_id, old_label=old, new_label=new,
                                         changed_by_id=me))
    if created:
        rows = Annotation.objects.bulk_create([Annotation(item_id=item, annotator_id=me, label=label,
                                                          seconds=seconds) for item, label, seconds in created])
        history.extend(AnnotationHistory(annotation=a, new_label=a.label, changed_by_id=me) for a in rows)
        CampaignItem.objects.filter(id__in=[c[0] for c in created]).update(labels_count=F("labels_count") + 1)
    AnnotationHistory.objects.bulk_create(history)
    Lease.objects.filter(item_id__in=item_ids, annotator_id=me).delete()
