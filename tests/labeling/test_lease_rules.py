"""Leasing's rules (``labeling/leasing.py``): each numbered rule tested against both statement sets.

``statement_set`` (tests/labeling/conftest.py) runs every test twice, once with the hand-written
PostgreSQL statements (``campaigns_pg``) and once with the portable ORM ones (``campaigns_orm``),
by flipping the ``LABELING_PG_STATEMENTS`` setting; both run on the test PostgreSQL. Sections
are headed by the rule they hold the code to. The first test holds both sets to ``eligible``,
``room`` and ``ORDER`` over a campaign of items in every state a rule tells apart.
"""
from __future__ import annotations

import inspect
import random
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from labeling import leasing
from labeling.models import Annotation, AnnotatorPause, Campaign, CampaignItem, Lease
from labeling.services import campaigns_orm, campaigns_pg
from labeling.services.campaigns import (
    AnnotationBatchError,
    AnnotatorPausedError,
    annotations_submit,
    campaign_create,
    campaign_mark_gold,
    campaign_next_items,
    campaign_set_predictions,
    leasing_statements,
)
from tests.conftest import ANNOTATOR, make_user
from tests.factories import make_dataset, make_images

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("statement_set")]

LABELS = ("natural", "rendition", "ambiguous")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def campaign(media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=12)
    return campaign_create(name="c", datasets=[ds], k=1, user=researcher)


def small_campaign(researcher: object, *, n: int, name: str = "small", **options: Any) -> Campaign:
    ds = make_dataset(name=name)
    make_images(dataset=ds, n=n)
    return campaign_create(name=name, datasets=[ds], user=researcher, **options)


def ids(items: list[CampaignItem]) -> list[int]:
    return [i.id for i in items]


def label_all(campaign: Campaign, user: object, items: list[CampaignItem], label: str = "natural") -> None:
    annotations_submit(campaign=campaign, annotator=user, entries=[{"item": i.id, "label": label} for i in items])


def rng_drawing(*, gold: int, of: int, rate: float) -> random.Random:
    """A seeded rng whose first page of ``of`` new slots draws ``gold`` gold ones (rule 7)."""
    seed = next(s for s in range(10_000) if leasing.gold_count(slots=of, gold_rate=rate, rng=random.Random(s)) == gold)
    return random.Random(seed)


def test_it_runs_the_statement_set_the_setting_picks(statement_set: str) -> None:
    assert leasing_statements() is (campaigns_pg if statement_set == "postgresql" else campaigns_orm)


def test_it_gives_both_statement_sets_the_signatures_of_the_protocol() -> None:
    for name in ("refresh_own_leases", "lock_candidates", "page_items", "write_leases", "lock_submit_state",
                 "write_annotations"):
        spec = inspect.signature(getattr(leasing.Statements, name))
        wanted = spec.replace(parameters=list(spec.parameters.values())[1:])  # without self
        for module in (campaigns_pg, campaigns_orm):
            assert inspect.signature(getattr(module, name)) == wanted, (module.__name__, name)


# The rules as Python (leasing.eligible, leasing.room, leasing.ORDER) against the statements.

@dataclass
class World:
    campaign: Campaign
    me: Any
    now: datetime
    views: dict[int, leasing.ItemView]
    rows: dict[int, dict[str, Any]]  # item id -> the columns rule 8 sorts by
    own: list[int]  # items of the caller's live leases on items it has not labeled, oldest lease first
    expired_own: set[int]  # items of the caller's expired leases


