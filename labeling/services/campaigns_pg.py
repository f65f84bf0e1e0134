"""PostgreSQL statements for the two hot calls of labeling: leasing a page and storing its labels.

``campaigns.campaign_next_items`` and ``campaigns.annotations_submit`` run the statements of
``labeling.leasing.Statements``; on PostgreSQL they call these functions, which do the work in the
fewest statements, each a round trip:

- next: refresh the caller's own live leases (1), lock free candidates FOR UPDATE SKIP LOCKED (1),
  recount their room and read the page's image fields in a fresh statement (1), write the leases
  (1). The recount must be its own statement: under READ COMMITTED only a statement that starts
  after the locks were granted sees every label and lease committed before them.
- submit: lock the items in id order (1), read the caller's annotations and leases in a fresh
  statement (1), recount room only for late labels on expired leases (rare), then one statement
  with data-modifying CTEs writes annotations, history, counters and deletes the leases (1).

The statements are plain SQL with array parameters; the rules they apply are stated in
``labeling.leasing`` (cited by number below), and ``campaigns_orm`` is their portable twin.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from labeling import leasing
from labeling.leasing import SubmitState
from labeling.models import CampaignItem

_DISTINCT_LABELS = "(SELECT count(DISTINCT a.label) FROM labeling_annotation a WHERE a.item_id = i.id)"


def _order_by(keys: Sequence[leasing.SortKey]) -> str:
    """Rule 8: ``leasing.ORDER`` as an ORDER BY list over item ``i``."""
    return ", ".join(
        (_DISTINCT_LABELS if key.field == leasing.DISTINCT_LABELS else f"i.{key.field}")
        + (" DESC" if key.descending else " ASC") + (" NULLS LAST" if key.nulls_last else "")
        for key in keys)


# Built once at import: the statements carry the same text on every call.
_ORDER_BY = {ordering: _order_by(keys) for ordering, keys in leasing.ORDER.items()}

# Rule 4: live leases of other annotators on item i (live: rule 2); with labels_count they bound
# what i may get.
_OTHERS_LIVE = ("(SELECT count(*) FROM labeling_lease o WHERE o.item_id = i.id AND o.expires_at > %(now)s "
                "AND o.annotator_id <> %(me)s)")


def refresh_own_leases(*, campaign_id: int, me: int, now: datetime, expires: datetime, n: int) -> list[int]:
    """Rule 3: extend the caller's live leases in this campaign (items it has not labeled yet); their
    item ids, oldest lease first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH own AS (SELECT l.id FROM labeling_lease l JOIN labeling_campaignitem i ON i.id = l.item_id "
            "WHERE l.annotator_id = %(me)s AND l.expires_at > %(now)s AND i.campaign_id = %(c)s "
            "AND NOT EXISTS (SELECT 1 FROM labeling_annotation a WHERE a.item_id = l.item_id "
            "AND a.annotator_id = %(me)s) ORDER BY l.id LIMIT %(n)s) "
            "UPDATE labeling_lease l SET expires_at = %(exp)s FROM own WHERE l.id = own.id RETURNING l.id, l.item_id",
            {"c": campaign_id, "me": me, "now": now, "exp": expires, "n": n})
        return [item for _, item in sorted(cursor.fetchall())]


def lock_candidates(*, campaign_id: int, ordering: str, me: int, now: datetime, gold: bool, limit: int,
                    exclude: Sequence[int] = (), lock: bool = True) -> list[int]:
    """Ids of up to ``limit`` items the caller may get, in queue order (rule 8), locked FOR UPDATE
    SKIP LOCKED (rule 9; ``lock=False``: unlocked, rows other transactions hold included).

    Regular items need room after counting other annotators' live leases (rule 4); gold items go
    to everyone (rule 7); neither to a caller who labeled or holds the item (rule 5)."""
    if limit <= 0:
        return []
    # Regular items: spelled like the partial index campaign_item_open_sort, so the planner walks it
    # (``labels_count < target_k`` is implied by the room test after it, but the index needs it).
    kind = ("i.is_gold" if gold else
            f"NOT i.is_gold AND i.labels_count < i.target_k AND i.labels_count + {_OTHERS_LIVE} < i.target_k")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.id FROM labeling_campaignitem i WHERE i.campaign_id = %(c)s AND {kind} "
            "AND i.id <> ALL(%(exclude)s::bigint[]) "
            "AND NOT EXISTS (SELECT 1 FROM labeling_annotation a WHERE a.item_id = i.id AND a.annotator_id = %(me)s) "
            "AND NOT EXISTS (SELECT 1 FROM labeling_lease l WHERE l.item_id = i.id AND l.annotator_id = %(me)s "
            "AND l.expires_at > %(now)s) "
            f"ORDER BY {_ORDER_BY[ordering]} LIMIT %(limit)s" + (" FOR UPDATE OF i SKIP LOCKED" if lock else ""),
            {"c": campaign_id, "me": me, "now": now, "limit": limit, "exclude": list(exclude)})
        return [row[0] for row in cursor.fetchall()]


