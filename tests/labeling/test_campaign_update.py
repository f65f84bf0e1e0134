"""PATCH /api/v1/campaigns/{id}/: researchers change settings; the item set stays as created."""
from __future__ import annotations

from pathlib import Path

import pytest

from labeling.models import Campaign
from labeling.services.campaigns import campaign_create
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(media_root: Path, researcher) -> Campaign:
    dataset = make_dataset()
    make_images(dataset=dataset, n=6)
    return campaign_create(name="c", datasets=[dataset], user=researcher)


def test_it_changes_settings_for_researchers(api, researcher, campaign: Campaign) -> None:
    response = api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {
        "lease_minutes": 30, "gold_rate": 0.1, "guidelines": "# Short rules", "ordering": "uncertainty",
        "uncertainty_measure": "entropy", "show_suggestions": True}, format="json")
    assert response.status_code == 200, response.json()
    campaign.refresh_from_db()
    assert (campaign.lease_minutes, campaign.gold_rate, campaign.guidelines) == (30, 0.1, "# Short rules")
    assert (campaign.ordering, campaign.uncertainty_measure, campaign.show_suggestions) == (
        "uncertainty", "entropy", True)
    assert response.json()["ordering"] == "uncertainty"


def test_it_finishes_then_archives_a_campaign(api, researcher, annotator, campaign: Campaign) -> None:
    assert api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"status": "finished"},
                                 format="json").status_code == 200
    page = api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=5")
    assert page.status_code == 200 and page.json()["items"] == []  # finished: an empty page, no error
    assert api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"status": "archived"},
                                 format="json").status_code == 200
    assert api(annotator).post(f"/api/v1/campaigns/{campaign.id}/next/?n=5").status_code == 404  # hidden


def test_it_refuses_to_reshape_the_item_set(api, researcher, campaign: Campaign) -> None:
    response = api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"k": 3, "lease_minutes": 5},
                                     format="json")
    assert response.status_code == 400 and "k" in response.json()["detail"]
    campaign.refresh_from_db()
    assert (campaign.k, campaign.lease_minutes) == (1, 10)  # nothing of the request applied


def test_it_rejects_bad_values_and_annotators(api, researcher, annotator, campaign: Campaign) -> None:
    assert api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"ordering": "loudest"},
                                 format="json").status_code == 400
    assert api(researcher).patch(f"/api/v1/campaigns/{campaign.id}/", {"gold_rate": 1.5},
                                 format="json").status_code == 400
    assert api(annotator).patch(f"/api/v1/campaigns/{campaign.id}/", {"lease_minutes": 1},
                                format="json").status_code == 403
    campaign.refresh_from_db()
    assert campaign.lease_minutes == 10 and campaign.ordering == "random"