@pytest.fixture
def world(media_root: object, researcher: object, annotator: object) -> World:
    """40 items in seeded random states: gold or not, target_k 1-3, labels and live or expired
    leases of four other annotators and of the caller, predictions and uncertainty with gaps."""
    rng = random.Random(11)  # a seed whose world holds every case (the test checks)
    campaign = small_campaign(researcher, n=40, name="world", k=1)
    people = [annotator, *(make_user(f"other{i}", ANNOTATOR) for i in range(4))]
    now = timezone.now()
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("id"))
    annotations: list[Annotation] = []
    leases: list[Lease] = []
    views: dict[int, leasing.ItemView] = {}
    rows: dict[int, dict[str, Any]] = {}
    for item in items:
        item.is_gold = rng.random() < 0.25
        item.target_k = rng.choice([1, 2, 3])
        item.predicted_label = rng.choice([None, *LABELS])
        item.uncertainty = rng.choice([None, round(rng.random(), 6)])
        raters = rng.sample(people, k=rng.randint(0, 3))
        given = [rng.choice(LABELS) for _ in raters]
        annotations += [Annotation(item=item, annotator=u, label=label) for u, label in zip(raters, given, strict=True)]
        item.labels_count = len(raters)
        holders = {u.pk: rng.random() < 0.6 for u in rng.sample(people, k=rng.randint(0, 3))}  # user -> live
        leases += [Lease(item=item, annotator_id=u, expires_at=now + timedelta(minutes=5 if live else -5))
                   for u, live in holders.items()]
        views[item.id] = leasing.ItemView(
            is_gold=item.is_gold, target_k=item.target_k, labels=item.labels_count,
            others_live=sum(live for u, live in holders.items() if u != annotator.pk),
            labeled_by_caller=annotator in raters, leased_by_caller=holders.get(annotator.pk, False))
        rows[item.id] = {"id": item.id, "sort_key": item.sort_key, "predicted_label": item.predicted_label,
                         "uncertainty": item.uncertainty, leasing.DISTINCT_LABELS: len(set(given))}
    CampaignItem.objects.bulk_update(items, ["is_gold", "target_k", "predicted_label", "uncertainty",
                                             "labels_count"])
    Annotation.objects.bulk_create(annotations)
    rng.shuffle(leases)  # lease ids in another order than item ids: rule 3 goes by lease age
    Lease.objects.bulk_create(leases)
    own = [lease.item_id for lease in Lease.objects.filter(annotator=annotator, expires_at__gt=now).order_by("id")
           if not views[lease.item_id].labeled_by_caller]
    expired_own = {lease.item_id for lease in leases if lease.annotator_id == annotator.pk and lease.expires_at < now}
    return World(campaign=campaign, me=annotator, now=now, views=views, rows=rows, own=own, expired_own=expired_own)


def queue_order(rows: list[dict[str, Any]], ordering: str) -> list[int]:
    """Rule 8 as Python: ``leasing.ORDER[ordering]``, first key first, NULLs last where it says so."""
    for key in reversed(leasing.ORDER[ordering]):  # stable sorts, last key first
        present = [r for r in rows if r[key.field] is not None]
        missing = [r for r in rows if r[key.field] is None]
        assert key.nulls_last or not missing, key
        rows = sorted(present, key=lambda r, f=key.field: r[f], reverse=key.descending) + missing
    return [r["id"] for r in rows]


def test_it_computes_candidates_room_and_order_as_the_rules_say(world: World) -> None:
    sql, me, now = leasing_statements(), world.me.pk, world.now
    views = world.views
    # The world holds every case the rules tell apart (else this test would prove less).
    assert any(v.leased_by_caller for v in views.values()) and any(v.labeled_by_caller for v in views.values())
    assert any(not v.is_gold and leasing.room(v) <= 0 < v.target_k - v.labels and not v.labeled_by_caller
               and not v.leased_by_caller for v in views.values())  # full only by others' live leases
    assert any(leasing.eligible(views[i]) for i in world.expired_own)
    assert any(v.is_gold and leasing.eligible(v) and leasing.room(v) <= 0 for v in views.values())
    assert any(not v.is_gold and leasing.eligible(v) for v in views.values())

    pages = sql.page_items(item_ids=list(views), me=me, now=now)
    assert {i: p.room for i, p in pages.items()} == {i: leasing.room(v) for i, v in views.items()}  # rule 4
    for ordering in Campaign.Ordering.values:
        for gold in (False, True):
            wanted = [world.rows[i] for i, v in views.items() if v.is_gold == gold and leasing.eligible(v)]
            expected = queue_order(wanted, ordering)
            for lock in (False, True):
                got = sql.lock_candidates(campaign_id=world.campaign.id, ordering=ordering, me=me, now=now,
                                          gold=gold, limit=len(views), lock=lock)
                assert got == expected, (ordering, gold, lock)
            skip = expected[::2]
            assert sql.lock_candidates(campaign_id=world.campaign.id, ordering=ordering, me=me, now=now, gold=gold,
                                       limit=3, exclude=skip) == [i for i in expected if i not in skip][:3]
    assert len(world.own) >= 2
    expires = now + timedelta(minutes=10)
    assert sql.refresh_own_leases(campaign_id=world.campaign.id, me=me, now=now, expires=expires, n=2) == world.own[:2]
    assert sql.refresh_own_leases(campaign_id=world.campaign.id, me=me, now=now, expires=expires, n=99) == world.own
    assert set(Lease.objects.filter(annotator=world.me, expires_at=expires).values_list("item_id", flat=True)) == set(
        world.own)