def page_items(*, item_ids: Sequence[int], me: int, now: datetime) -> dict[int, CampaignItem]:
    """The items (id, image, is_gold, predicted_label loaded; the rest deferred) with ``width`` and
    ``height`` of their image and their ``room`` (rule 4: target_k - labels - others' live leases),
    read by a statement that starts after the caller's locks were granted."""
    if not item_ids:
        return {}
    rows = CampaignItem.objects.raw(
        "SELECT i.id, i.image_id, i.is_gold, i.predicted_label, im.width, im.height, "
        f"i.target_k - i.labels_count - {_OTHERS_LIVE} AS room FROM labeling_campaignitem i "
        "JOIN labeling_image im ON im.id = i.image_id WHERE i.id = ANY(%(ids)s::bigint[])",
        {"ids": list(item_ids), "me": me, "now": now})
    return {item.id: item for item in rows}


def write_leases(*, item_ids: Sequence[int], me: int, now: datetime, expires: datetime) -> None:
    """Lease these (locked) items to the caller (rule 10): expired leases of others on them are
    deleted (the pool got the items back); an expired lease of the caller's own is renewed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH gone AS (DELETE FROM labeling_lease WHERE item_id = ANY(%(ids)s::bigint[]) "
            "AND expires_at <= %(now)s AND annotator_id <> %(me)s) "
            "INSERT INTO labeling_lease (item_id, annotator_id, expires_at, created_at) "
            "SELECT unnest(%(ids)s::bigint[]), %(me)s, %(exp)s, %(now)s "
            "ON CONFLICT (item_id, annotator_id) DO UPDATE SET expires_at = EXCLUDED.expires_at, "
            "created_at = EXCLUDED.created_at",
            {"ids": list(item_ids), "me": me, "now": now, "exp": expires})


def lock_submit_state(*, campaign_id: int, me: int, item_ids: Sequence[int]) -> SubmitState:
    """Lock the campaign's items among ``item_ids`` in id order (concurrent batches never deadlock),
    then read the caller's annotations and leases on them in a second, fresh statement."""
    ids = sorted(item_ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, is_gold FROM labeling_campaignitem WHERE campaign_id = %s "
                       "AND id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE", [campaign_id, ids])
        items = dict(cursor.fetchall())
        # Driven by the ids, so each lookup is one probe of the (item, annotator) unique indexes,
        # however many labels the caller has given.
        cursor.execute(
            "SELECT t.id, a.id, a.label, l.expires_at FROM unnest(%(ids)s::bigint[]) AS t(id) "
            "LEFT JOIN labeling_annotation a ON a.item_id = t.id AND a.annotator_id = %(me)s "
            "LEFT JOIN labeling_lease l ON l.item_id = t.id AND l.annotator_id = %(me)s",
            {"me": me, "ids": ids})
        annotations: dict[int, tuple[int, str]] = {}
        leases: dict[int, datetime] = {}
        for item, annotation, label, expires in cursor.fetchall():
            if annotation is not None:
                annotations[item] = (annotation, label)
            if expires is not None:
                leases[item] = expires
    return SubmitState(items=items, annotations=annotations, leases=leases)


def write_annotations(*, me: int, now: datetime, created: Sequence[tuple[int, str, float]],
                      updated: Sequence[tuple[int, str, str, float]], item_ids: Sequence[int]) -> None:
    """One statement: insert ``created`` (item, label, seconds), change ``updated`` (annotation id,
    old label, new label, seconds), a history row for each, labels_count + 1 on the created items,
    and delete the caller's leases on ``item_ids``."""
    params: dict[str, Any] = {
        "me": me, "now": now, "ids": list(item_ids),
        "c_items": [c[0] for c in created], "c_labels": [c[1] for c in created], "c_secs": [c[2] for c in created],
        "u_ids": [u[0] for u in updated], "u_old": [u[1] for u in updated], "u_labels": [u[2] for u in updated],
        "u_secs": [u[3] for u in updated],
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH ins AS (INSERT INTO labeling_annotation (item_id, annotator_id, label, seconds, created_at, "
            "updated_at) SELECT t.item, %(me)s, t.label, t.seconds, %(now)s, %(now)s "
            "FROM unnest(%(c_items)s::bigint[], %(c_labels)s::text[], %(c_secs)s::float8[]) AS t(item, label, seconds) "
            "ORDER BY t.item RETURNING id, label), "
            "upd AS (UPDATE labeling_annotation a SET label = t.label, seconds = a.seconds + t.seconds, "
            "updated_at = %(now)s FROM unnest(%(u_ids)s::bigint[], %(u_old)s::text[], %(u_labels)s::text[], "
            "%(u_secs)s::float8[]) AS t(id, old, label, seconds) WHERE a.id = t.id RETURNING a.id, t.old, t.label), "
            "hist AS (INSERT INTO labeling_annotationhistory (annotation_id, old_label, new_label, changed_by_id, "
            "changed_at) SELECT id, old, label, %(me)s, %(now)s FROM upd "
            "UNION ALL SELECT id, '', label, %(me)s, %(now)s FROM ins), "
            "cnt AS (UPDATE labeling_campaignitem SET labels_count = labels_count + 1 "
            "WHERE id = ANY(%(c_items)s::bigint[])), "
            "gone AS (DELETE FROM labeling_lease WHERE annotator_id = %(me)s AND item_id = ANY(%(ids)s::bigint[])) "
            "SELECT 1",
            params)
