"""Leasing: POST /api/v1/campaigns/{id}/next/ and campaign_next_items."""
from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labeling.models import Campaign, CampaignItem, Lease
from labeling.services.campaigns import (
    annotations_submit,
    campaign_create,
    campaign_mark_gold,
    campaign_next_items,
    campaign_set_predictions,
)
from tests.conftest import ANNOTATOR, make_user
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.usefixtures("statement_set")


@pytest.fixture
def campaign(media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=12)
    return campaign_create(name="c", datasets=[ds], k=1, user=researcher)


def label_all(campaign: Campaign, user: object, items: list[CampaignItem], label: str = "natural") -> None:
    annotations_submit(campaign=campaign, annotator=user, entries=[{"item": i.id, "label": label} for i in items])


@pytest.mark.django_db
def test_it_leases_up_to_n_items_with_urls(api: object, annotator: object, campaign: Campaign) -> None:
    body = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=3").json()
    assert len(body["items"]) == 3
    first = body["items"][0]
    assert first["thumb"] == f"/api/v1/images/{first['image']}/thumb/"
    assert first["file"] == f"/api/v1/images/{first['image']}/file/"
    assert first["width"] == 96 and "suggestion" not in first
    assert Lease.objects.filter(annotator=annotator).count() == 3


@pytest.mark.django_db
def test_it_returns_the_callers_live_leases_again(annotator: object, campaign: Campaign) -> None:
    first = campaign_next_items(campaign=campaign, annotator=annotator, n=5)
    again = campaign_next_items(campaign=campaign, annotator=annotator, n=5)
    assert [i.id for i in again] == [i.id for i in first]
    more = campaign_next_items(campaign=campaign, annotator=annotator, n=8)
    assert [i.id for i in more][:5] == [i.id for i in first] and len(set(i.id for i in more)) == 8


@pytest.mark.django_db
def test_it_never_leases_an_item_past_k(annotator: object, annotator2: object, campaign: Campaign) -> None:
    mine = {i.id for i in campaign_next_items(campaign=campaign, annotator=annotator, n=8)}
    theirs = {i.id for i in campaign_next_items(campaign=campaign, annotator=annotator2, n=8)}
    assert not mine & theirs and len(theirs) == 4  # k=1: only 12 - 8 items remain


@pytest.mark.django_db
def test_it_never_gives_an_annotator_an_item_twice(annotator: object, researcher: object, media_root: object) -> None:
    ds = make_dataset(name="small")
    make_images(dataset=ds, n=3)
    campaign = campaign_create(name="k3", datasets=[ds], k=3, user=researcher)
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=10)
    assert len(items) == 3
    label_all(campaign, annotator, items)
    assert campaign_next_items(campaign=campaign, annotator=annotator, n=10) == []
    assert len(campaign_next_items(campaign=campaign, annotator=make_user("other", ANNOTATOR), n=10)) == 3


@pytest.mark.django_db
def test_it_returns_expired_leases_to_the_pool(annotator: object, annotator2: object, campaign: Campaign) -> None:
    mine = campaign_next_items(campaign=campaign, annotator=annotator, n=12)
    assert campaign_next_items(campaign=campaign, annotator=annotator2, n=12) == []
    Lease.objects.filter(annotator=annotator).update(expires_at=timezone.now() - timedelta(seconds=1))
    theirs = campaign_next_items(campaign=campaign, annotator=annotator2, n=12)
    assert {i.id for i in theirs} == {i.id for i in mine}
    assert not Lease.objects.filter(annotator=annotator).exists()  # reclaimed


@pytest.mark.django_db
def test_it_answers_a_finished_campaign_with_an_empty_list(api: object, annotator: object,
                                                          campaign: Campaign) -> None:
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=12)
    label_all(campaign, annotator, items)
    response = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=25")
    assert response.status_code == 200 and response.json()["items"] == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    again = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/")
    assert again.status_code == 200 and again.json()["items"] == []


@pytest.mark.django_db
def test_it_refuses_a_bad_page_size(api: object, annotator: object, campaign: Campaign) -> None:
    for bad in ("0", "abc", "1000"):
        response = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n={bad}")
        assert response.status_code == 400 and "n must" in response.json()["detail"]


@pytest.mark.django_db
def test_it_groups_a_page_by_predicted_class_and_shows_suggestions(api: object, annotator: object,
                                                                  campaign: Campaign) -> None:
    campaign.ordering = Campaign.Ordering.PREDICTED_GROUPS
    campaign.show_suggestions = True
    campaign.save()
    items = list(CampaignItem.objects.filter(campaign=campaign))
    rng = random.Random(1)
    campaign_set_predictions(campaign=campaign, predictions={
        i.image_id: (rng.choice(["natural", "rendition", "ambiguous"]), 0.9, 0.1) for i in items})
    page = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=12").json()["items"]
    suggestions = [p["suggestion"] for p in page]
    assert suggestions == sorted(suggestions) and len(set(suggestions)) > 1