# Rule 1: who gets items.

def test_it_leases_only_in_an_active_campaign(annotator: object, campaign: Campaign) -> None:
    assert campaign_next_items(campaign=campaign, annotator=annotator, n=0) == []
    for status in (Campaign.Status.PAUSED, Campaign.Status.FINISHED, Campaign.Status.ARCHIVED):
        campaign.status = status
        assert campaign_next_items(campaign=campaign, annotator=annotator, n=5) == []
    assert not Lease.objects.exists()


def test_it_refuses_a_paused_or_excluded_annotator(annotator: object, campaign: Campaign) -> None:
    for kind, words in ((AnnotatorPause.Kind.PAUSED, "paused"), (AnnotatorPause.Kind.EXCLUDED, "not seen")):
        AnnotatorPause.objects.update_or_create(campaign=campaign, annotator=annotator,
                                                defaults={"kind": kind, "reason": "why"})
        with pytest.raises(AnnotatorPausedError, match=words):
            campaign_next_items(campaign=campaign, annotator=annotator, n=5)
    assert not Lease.objects.exists()


# Rule 2: live leases.

def test_it_holds_an_item_while_its_lease_runs_and_frees_it_at_expiry(annotator: object, annotator2: object,
                                                                     campaign: Campaign) -> None:
    campaign.lease_minutes = 3
    with time_machine.travel(T0, tick=False):
        mine = campaign_next_items(campaign=campaign, annotator=annotator, n=12)
    assert set(Lease.objects.values_list("expires_at", flat=True)) == {T0 + timedelta(minutes=3)}
    with time_machine.travel(T0 + timedelta(minutes=3) - timedelta(microseconds=1), tick=False):
        assert campaign_next_items(campaign=campaign, annotator=annotator2, n=12) == []
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):  # expired at expires_at
        assert set(ids(campaign_next_items(campaign=campaign, annotator=annotator2, n=12))) == set(ids(mine))


# Rule 3: own leases first.

def test_it_serves_the_callers_live_leases_first_and_renews_them(annotator: object, campaign: Campaign) -> None:
    with time_machine.travel(T0, tick=False):
        first = campaign_next_items(campaign=campaign, annotator=annotator, n=5)
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        assert ids(campaign_next_items(campaign=campaign, annotator=annotator, n=3)) == ids(first)[:3]
        assert Lease.objects.filter(annotator=annotator).count() == 5  # own leases count toward n
        more = campaign_next_items(campaign=campaign, annotator=annotator, n=8)
    assert ids(more)[:5] == ids(first) and len(set(ids(more))) == 8
    renewed = T0 + timedelta(minutes=14)
    assert set(Lease.objects.filter(item_id__in=ids(first)).values_list("expires_at", flat=True)) == {renewed}


# Rule 4: room.

def test_it_never_leases_an_item_past_k(annotator: object, annotator2: object, campaign: Campaign) -> None:
    mine = set(ids(campaign_next_items(campaign=campaign, annotator=annotator, n=8)))
    theirs = set(ids(campaign_next_items(campaign=campaign, annotator=annotator2, n=8)))
    assert not mine & theirs and len(theirs) == 4  # k=1: only 12 - 8 items remain


# Rule 5: never twice.

def test_it_never_gives_an_annotator_an_item_twice(annotator: object, researcher: object, media_root: object) -> None:
    campaign = small_campaign(researcher, n=3, k=3)
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=10)
    assert len(items) == 3
    assert campaign_next_items(campaign=campaign, annotator=annotator, n=10) == items  # own leases, no new ones
    label_all(campaign, annotator, items)
    assert campaign_next_items(campaign=campaign, annotator=annotator, n=10) == []
    assert len(campaign_next_items(campaign=campaign, annotator=make_user("other", ANNOTATOR), n=10)) == 3


# Rule 6: k per item.

def test_it_leases_each_item_to_its_own_target_k(researcher: object, media_root: object) -> None:
    campaign = small_campaign(researcher, n=6, k=1, agreement_fraction=0.5, agreement_k=3)
    targets = dict(CampaignItem.objects.filter(campaign=campaign).values_list("id", "target_k"))
    assert Counter(targets.values()) == {1: 3, 3: 3}
    for i in range(4):
        campaign_next_items(campaign=campaign, annotator=make_user(f"u{i}", ANNOTATOR), n=6)
    assert dict(Counter(Lease.objects.values_list("item_id", flat=True))) == targets


