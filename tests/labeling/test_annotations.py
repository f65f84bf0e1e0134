"""Annotations: POST /api/v1/campaigns/{id}/annotations/ (bulk, idempotent, atomic, with history)."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from labeling.models import Annotation, AnnotationHistory, Campaign, CampaignItem, Lease
from labeling.services.campaigns import annotations_submit, campaign_create, campaign_next_items
from tests.factories import make_dataset, make_images

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("statement_set")]


@pytest.fixture
def campaign(media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=6)
    return campaign_create(name="c", datasets=[ds], k=1, user=researcher)


def post(client: object, campaign: Campaign, payload: object) -> object:
    return client.post(f"/api/v1/campaigns/{campaign.id}/annotations/", payload, format="json")


def test_it_stores_a_batch_and_counts_labels(api: object, annotator: object, campaign: Campaign) -> None:
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=3)
    response = post(api(annotator), campaign, [{"item": i.id, "label": "rendition", "seconds": 2} for i in items])
    assert response.status_code == 200 and response.json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert list(Annotation.objects.values_list("label", flat=True)) == ["rendition"] * 3
    assert set(CampaignItem.objects.filter(id__in=[i.id for i in items]).values_list("labels_count", flat=True)) == {1}
    assert not Lease.objects.filter(annotator=annotator).exists()  # a label ends the lease


def test_it_updates_on_resubmit_and_keeps_history(api: object, annotator: object, campaign: Campaign) -> None:
    client = api(annotator)
    item = campaign_next_items(campaign=campaign, annotator=annotator, n=1)[0]
    post(client, campaign, {"annotations": [{"item": item.id, "label": "natural", "seconds": 1}]})
    again = post(client, campaign, [{"item": item.id, "label": "natural", "seconds": 1}])
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 1}  # a retry changes nothing
    changed = post(client, campaign, [{"item": item.id, "label": "ambiguous", "seconds": 3}])
    assert changed.json() == {"created": 0, "updated": 1, "unchanged": 0}
    annotation = Annotation.objects.get()
    assert annotation.label == "ambiguous" and annotation.seconds == 4
    item.refresh_from_db()
    assert item.labels_count == 1
    history = list(AnnotationHistory.objects.values_list("old_label", "new_label", "changed_by__username"))
    assert history == [("", "natural", "ann"), ("natural", "ambiguous", "ann")]


def test_it_refuses_the_whole_batch_on_one_bad_entry(api: object, annotator: object, annotator2: object,
                                                    campaign: Campaign, researcher: object) -> None:
    client = api(annotator)
    mine = campaign_next_items(campaign=campaign, annotator=annotator, n=2)
    theirs = campaign_next_items(campaign=campaign, annotator=annotator2, n=1)[0]
    other = campaign_create(name="other", datasets=list(campaign.datasets.all()), user=researcher)
    foreign = CampaignItem.objects.filter(campaign=other).first()
    cases = [
        ({"item": mine[1].id, "label": "cat"}, "unknown label 'cat'"),
        ({"item": foreign.id, "label": "natural"}, "not part of the campaign"),
        ({"item": theirs.id, "label": "natural"}, "neither leased to you nor labeled by you"),
        ({"item": mine[1].id, "label": "natural", "seconds": -1}, "seconds"),
    ]
    for bad, message in cases:
        response = post(client, campaign, [{"item": mine[0].id, "label": "natural"}, bad])
        assert response.status_code == 400, bad
        assert message in response.json()["detail"], response.json()
        assert Annotation.objects.count() == 0 and AnnotationHistory.objects.count() == 0
    assert Lease.objects.filter(annotator=annotator).count() == 2  # leases untouched too
    assert post(client, campaign, {"nope": 1}).status_code == 400


def test_it_never_shows_other_annotators_labels(api: object, annotator: object, annotator2: object,
                                               researcher: object, media_root: object) -> None:
    ds = make_dataset(name="k2")
    make_images(dataset=ds, n=2)
    campaign = campaign_create(name="k2", datasets=[ds], k=2, show_suggestions=True, user=researcher)
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=2)
    post(api(annotator), campaign, [{"item": i.id, "label": "rendition"} for i in items])
    body = api(annotator2).post(f"/api/v1/campaigns/{campaign.id}/next/?n=2").content.decode()
    progress = api(annotator2).get(f"/api/v1/campaigns/{campaign.id}/progress/").content.decode()
    assert "rendition" not in body and "rendition" not in progress and "ann\"" not in progress


def test_it_refuses_labels_on_an_archived_campaign(api: object, annotator: object, campaign: Campaign) -> None:
    item = campaign_next_items(campaign=campaign, annotator=annotator, n=1)[0]
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.ARCHIVED)
    assert post(api(annotator), campaign, [{"item": item.id, "label": "natural"}]).status_code == 404


def test_it_refuses_labels_on_a_finished_campaign_until_a_researcher_reopens_it(
        api: object, annotator: object, researcher: object, campaign: Campaign) -> None:
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=2)
    post(api(annotator), campaign, [{"item": items[0].id, "label": "natural"}])
    finished = api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"status": "finished"}, format="json")
    assert finished.status_code == 200
    for entry in ({"item": items[1].id, "label": "natural"}, {"item": items[0].id, "label": "rendition"}):
        refused = post(api(annotator), campaign, [entry])
        assert refused.status_code == 409, refused.content
        assert "finished" in refused.json()["detail"] and "reopen" in refused.json()["detail"]
    assert list(Annotation.objects.filter(item__campaign=campaign).values_list("item_id", "label")) == [
        (items[0].id, "natural")]
    assert api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/").json()["items"] == []
    reopened = api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"status": "active"}, format="json")
    assert reopened.status_code == 200
    assert post(api(annotator), campaign, [{"item": items[1].id, "label": "natural"}]).json()["created"] == 1


@pytest.mark.django_db(transaction=True)
def test_it_stores_a_page_once_when_the_same_batch_races(annotator: object, researcher: object,
                                                         media_root: object) -> None:
    """A retry racing its own first attempt (double submit, flaky network): every copy answers 200,
    each item ends with one annotation, one history row and labels_count 1."""
    ds = make_dataset(name="race")
    make_images(dataset=ds, n=10)
    campaign = campaign_create(name="race", datasets=[ds], k=1, user=researcher)
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=10)
    batch = [{"item": i.id, "label": "rendition", "seconds": 1} for i in items]
    barrier = threading.Barrier(6)
    results: list[object] = []

    def submit() -> None:
        try:
            barrier.wait()
            results.append(annotations_submit(campaign=campaign, annotator=annotator, entries=batch))
        except Exception as error:  # noqa: BLE001 - the assertion below reports it
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, dict) for r in results), results
    assert sorted(r["created"] for r in results) == [0] * 5 + [10]
    assert Annotation.objects.filter(item__campaign=campaign).count() == 10
    assert AnnotationHistory.objects.filter(annotation__item__campaign=campaign).count() == 10
    assert set(CampaignItem.objects.filter(campaign=campaign).values_list("labels_count", flat=True)) == {1}
