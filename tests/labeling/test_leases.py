"""Leasing: POST /api/v1/campaigns/{id}/next/ and campaign_next_items, what is not a rule of
leasing (the page payload, its cost, housekeeping); the rules are held in test_lease_rules.py."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling.models import Campaign, CampaignItem, Lease
from labeling.services.campaigns import campaign_create, campaign_next_items, campaign_set_predictions
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.usefixtures("statement_set")


@pytest.fixture
def campaign(media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=12)
    return campaign_create(name="c", datasets=[ds], k=1, user=researcher)


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
def test_it_purges_long_expired_leases(annotator: object, campaign: Campaign) -> None:
    from labeling.tasks.campaigns import purge_expired_leases

    items = campaign_next_items(campaign=campaign, annotator=annotator, n=4)
    Lease.objects.filter(item=items[0]).update(expires_at=timezone.now() - timedelta(hours=2))
    Lease.objects.filter(item=items[1]).update(expires_at=timezone.now() - timedelta(minutes=5))
    assert purge_expired_leases(grace_minutes=60) == 1
    assert set(Lease.objects.values_list("item_id", flat=True)) == {i.id for i in items[1:]}


@pytest.mark.django_db
def test_it_leases_a_page_in_the_statements_its_docstring_promises(statement_set: str, annotator: object,
                                                                   campaign: Campaign) -> None:
    """PostgreSQL: the pause check and 4 statements for a new page, 2 when the caller's own leases
    fill it (campaign_next_items' cost); the ORM 6 and 4."""

    def statements() -> int:
        with CaptureQueriesContext(connection) as run:
            assert len(campaign_next_items(campaign=campaign, annotator=annotator, n=5)) == 5
        return sum("SAVEPOINT" not in query["sql"] for query in run.captured_queries)

    assert (statements(), statements()) == {"postgresql": (5, 3), "orm": (6, 4)}[statement_set]
