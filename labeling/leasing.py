"""Leasing: the rules, stated once.

An annotator asks a campaign for up to ``n`` items (``POST /api/v1/campaigns/{id}/next/``,
``labeling.services.campaigns.campaign_next_items``) and gets each for a while on a lease. Two
statement sets carry the rules out, both implementing ``Statements`` below: hand-written
PostgreSQL (``labeling.services.campaigns_pg``, production) and the portable ORM
(``labeling.services.campaigns_orm``: the SQLite demo, or ``LABELING_PG_STATEMENTS=false``).
``campaign_next_items`` and ``annotations_submit`` drive either the same way.
``tests/labeling/test_lease_rules.py`` runs a test of each rule against each set, and checks the
candidates and room both compute against ``eligible`` and ``room``, rules 4, 5 and 7 as Python.

The rules (code and tests cite them by number):

1. Who gets items. Only an active campaign leases; any other status, or ``n <= 0``, gets an empty
   page. An annotator paused on or excluded from the campaign (``AnnotatorPause``) is refused.
   Membership is checked before (``get_campaign_for_user``); the statements trust the campaign.
2. Live leases. A lease is live while ``now < expires_at`` (``is_live``); a new or renewed lease
   runs ``lease_minutes`` from the ask (``lease_expiry``). An expired lease holds nothing (but see
   rule 11).
3. Own leases first. The caller's live leases on items of the campaign it has not labeled, oldest
   lease first, up to ``n``, are renewed and served first; they count toward ``n``.
4. Room. An item's room for the caller is ``target_k - labels - live leases of others``
   (``room``). A regular item is a candidate only while its room is above zero, and its room is
   counted again after its row is locked (a statement that sees every commit made before the
   lock); an item found full then is not leased.
5. Never twice. An item the caller labeled, or holds a live lease on, is never a new candidate.
6. k per item. ``target_k`` is the campaign's ``k``, or ``agreement_k`` on
   ``round(agreement_fraction * items)`` items drawn at creation; it never changes. By rule 4 a
   regular item never has more than target_k labels and live leases together.
7. Gold. A gold item goes to every annotator rule 5 allows, whatever its target_k and the leases
   of others. Each of the page's new slots is gold with probability ``gold_rate``
   (``gold_count``). Gold comes only while a regular item is open to the caller (a campaign with
   no regular item left serves no gold; a page whose every slot drew gold is all gold, never
   empty while work remains), is not replaced by regular items when too few gold items are
   left, and lands at random places among the page's new items, so nothing marks it out.
8. Order. Candidates come in the campaign's ordering (``ORDER``): random (``sort_key``, drawn
   at creation), predicted class, most uncertain or most disputed first, ``sort_key`` breaking
   ties. A ``predicted_groups`` page is then grouped by predicted class, unpredicted last
   (``group_key``; own leases included).
9. Races. Candidates are locked FOR UPDATE SKIP LOCKED: callers never wait on each other, and two
   callers never take the same slot. ``OVERFETCH`` extra rows are locked to replace rows found
   full by rule 4; a short page looks again, up to ``ATTEMPTS`` times in all, only while an
   unlocked look sees candidates that other callers hold.
10. Re-lease. Leasing an item deletes the expired leases of others on it (the pool got it back);
    an expired lease of the caller's own is renewed in place: it keeps its row, and so its place
    in rule 3's order.
11. Late labels. A label on the caller's expired lease is taken while the item has room (a gold
    item: always); else it is refused. A label ends the caller's lease on the item.
12. Cap. One annotator holds at most ``lease_cap`` live leases in a campaign: a ``1/LEASE_SHARE``
    of its label slots (target_k summed over all items, gold included), at least 1. The API cuts
    ``n`` to it, and own leases count toward ``n`` (rule 3).
13. Finish. An ask that leases nothing while the caller holds no live lease marks the campaign
    finished once every regular item has its target_k labels and no lease in it is live.
14. Imports. A label imported from another tool (Label Studio) holds no lease: it needs room by
    rule 4 with every live lease counted as another's (``import_room``), gold items included.

Cost: these rules are what the statements evaluate, not extra queries; this module runs none.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from labeling.models import Campaign, CampaignItem

# Rule 9: extra candidates locked beyond the page, so that rows found full on recount are replaced.
OVERFETCH = 2
# Rule 9: looks for free candidates in all, when other callers' locks left the page short.
ATTEMPTS = 3
# Rule 9: the pause after a short look ``a`` (0-based) is ``RETRY_PAUSE_SECONDS * (a + 1)``; other
# callers' transactions hold their rows for milliseconds.
RETRY_PAUSE_SECONDS = 0.01
# Rule 12: one annotator holds at most 1/LEASE_SHARE of a campaign's label slots.
LEASE_SHARE = 4


def is_live(*, expires_at: datetime, now: datetime) -> bool:
    """Rule 2: the lease still holds its item (the statements write it as ``expires_at > now``)."""
    return expires_at > now


def lease_expiry(*, now: datetime, lease_minutes: int) -> datetime:
    """Rule 2: when a lease written or renewed at ``now`` expires."""
    return now + timedelta(minutes=lease_minutes)


@dataclass(frozen=True)
class ItemView:
    """One item as one caller sees it at one instant: what rules 4, 5 and 7 look at."""

    is_gold: bool
    target_k: int
    labels: int  # labels_count: annotations of everybody
    others_live: int  # live leases of other annotators
    labeled_by_caller: bool
    leased_by_caller: bool  # a live lease of the caller's


def room(item: ItemView) -> int:
    """Rule 4: how many more labels the item may be promised to others than the caller."""
    return item.target_k - item.labels - item.others_live


def import_room(*, target_k: int, labels: int, live_leases: int) -> int:
    """Rule 14: how many imported labels an item may still take."""
    return room(ItemView(is_gold=False, target_k=target_k, labels=labels, others_live=live_leases,
                         labeled_by_caller=False, leased_by_caller=False))


def eligible(item: ItemView) -> bool:
    """Rules 4, 5, 7: may the item be leased to the caller as a new item?"""
    if item.labeled_by_caller or item.leased_by_caller:
        return False
    return item.is_gold or room(item) > 0


def gold_count(*, slots: int, gold_rate: float, rng: random.Random) -> int:
    """Rule 7: how many of a page's ``slots`` new items are gold (one draw per slot)."""
    return sum(rng.random() < gold_rate for _ in range(slots)) if gold_rate else 0