# Rule 7: gold.

def test_it_mixes_gold_items_at_the_drawn_share(annotator: object, campaign: Campaign) -> None:
    items = list(CampaignItem.objects.filter(campaign=campaign))
    campaign_mark_gold(campaign=campaign, gold={i.image_id: "natural" for i in items[:3]})
    campaign.gold_rate = 0.5
    drawn = leasing.gold_count(slots=8, gold_rate=0.5, rng=random.Random(3))
    assert drawn == 4  # more than there are: the page is short, not filled up with regular items
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=8, rng=random.Random(3))
    assert sum(i.is_gold for i in page) == 3 and len(page) == 8 - (drawn - 3)


def test_it_serves_a_gold_item_to_everyone_but_only_along_regular_items(annotator: object, annotator2: object,
                                                                        researcher: object, media_root: object) -> None:
    campaign = small_campaign(researcher, n=3, k=1, gold_rate=0.5)
    gold, *regular = CampaignItem.objects.filter(campaign=campaign).order_by("sort_key")
    campaign_mark_gold(campaign=campaign, gold={gold.image_id: "natural"})
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=3, rng=rng_drawing(gold=1, of=3, rate=0.5))
    assert {i.id for i in page} == {gold.id, *(i.id for i in regular)}
    label_all(campaign, annotator, page)  # the gold item now has its target_k=1 labels
    theirs = campaign_next_items(campaign=campaign, annotator=annotator2, n=3, rng=rng_drawing(gold=1, of=3, rate=0.5))
    assert theirs == []  # no regular item left, so no gold either (rule 13 finishes the campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED


def test_a_page_whose_every_slot_drew_gold_is_gold_not_empty(annotator: object, researcher: object,
                                                             media_root: object) -> None:
    campaign = small_campaign(researcher, n=4, k=1, gold_rate=0.5)
    gold = CampaignItem.objects.filter(campaign=campaign).first()
    campaign_mark_gold(campaign=campaign, gold={gold.image_id: "natural"})
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=1, rng=rng_drawing(gold=1, of=1, rate=0.5))
    assert ids(page) == [gold.id]  # regular items are open, so the gold page is served, not an empty one
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    assert Lease.objects.filter(item__campaign=campaign, annotator=annotator).count() == 1


def test_it_serves_a_full_gold_item_to_another_annotator(annotator: object, annotator2: object,
                                                         researcher: object, media_root: object) -> None:
    campaign = small_campaign(researcher, n=6, k=1, gold_rate=0.5)
    gold = CampaignItem.objects.filter(campaign=campaign).first()
    campaign_mark_gold(campaign=campaign, gold={gold.image_id: "natural"})
    for user in (annotator, annotator2):  # the first label fills its target_k=1; the second still gets it
        page = campaign_next_items(campaign=campaign, annotator=user, n=2, rng=rng_drawing(gold=1, of=2, rate=0.5))
        assert gold.id in ids(page) and len(page) == 2
        label_all(campaign, user, [i for i in page if i.id == gold.id])
    assert CampaignItem.objects.get(id=gold.id).labels_count == 2


# Rule 8: order.

def test_it_serves_items_in_their_random_sort_key_order(annotator: object, campaign: Campaign) -> None:
    queue = list(CampaignItem.objects.filter(campaign=campaign).order_by("sort_key"))
    assert ids(campaign_next_items(campaign=campaign, annotator=annotator, n=5)) == ids(queue[:5])


def test_it_groups_a_page_by_predicted_class_unpredicted_last(annotator: object, campaign: Campaign) -> None:
    campaign.ordering = Campaign.Ordering.PREDICTED_GROUPS
    items = list(CampaignItem.objects.filter(campaign=campaign))
    rng = random.Random(1)
    campaign_set_predictions(campaign=campaign, predictions={
        i.image_id: (rng.choice(LABELS), 0.9, 0.1) for i in items[:8]})
    predicted = {i.id: i.predicted_label for i in CampaignItem.objects.filter(campaign=campaign)}
    sort_keys = {i.id: i.sort_key for i in items}
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=12)
    assert ids(page) == sorted(predicted, key=lambda i: (predicted[i] is None, predicted[i] or "", sort_keys[i]))


