"""Campaign pages: who may open which, and what they show."""
from __future__ import annotations

import pytest
from django.test import Client

from labeling.models import Campaign, CampaignItem
from labeling.services.campaigns import campaign_create
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def campaign(media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=6)
    return campaign_create(name="Sketchy pool", datasets=[ds], user=researcher)


def test_it_lists_campaigns_for_annotators(annotator: object, campaign: Campaign) -> None:
    page = client_for(annotator).get("/campaigns/").content.decode()
    assert "Sketchy pool" in page and f"/campaigns/{campaign.id}/grid/" in page
    assert "/campaigns/new/" not in page


def test_it_serves_grid_and_single_pages_with_guidelines(annotator: object, campaign: Campaign) -> None:
    for mode in ("grid", "single"):
        response = client_for(annotator).get(f"/campaigns/{campaign.id}/{mode}/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "texture" in page and 'id="labeling-config"' in page and f"js/labeling/{mode}.js" in page
        assert "natural example" in page  # example images per class, from intended_domain


def test_it_refuses_researcher_pages_to_annotators(annotator: object, outsider: object,
                                                   campaign: Campaign) -> None:
    assert client_for(annotator).get("/campaigns/new/").status_code == 403
    for action in ("settings", "status", "members", "predictions"):
        assert client_for(annotator).post(f"/campaigns/{campaign.id}/{action}/").status_code == 403
    # The campaign page answers an annotator with their own view: no settings, no other people's work.
    mine = client_for(annotator).get(f"/campaigns/{campaign.id}/")
    assert mine.status_code == 200 and 'id="my-campaign-progress"' in mine.content.decode()
    assert "settings-form" not in mine.content.decode() and "per-day" not in mine.content.decode()
    assert client_for(outsider).get(f"/campaigns/{campaign.id}/grid/").status_code == 403
    assert Client().get("/campaigns/").status_code == 302  # to the login page


def test_it_creates_a_campaign_from_the_form(researcher: object, media_root: object) -> None:
    ds = make_dataset(name="forms")
    make_images(dataset=ds, n=10)
    response = client_for(researcher).post("/campaigns/new/", {
        "name": "From the form", "datasets": [ds.id], "seed": 0, "k": 1, "agreement_fraction": 0.2,
        "agreement_k": 3, "ordering": "random", "lease_minutes": 10, "guidelines": "# Rules\nTexture.",
    })
    campaign = Campaign.objects.get(name="From the form")
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.id}/"
    assert CampaignItem.objects.filter(campaign=campaign, target_k=3).count() == 2
    detail = client_for(researcher).get(response["Location"]).content.decode()
    assert "items complete at k" in detail and "0 / 10" in detail


def test_it_shows_form_errors_without_creating(researcher: object, media_root: object) -> None:
    empty = make_dataset(name="empty")
    response = client_for(researcher).post("/campaigns/new/", {
        "name": "Nothing", "datasets": [empty.id], "seed": 0, "k": 1, "agreement_fraction": 0,
        "agreement_k": 3, "ordering": "random", "lease_minutes": 10})
    assert response.status_code == 200 and "no images" in response.content.decode()
    assert not Campaign.objects.filter(name="Nothing").exists()