@pytest.mark.django_db
def test_it_mixes_gold_items_at_the_gold_rate(annotator: object, campaign: Campaign) -> None:
    items = list(CampaignItem.objects.filter(campaign=campaign))
    campaign_mark_gold(campaign=campaign, gold={i.image_id: "natural" for i in items[:4]})
    campaign.gold_rate = 0.5
    campaign.save()
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=8, rng=random.Random(3))
    gold = [i for i in page if i.is_gold]
    assert 1 <= len(gold) <= 4 and len(page) == 8


@pytest.mark.django_db(transaction=True)
def test_it_is_safe_under_concurrent_leasing(media_root: object, roles: None) -> None:
    """Twelve annotators ask at once for items of a k=2 campaign: no item goes past k."""
    researcher = make_user("r", "researcher")
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=30)
    campaign = campaign_create(name="c", datasets=[ds], k=2, user=researcher)
    users = [make_user(f"u{i}", ANNOTATOR) for i in range(12)]
    got: dict[int, list[int]] = {}
    barrier = threading.Barrier(len(users))

    def worker(user: object) -> None:
        try:
            barrier.wait()
            got[user.id] = [i.id for i in campaign_next_items(campaign=campaign, annotator=user, n=10)]
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_item: dict[int, int] = {}
    for ids in got.values():
        assert len(ids) == len(set(ids))
        for item_id in ids:
            per_item[item_id] = per_item.get(item_id, 0) + 1
    assert max(per_item.values()) <= 2
    for user in users:  # a second, calm round hands out what is left: exactly k=2 per item
        for item in campaign_next_items(campaign=campaign, annotator=user, n=10):
            if item.id not in got[user.id]:
                per_item[item.id] = per_item.get(item.id, 0) + 1
    assert per_item == {item_id: 2 for item_id in per_item} and len(per_item) == 30


@pytest.mark.django_db
def test_it_purges_long_expired_leases(annotator: object, campaign: Campaign) -> None:
    from labeling.tasks.campaigns import purge_expired_leases

    items = campaign_next_items(campaign=campaign, annotator=annotator, n=4)
    Lease.objects.filter(item=items[0]).update(expires_at=timezone.now() - timedelta(hours=2))
    Lease.objects.filter(item=items[1]).update(expires_at=timezone.now() - timedelta(minutes=5))
    assert purge_expired_leases(grace_minutes=60) == 1
    assert set(Lease.objects.values_list("item_id", flat=True)) == {i.id for i in items[1:]}


@pytest.mark.django_db
def test_it_serves_the_most_uncertain_items_first(annotator: object, campaign: Campaign) -> None:
    campaign.ordering = Campaign.Ordering.UNCERTAINTY
    campaign.save()
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("id"))
    campaign_set_predictions(campaign=campaign, predictions={
        item.image_id: ("natural", 0.5, index / 100) for index, item in enumerate(items)})
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=3)
    assert [i.id for i in page] == [i.id for i in items[::-1][:3]]


@pytest.mark.django_db
def test_it_serves_disputed_items_first(annotator: object, annotator2: object, researcher: object,
                                        media_root: object) -> None:
    ds = make_dataset(name="dispute")
    make_images(dataset=ds, n=6)
    campaign = campaign_create(name="d", datasets=[ds], k=3, ordering=Campaign.Ordering.DISAGREEMENT,
                               user=researcher)
    first = campaign_next_items(campaign=campaign, annotator=annotator, n=6)
    second = campaign_next_items(campaign=campaign, annotator=annotator2, n=6)
    label_all(campaign, annotator, first, "natural")
    disputed = second[-1]
    annotations_submit(campaign=campaign, annotator=annotator2, entries=[
        {"item": i.id, "label": "rendition" if i.id == disputed.id else "natural"} for i in second])
    third = campaign_next_items(campaign=campaign, annotator=make_user("third", ANNOTATOR), n=1)
    assert [i.id for i in third] == [disputed.id]


@pytest.mark.django_db
def test_it_caps_what_one_annotator_holds_at_a_quarter_of_the_campaign(api: object, annotator: object,
                                                                      annotator2: object, researcher: object) -> None:
    ds = make_dataset(name="twenty")
    make_images(dataset=ds, n=20)
    campaign = campaign_create(name="twenty", datasets=[ds], k=1, user=researcher)
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
