"""GET /api/v1/me/annotations/ and /api/v1/me/progress/: the caller's own labels and figures only."""
from __future__ import annotations

import pytest

from labeling.models import Annotation, CampaignItem
from labeling.services.campaigns import annotations_submit, campaign_create, campaign_next_items
from tests.factories import make_dataset, make_images


@pytest.fixture
def labeled(media_root: object, researcher: object, annotator: object, annotator2: object) -> tuple:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=12)
    campaign = campaign_create(name="c", datasets=[ds], k=2, user=researcher)
    mine = campaign_next_items(campaign=campaign, annotator=annotator, n=4)
    annotations_submit(campaign=campaign, annotator=annotator,
                       entries=[{"item": i.id, "label": lab, "seconds": 3.0}
                                for i, lab in zip(mine, ["natural", "natural", "rendition", "natural"], strict=True)])
    theirs = campaign_next_items(campaign=campaign, annotator=annotator2, n=2)
    annotations_submit(campaign=campaign, annotator=annotator2,
                       entries=[{"item": i.id, "label": "ambiguous"} for i in theirs])
    CampaignItem.objects.filter(pk__in=[mine[0].id, mine[2].id]).update(is_gold=True, gold_label="natural")
    return campaign, mine, theirs


@pytest.mark.django_db
def test_it_lists_only_my_labels_with_filters(api: object, annotator: object, labeled: tuple) -> None:
    campaign, mine, _ = labeled
    order = list(Annotation.objects.filter(annotator=annotator).order_by("created_at", "id")
                 .values_list("item_id", "label"))
    body = api(annotator).get("/api/v1/me/annotations/").json()
    assert body["count"] == 4 and [r["item"] for r in body["results"]] == [item for item, _ in order]
    assert {r["item"] for r in body["results"]} == {i.id for i in mine}
    natural = [item for item, label in order if label == "natural"]
    body = api(annotator).get(f"/api/v1/me/annotations/?campaign={campaign.id}&label=natural&limit=2&offset=1").json()
    assert body["count"] == 3 and [r["item"] for r in body["results"]] == natural[1:3]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["label=%3Cscript%3E", "day=yesterday", "campaign=999999", "limit=0", "offset=-1"])
def test_it_refuses_bad_filters_with_a_reason(api: object, annotator: object, labeled: tuple, query: str) -> None:
    response = api(annotator).get(f"/api/v1/me/annotations/?{query}")
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.django_db
def test_it_reports_my_pace_and_gold_accuracy(api: object, annotator: object, annotator2: object,
                                              labeled: tuple) -> None:
    campaign, mine, theirs = labeled
    body = api(annotator).get("/api/v1/me/progress/").json()
    assert body["labels"] == 4
    (row,) = body["campaigns"]
    assert row["campaign"] == campaign.id and row["seconds_per_label"] == 3.0
    assert row["gold_labeled"] == 2 and row["gold_accuracy"] == 0.5
    other = api(annotator2).get("/api/v1/me/progress/").json()
    their_gold = len({i.id for i in theirs} & {mine[0].id, mine[2].id})  # ann2 said "ambiguous" on each
    assert other["labels"] == 2 and other["campaigns"][0]["gold_labeled"] == their_gold
    assert other["campaigns"][0]["gold_accuracy"] == (0.0 if their_gold else None)