def test_it_serves_the_most_uncertain_items_first(annotator: object, campaign: Campaign) -> None:
    campaign.ordering = Campaign.Ordering.UNCERTAINTY
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("id"))
    campaign_set_predictions(campaign=campaign, predictions={
        item.image_id: ("natural", 0.5, index / 100 if index else None) for index, item in enumerate(items)})
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=12)
    assert ids(page) == ids(items[:0:-1]) + [items[0].id]  # unknown uncertainty last


def test_it_serves_disputed_items_first(annotator: object, annotator2: object, researcher: object,
                                        media_root: object) -> None:
    campaign = small_campaign(researcher, n=6, name="dispute", k=3, ordering=Campaign.Ordering.DISAGREEMENT)
    first = campaign_next_items(campaign=campaign, annotator=annotator, n=6)
    second = campaign_next_items(campaign=campaign, annotator=annotator2, n=6)
    label_all(campaign, annotator, first, "natural")
    disputed = second[-1]
    annotations_submit(campaign=campaign, annotator=annotator2, entries=[
        {"item": i.id, "label": "rendition" if i.id == disputed.id else "natural"} for i in second])
    third = campaign_next_items(campaign=campaign, annotator=make_user("third", ANNOTATOR), n=1)
    assert ids(third) == [disputed.id]


# Rule 9: races.

@pytest.mark.django_db(transaction=True)
def test_it_is_safe_under_concurrent_leasing(media_root: object, roles: None) -> None:
    """Twelve annotators ask at once for items of a k=2 campaign: no item goes past k."""
    campaign = small_campaign(make_user("r", "researcher"), n=30, name="race", k=2)
    users = [make_user(f"u{i}", ANNOTATOR) for i in range(12)]
    got: dict[int, list[int]] = {}
    barrier = threading.Barrier(len(users))

    def worker(user: Any) -> None:
        try:
            barrier.wait()
            got[user.id] = ids(campaign_next_items(campaign=campaign, annotator=user, n=10))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_item: dict[int, int] = {}
    for leased in got.values():
        assert len(leased) == len(set(leased))
        for item_id in leased:
            per_item[item_id] = per_item.get(item_id, 0) + 1
    assert max(per_item.values()) <= 2
    for user in users:  # a second, calm round hands out what is left: exactly k=2 per item
        for item in campaign_next_items(campaign=campaign, annotator=user, n=10):
            if item.id not in got[user.id]:
                per_item[item.id] = per_item.get(item.id, 0) + 1
    assert per_item == {item_id: 2 for item_id in per_item} and len(per_item) == 30


# Rule 10: re-lease.

def test_it_returns_expired_leases_to_the_pool(annotator: object, annotator2: object, campaign: Campaign) -> None:
    mine = campaign_next_items(campaign=campaign, annotator=annotator, n=12)
    assert campaign_next_items(campaign=campaign, annotator=annotator2, n=12) == []
    Lease.objects.filter(annotator=annotator).update(expires_at=timezone.now() - timedelta(seconds=1))
    theirs = campaign_next_items(campaign=campaign, annotator=annotator2, n=12)
    assert set(ids(theirs)) == set(ids(mine))
    assert not Lease.objects.filter(annotator=annotator).exists()  # reclaimed


def test_it_renews_the_callers_own_expired_lease_in_place(annotator: object, campaign: Campaign) -> None:
    first, second = campaign_next_items(campaign=campaign, annotator=annotator, n=2)
    Lease.objects.filter(item=first).update(expires_at=timezone.now() - timedelta(seconds=1))
    # The first item is a candidate again (rule 5 spares expired leases) and comes after the live one...
    assert ids(campaign_next_items(campaign=campaign, annotator=annotator, n=2)) == [second.id, first.id]
    # ...but its lease is the old row renewed, so it keeps its place among the own leases (rule 3).
    assert ids(campaign_next_items(campaign=campaign, annotator=annotator, n=2)) == [first.id, second.id]
    assert Lease.objects.filter(annotator=annotator).count() == 2


# Rule 11: late labels.

def test_it_takes_a_late_label_while_the_item_still_has_room(api: object, annotator: object, annotator2: object,
                                                            campaign: Campaign) -> None:
    client = api(annotator)
    late, gone = campaign_next_items(campaign=campaign, annotator=annotator, n=2)
    Lease.objects.filter(annotator=annotator).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post(f"/api/v1/campaigns/{campaign.id}/annotations/", [{"item": late.id, "label": "natural"}],
                           format="json")
    assert response.status_code == 200 and not Lease.objects.filter(item=late).exists()  # a label ends the lease
    # Someone else took the other expired item: the late label is refused, nothing goes past k.
    taken = campaign_next_items(campaign=campaign, annotator=annotator2, n=10)
    assert gone.id in ids(taken)
    response = client.post(f"/api/v1/campaigns/{campaign.id}/annotations/", [{"item": gone.id, "label": "natural"}],
                           format="json")
    assert response.status_code == 400 and "neither leased" in response.json()["detail"]


