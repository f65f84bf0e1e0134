"""Campaign creation, listing, detail and progress through the HTTP API."""
from __future__ import annotations

import pytest

from labeling.domains import DEFAULT_COLOURS
from labeling.guidelines import DEFAULT_GUIDELINES
from labeling.models import Campaign, CampaignItem
from labeling.services.campaigns import CampaignError, campaign_create
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(media_root: object) -> object:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=20)
    return ds


def test_it_creates_a_campaign_with_defaults(api: object, researcher: object, dataset: object) -> None:
    response = api(researcher).post("/api/v1/campaigns/", {"name": "c1", "datasets": [dataset.id]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [c["name"] for c in body["label_choices"]] == ["natural", "rendition", "ambiguous"]
    assert [c["key"] for c in body["label_choices"]] == ["1", "2", "3"]
    assert body["label_choices"][0]["colour"] == DEFAULT_COLOURS["natural"]
    assert body["guidelines"] == DEFAULT_GUIDELINES
    assert body["lease_minutes"] == 10 and body["status"] == "active"
    assert CampaignItem.objects.filter(campaign_id=body["id"]).count() == 20


def test_it_gives_an_agreement_subset_its_own_k(researcher: object, dataset: object) -> None:
    campaign = campaign_create(name="c", datasets=[dataset], k=1, agreement_fraction=0.1, agreement_k=3,
                               user=researcher)
    targets = sorted(CampaignItem.objects.filter(campaign=campaign).values_list("target_k", flat=True))
    assert targets == [1] * 18 + [3] * 2


def test_it_samples_reproducibly(researcher: object, dataset: object) -> None:
    a = campaign_create(name="a", datasets=[dataset], sample=5, seed=7, user=researcher)
    b = campaign_create(name="b", datasets=[dataset], sample=5, seed=7, user=researcher)
    ids = [set(CampaignItem.objects.filter(campaign=c).values_list("image_id", flat=True)) for c in (a, b)]
    assert len(ids[0]) == 5 and ids[0] == ids[1]


def test_it_refuses_bad_campaigns_clearly(api: object, researcher: object, dataset: object) -> None:
    client = api(researcher)
    empty = make_dataset(name="empty")
    response = client.post("/api/v1/campaigns/", {"name": "x", "datasets": [empty.id]}, format="json")
    assert response.status_code == 400 and "no images" in response.json()["detail"]
    assert not Campaign.objects.filter(name="x").exists()
    response = client.post("/api/v1/campaigns/", {"name": "y", "datasets": [dataset.id], "ordering": "alphabetical"},
                           format="json")
    assert response.status_code == 400 and "ordering" in response.json()
    with pytest.raises(CampaignError, match="twice"):
        campaign_create(name="z", datasets=[dataset], user=researcher,
                        label_choices=[{"name": "a", "key": "1"}, {"name": "a", "key": "2"}])


def test_it_lets_only_researchers_create(api: object, annotator: object, outsider: object, dataset: object) -> None:
    payload = {"name": "c1", "datasets": [dataset.id]}
    assert api(annotator).post("/api/v1/campaigns/", payload, format="json").status_code == 403
    assert api(outsider).post("/api/v1/campaigns/", payload, format="json").status_code == 403
    assert api(None).post("/api/v1/campaigns/", payload, format="json").status_code in (401, 403)
    assert not Campaign.objects.exists()


def test_it_shows_annotators_only_active_campaigns(api: object, annotator: object, researcher: object,
                                                   dataset: object) -> None:
    active = campaign_create(name="active", datasets=[dataset], user=researcher)
    archived = campaign_create(name="archived", datasets=[dataset], user=researcher)
    archived.status = Campaign.Status.ARCHIVED
    archived.save()
    assert [c["name"] for c in api(annotator).get("/api/v1/campaigns/").json()] == ["active"]
    assert {c["name"] for c in api(researcher).get("/api/v1/campaigns/").json()} == {"active", "archived"}
    assert api(annotator).get(f"/api/v1/campaigns/{archived.id}/").status_code == 404
    assert api(annotator).get(f"/api/v1/campaigns/{active.id}/").json()["name"] == "active"


def test_it_reports_progress_by_role(api: object, annotator: object, researcher: object, dataset: object) -> None:
    campaign = campaign_create(name="c", datasets=[dataset], k=1, user=researcher)
    client = api(annotator)
    items = client.post(f"/api/v1/campaigns/{campaign.id}/next/?n=5").json()["items"]
    client.post(f"/api/v1/campaigns/{campaign.id}/annotations/",
                [{"item": i["item"], "label": "natural", "seconds": 1.5} for i in items], format="json")
    mine = client.get(f"/api/v1/campaigns/{campaign.id}/progress/").json()
    assert mine["me"]["done"] == 5 and mine["me"]["target"] == 20 and mine["items_complete"] == 5
    assert "per_annotator_per_day" not in mine
    full = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/progress/").json()
    assert full["per_annotator_per_day"][0]["annotator"] == "ann"
    assert full["per_annotator_per_day"][0]["labels"] == 5
    assert full["per_annotator"][0]["seconds_per_label"] == 1.5


def test_it_still_builds_the_schema(api: object, annotator: object) -> None:
    assert api(annotator).get("/api/v1/schema/").status_code == 200
