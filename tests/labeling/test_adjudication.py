"""The disagreement queue and adjudication: admins only, most contested first, history kept."""
from __future__ import annotations

import pytest

from labeling.models import Adjudication, CampaignItem
from labeling.selectors.quality import campaign_label_table
from labeling.services.quality import campaign_quality_update
from tests.labeling.quality_helpers import labelled_campaign

N, R, A = "natural", "rendition", "ambiguous"


@pytest.fixture
def setup(media_root, researcher):
    # 0 unanimous, 1 two to one, 2 three-way tie, 3 unanimous, 4 one 'ambiguous' among naturals,
    # 5 a gold miss (gold rendition, labelled natural by all), 6 unanimous ambiguous
    labels = [[N, N, N], [N, N, R], [N, R, A], [R, R, R], [N, N, A], [N, N, N], [A, A, A]]
    campaign, items, raters = labelled_campaign(labels=labels, owner=researcher)
    CampaignItem.objects.filter(pk=items[5].pk).update(is_gold=True, gold_label=R)
    return campaign, items, raters


def test_it_queues_disputed_ambiguous_and_gold_missed_items_most_contested_first(api, admin_user, setup) -> None:
    campaign, items, _ = setup
    body = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/disagreements/").json()
    order = [entry["item"] for entry in body["results"]]
    assert order[0] == items[2].id  # the three-way tie
    assert set(order) == {items[1].id, items[2].id, items[4].id, items[5].id, items[6].id}
    assert body["count"] == 5
    assert order[-1] == items[6].id  # unanimous: the least contested
    gold_miss = next(e for e in body["results"] if e["item"] == items[5].id)
    assert gold_miss["reasons"] == ["gold_miss"] and gold_miss["gold_label"] == R
    tie = body["results"][0]
    assert {(entry["annotator"], entry["label"]) for entry in tie["labels"]} == {
        ("rater0", N), ("rater1", R), ("rater2", A)}


def test_it_leaves_lone_ambiguous_labels_out_when_the_switch_is_off(api, admin_user, setup) -> None:
    campaign, items, _ = setup
    campaign_quality_update(campaign=campaign, queue_ambiguous=False)
    body = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/disagreements/").json()
    queued = [e["item"] for e in body["results"]]
    assert items[6].id not in queued  # everyone agreed on ambiguous: nothing to decide
    assert items[4].id in queued  # still a disagreement


def test_it_records_a_final_label_with_a_reason_and_keeps_history(api, admin_user, setup) -> None:
    campaign, items, _ = setup
    client = api(admin_user)
    url = f"/api/v1/campaigns/{campaign.id}/adjudications/"
    first = client.post(url, {"item": items[2].id, "label": A, "reason": "collage"}, format="json")
    assert first.status_code == 201
    second = client.post(url, {"item": items[2].id, "label": R, "reason": "mostly drawn", "make_gold": True},
                         format="json")
    assert second.status_code == 201
    history = list(Adjudication.objects.filter(item=items[2]).values_list("label", "reason"))
    assert history == [(A, "collage"), (R, "mostly drawn")]
    table = campaign_label_table(campaign=campaign)
    final, _ = table.final
    assert table.class_names[final[list(table.item_ids).index(items[2].id)]] == R
    assert CampaignItem.objects.get(pk=items[2].pk).gold_label == R
    queue = client.get(f"/api/v1/campaigns/{campaign.id}/disagreements/").json()
    assert items[2].id not in [e["item"] for e in queue["results"]]


def test_it_takes_a_decision_without_reason_and_refuses_an_unknown_label(api, admin_user, setup) -> None:
    campaign, items, _ = setup
    url = f"/api/v1/campaigns/{campaign.id}/adjudications/"
    response = api(admin_user).post(url, {"item": items[1].id, "label": N}, format="json")
    assert response.status_code == 201 and response.json()["reason"] == ""
    response = api(admin_user).post(url, {"item": items[1].id, "label": "cat", "reason": "x"}, format="json")
    assert response.status_code == 400 and "unknown label" in response.json()["detail"]


@pytest.mark.parametrize("who", ["annotator", "researcher"])
def test_it_keeps_adjudication_and_other_peoples_labels_from_non_admins(api, request, setup, who) -> None:
    campaign, items, _ = setup
    client = api(request.getfixturevalue(who))
    assert client.get(f"/api/v1/campaigns/{campaign.id}/disagreements/").status_code == 403
    response = client.post(f"/api/v1/campaigns/{campaign.id}/adjudications/",
                           {"item": items[1].id, "label": N, "reason": "x"}, format="json")
    assert response.status_code == 403
    assert not Adjudication.objects.exists()


def test_it_shows_the_adjudication_page_to_admins_only(client, admin_user, annotator, researcher, setup) -> None:
    campaign, items, _ = setup
    client.force_login(admin_user)
    page = client.get(f"/campaigns/{campaign.id}/adjudicate/")
    assert page.status_code == 200
    assert b"rater1" in page.content and f"/api/v1/images/{items[2].image_id}/file/".encode() in page.content
    for user in (annotator, researcher):
        client.force_login(user)
        assert client.get(f"/campaigns/{campaign.id}/adjudicate/").status_code == 403


def test_it_records_a_decision_from_the_page_form(client, admin_user, setup) -> None:
    campaign, items, _ = setup
    client.force_login(admin_user)
    response = client.post(f"/campaigns/{campaign.id}/adjudicate/",
                           {"item": items[1].id, "label": N, "reason": "clear photo"})
    assert response.status_code == 302
    assert Adjudication.objects.get(item=items[1]).decided_by == admin_user