def test_it_takes_a_late_label_on_a_gold_item_even_when_full(annotator: object, annotator2: object,
                                                            campaign: Campaign) -> None:
    gold, regular = CampaignItem.objects.filter(campaign=campaign)[:2]
    campaign_mark_gold(campaign=campaign, gold={gold.image_id: "natural"})
    past, later = timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(minutes=5)
    for item in (gold, regular):  # the caller's lease ran out; another annotator's is live and labeled
        Lease.objects.create(item=item, annotator=annotator, expires_at=past)
        Lease.objects.create(item=item, annotator=annotator2, expires_at=later)
        annotations_submit(campaign=campaign, annotator=annotator2, entries=[{"item": item.id, "label": "natural"}])
    with pytest.raises(AnnotationBatchError, match="expired and the item went to someone else"):
        annotations_submit(campaign=campaign, annotator=annotator, entries=[{"item": regular.id, "label": "natural"}])
    assert annotations_submit(campaign=campaign, annotator=annotator,
                              entries=[{"item": gold.id, "label": "natural"}])["created"] == 1


# Rule 12: cap.

def test_it_caps_what_one_annotator_holds_at_a_quarter_of_the_campaign(api: object, annotator: object,
                                                                      annotator2: object, researcher: object,
                                                                      media_root: object) -> None:
    campaign = small_campaign(researcher, n=20, name="twenty", k=1)
    assert leasing.lease_cap(label_slots=20) == 5
    body = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=25").json()
    assert body["lease_cap"] == 5 and len(body["items"]) == 5
    again = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=25").json()
    assert {i["item"] for i in again["items"]} == {i["item"] for i in body["items"]}  # own leases, no more
    assert Lease.objects.filter(annotator=annotator).count() == 5
    other = api(annotator2).post(f"/api/v1/campaigns/{campaign.id}/next/?n=25").json()
    assert len(other["items"]) == 5 and not {i["item"] for i in other["items"]} & {i["item"] for i in body["items"]}
    # Labels free the share: the next ask gets fresh items.
    api(annotator).post(f"/api/v1/campaigns/{campaign.id}/annotations/",
                        [{"item": i["item"], "label": "natural"} for i in body["items"]], format="json")
    fresh = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=25").json()
    assert len(fresh["items"]) == 5 and not {i["item"] for i in fresh["items"]} & {i["item"] for i in body["items"]}


def test_it_counts_every_slot_for_the_cap_gold_included(api: object, annotator: object, researcher: object,
                                                       media_root: object) -> None:
    campaign = small_campaign(researcher, n=9, name="nine", k=1, agreement_fraction=1 / 3, agreement_k=3)
    gold = CampaignItem.objects.filter(campaign=campaign, target_k=3).first()
    campaign_mark_gold(campaign=campaign, gold={gold.image_id: "natural"})
    body = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=25").json()
    # 6 items want 1 label and 3 want 3: 15 slots, a quarter is 4 (3 without the gold item's 3).
    assert body["lease_cap"] == leasing.lease_cap(label_slots=6 * 1 + 3 * 3) == 4


# Rule 13: finish.

def test_it_finishes_a_campaign_once_all_is_labeled_and_no_lease_is_live(api: object, annotator: object,
                                                                         annotator2: object, campaign: Campaign) -> None:
    gold = CampaignItem.objects.filter(campaign=campaign).first()
    campaign_mark_gold(campaign=campaign, gold={gold.image_id: "natural"})
    campaign.gold_rate = 0.1
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=12, rng=rng_drawing(gold=1, of=12, rate=0.1))
    assert len(items) == 12
    label_all(campaign, annotator, [i for i in items if not i.is_gold])
    assert campaign_next_items(campaign=campaign, annotator=annotator2, n=5) == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE  # every regular item is labeled, but a lease is live
    label_all(campaign, annotator, [gold])
    response = api(annotator2).post(f"/api/v1/campaigns/{campaign.id}/next/?n=25")
    assert response.status_code == 200 and response.json()["items"] == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    again = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/")
    assert again.status_code == 200 and again.json()["items"] == []