def lease_cap(*, label_slots: int) -> int:
    """Rule 12: the most live leases one annotator may hold in a campaign with ``label_slots``."""
    return max(1, -(-label_slots // LEASE_SHARE))


# Rule 8. Not a column: how many different labels the item has been given so far.
DISTINCT_LABELS = "distinct_labels"


@dataclass(frozen=True)
class SortKey:
    """One key of the queue order: a CampaignItem column (or ``DISTINCT_LABELS``) and its direction.
    ``nulls_last`` matters for columns that may be NULL (no prediction yet)."""

    field: str
    descending: bool = False
    nulls_last: bool = False


# Rule 8: the queue order of each campaign ordering, first key first.
ORDER: dict[str, tuple[SortKey, ...]] = {
    Campaign.Ordering.RANDOM: (SortKey("sort_key"),),
    # Homogeneous pages: most tiles of a page share a predicted class and need no key press.
    Campaign.Ordering.PREDICTED_GROUPS: (SortKey("predicted_label", nulls_last=True), SortKey("sort_key")),
    Campaign.Ordering.UNCERTAINTY: (SortKey("uncertainty", descending=True, nulls_last=True), SortKey("sort_key")),
    Campaign.Ordering.DISAGREEMENT: (SortKey(DISTINCT_LABELS, descending=True), SortKey("sort_key")),
}

# Rule 8: orderings whose page is grouped by ``group_key`` once leased.
GROUPED_PAGES = frozenset({Campaign.Ordering.PREDICTED_GROUPS})


def group_key(item: CampaignItem) -> tuple[bool, str]:
    """Rule 8: the key a grouped page is (stably) sorted by: predicted class, unpredicted last."""
    return (item.predicted_label is None, item.predicted_label or "")


@dataclass(frozen=True)
class SubmitState:
    """The caller's standing on a batch's items, read after the items were locked."""

    items: dict[int, bool]  # item id -> is_gold, for the items of this campaign
    annotations: dict[int, tuple[int, str]]  # item id -> (annotation id, label)
    leases: dict[int, datetime]  # item id -> expires_at, live or not


class Statements(Protocol):
    """The statements of leasing and submitting, one set per path (``campaigns_pg``,
    ``campaigns_orm``); the shared code in ``labeling.services.campaigns`` runs them in this
    order and keeps everything else (page size, gold draw, retries, finishing)."""

    def refresh_own_leases(self, *, campaign_id: int, me: int, now: datetime, expires: datetime,
                           n: int) -> list[int]:
        """Rule 3: renew the caller's live leases on unlabeled items of the campaign to ``expires``;
        their item ids, oldest lease first, at most ``n``."""
        ...

    def lock_candidates(self, *, campaign_id: int, ordering: str, me: int, now: datetime, gold: bool,
                        limit: int, exclude: Sequence[int] = (), lock: bool = True) -> list[int]:
        """Rules 4, 5, 7, 8, 9: ids of up to ``limit`` items ``eligible`` for the caller, regular or
        gold ones, not in ``exclude``, in ``ORDER[ordering]``; locked FOR UPDATE SKIP LOCKED
        (``lock=False``: unlocked, rows that others hold included)."""
        ...

    def page_items(self, *, item_ids: Sequence[int], me: int, now: datetime) -> dict[int, CampaignItem]:
        """Rule 4: the items with ``room`` counted by a statement that starts after the caller's
        locks were granted, and the ``width`` and ``height`` of their image."""
        ...

    def write_leases(self, *, item_ids: Sequence[int], me: int, now: datetime, expires: datetime) -> None:
        """Rules 2, 10: lease these locked items to the caller until ``expires``."""
        ...

    def lock_submit_state(self, *, campaign_id: int, me: int, item_ids: Sequence[int]) -> SubmitState:
        """Rule 11: lock the campaign's items among ``item_ids`` in id order, then read the
        caller's annotations and leases on them in a fresh statement."""
        ...

    def write_annotations(self, *, me: int, now: datetime, created: Sequence[tuple[int, str, float]],
                          updated: Sequence[tuple[int, str, str, float]], item_ids: Sequence[int]) -> None:
        """Rule 11: store the labels and end the caller's leases on ``item_ids``."""
        ...
