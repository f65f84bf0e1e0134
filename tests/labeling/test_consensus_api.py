"""Annotator-aware consensus through the API and pages: Dawid-Skene rule, snapshots, refusals, pauses,
and an annotator's own figures."""
from __future__ import annotations

import pytest

from labeling.models import AnnotatorPause, LabelSnapshot
from labeling.services.campaigns import campaign_update_settings
from labeling.services.quality import gold_set, snapshot_create
from tests.labeling.quality_helpers import labelled_campaign

N, R = "natural", "rendition"
FLIP = {N: R, R: N}
TRUTH = [N, R, N, R, N, R, N, R, N, R]


def _adversary_labels() -> list[list[str | None]]:
    """rater0 and rater1 always right, rater2 always flips. Items 8 and 9: only rater0 and rater2,
    a tie for a majority, no tie for Dawid-Skene."""
    rows: list[list[str | None]] = [[t, t, FLIP[t]] for t in TRUTH[:8]]
    rows += [[t, None, FLIP[t]] for t in TRUTH[8:]]
    return rows


@pytest.fixture
def campaign(media_root, researcher):
    campaign, _, _ = labelled_campaign(labels=_adversary_labels(), owner=researcher)
    return campaign


def test_it_estimates_each_annotators_accuracy_and_confusion(api, researcher, campaign) -> None:
    response = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/consensus/?method=dawid-skene")
    assert response.status_code == 200, response.content
    body = response.json()
    by_name = {a["annotator"]: a for a in body["annotators"]}
    assert by_name["rater2"]["accuracy"] < 0.05 and by_name["rater2"]["below_floor"]
    assert by_name["rater0"]["accuracy"] > 0.95 and not by_name["rater0"]["below_floor"]
    low, high = by_name["rater0"]["accuracy_ci"]
    assert low < by_name["rater0"]["accuracy"] <= high <= 1.0
    classes = body["classes"]
    # rater2 says rendition when the truth is natural.
    assert by_name["rater2"]["confusion"][classes.index(N)][classes.index(R)] > 0.95
    assert body["counts"][N] == 5 and body["counts"][R] == 5
    # Every item has a consensus label and a quality, least sure first; the ties of a majority vote
    # (items 8, 9) are no ties for Dawid-Skene, which knows rater2 flips.
    items = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/consensus/?limit=100").json()["items"]
    assert len(items) == 10 and all(0.5 <= i["quality"] <= 1.0 for i in items)
    assert [i["quality"] for i in items] == sorted(i["quality"] for i in items)
    by_image = {i["image"]: i for i in items}
    assert [by_image[i]["label"] for i in sorted(by_image)] == TRUTH
    assert api(researcher).get(f"/api/v1/campaigns/{campaign.id}/consensus/?limit=x").status_code == 400


def test_it_settles_ties_with_the_dawid_skene_rule_and_records_it_in_snapshots(api, admin_user, campaign) -> None:
    before = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/agreement/?n_boot=0").json()
    assert before["final_labels"]["without"] == 2  # the two ties
    campaign_update_settings(campaign=campaign, changes={"final_label_rule": "dawid-skene"})
    after = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/agreement/?n_boot=0").json()
    assert after["final_labels"]["without"] == 0
    assert after["final_labels"]["by_source"]["dawid-skene"] == 10
    snapshot = snapshot_create(campaign=campaign, name="ds-1", created_by=admin_user)
    assert snapshot.rule == "dawid-skene"
    rows = {r.image_id: r for r in snapshot.labels.all()}
    items = list(campaign.items.order_by("image_id"))
    assert [rows[i.image_id].label for i in items] == TRUTH
    assert {r.source for r in rows.values()} == {"dawid-skene"}
    assert all(r.quality is not None and 0.5 < r.quality <= 1.0 for r in rows.values())


def test_it_keeps_gold_above_the_consensus(api, admin_user, campaign) -> None:
    items = list(campaign.items.order_by("image_id"))
    gold_set(campaign=campaign, labels={items[0].id: R})  # an admin's (odd) gold label wins
    campaign_update_settings(campaign=campaign, changes={"final_label_rule": "dawid-skene"})
    snapshot = snapshot_create(campaign=campaign, name="ds-gold", created_by=admin_user)
    row = snapshot.labels.get(image_id=items[0].image_id)
    assert (row.label, row.source, row.quality) == (R, "gold", 1.0)


@pytest.mark.parametrize("labels, phrase", [
    ([[N], [R], [N]], "only one annotator"),
    ([[N, None], [None, R], [R, None]], "no item has labels from two annotators"),
])
def test_it_explains_that_consensus_needs_overlap(api, client, admin_user, media_root, labels, phrase) -> None:
    campaign, _, _ = labelled_campaign(labels=labels, owner=admin_user, final_label_rule="dawid-skene")
    response = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/consensus/")
    assert response.status_code == 409
    assert response.json()["reason"] == "needs_overlap" and phrase in response.json()["detail"]
    agreement = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/agreement/?n_boot=0")
    assert agreement.status_code == 200
    assert agreement.json()["final_labels"]["reason"] == "needs_overlap"
    assert api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/disagreements/").status_code == 409
    with pytest.raises(Exception, match="needs overlap"):
        snapshot_create(campaign=campaign, name="refused", created_by=admin_user)
    assert not LabelSnapshot.objects.filter(name="refused").exists()
    client.force_login(admin_user)
    page = client.get(f"/campaigns/{campaign.id}/agreement/")
    assert page.status_code == 200
    assert "annotator-aware consensus needs overlap" in page.content.decode()


def test_it_refuses_unknown_methods_and_annotators(api, annotator, researcher, campaign) -> None:
    assert api(researcher).get(f"/api/v1/campaigns/{campaign.id}/consensus/?method=magic").status_code == 400
    assert api(annotator).get(f"/api/v1/campaigns/{campaign.id}/consensus/").status_code == 403


def test_it_pauses_an_annotator_below_the_floor_and_refuses_others(api, admin_user, campaign) -> None:
    raters = {a["annotator"]: a["annotator_id"] for a in
              api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/consensus/").json()["annotators"]}
    good = api(admin_user).post(f"/api/v1/campaigns/{campaign.id}/annotators/{raters['rater0']}/pause/", {})
    assert good.status_code == 400 and "not below the floor" in good.json()["detail"]
    bad = api(admin_user).post(f"/api/v1/campaigns/{campaign.id}/annotators/{raters['rater2']}/pause/",
                               {"reason": "see the confusion matrix"}, format="json")
    assert bad.status_code == 201 and "below the campaign's floor" in bad.json()["reason"]
    from django.contrib.auth.models import User

    rater2 = User.objects.get(username="rater2")
    refused = api(rater2).post(f"/api/v1/campaigns/{campaign.id}/next/?n=5")
    assert refused.status_code == 403
    assert refused.json()["reason"] == "paused" and "An admin paused your labeling" in refused.json()["detail"]
    assert api(User.objects.get(username="rater0")).post(f"/api/v1/campaigns/{campaign.id}/next/?n=5").status_code == 200
    lifted = api(admin_user).delete(f"/api/v1/campaigns/{campaign.id}/annotators/{raters['rater2']}/pause/")
    assert lifted.status_code == 204 and not AnnotatorPause.objects.exists()
    assert api(rater2).post(f"/api/v1/campaigns/{campaign.id}/next/?n=5").status_code == 200


def test_it_shows_an_annotator_only_their_own_gold_accuracy_and_pace(api, client, campaign) -> None:
    from django.contrib.auth.models import User

    items = list(campaign.items.order_by("image_id"))
    gold_set(campaign=campaign, labels={items[0].id: N, items[1].id: R})
    rater2 = User.objects.get(username="rater2")
    body = api(rater2).get(f"/api/v1/campaigns/{campaign.id}/me/quality/").json()
    assert body["gold"] == {"n": 2, "correct": 0, "accuracy": 0.0, "ci95": body["gold"]["ci95"]}
    assert body["gold"]["ci95"][0] == 0.0 and 0 < body["gold"]["ci95"][1] < 1
    assert body["labels"] == 10 and "rater0" not in str(body) and "rater1" not in str(body)
    client.force_login(rater2)
    page = client.get(f"/campaigns/{campaign.id}/me/").content.decode()
    assert "Your gold accuracy" in page and "rater0" not in page and "rater1" not in page


def test_it_gives_the_same_consensus_above_the_crowdkit_size_limit(api, researcher, campaign, monkeypatch) -> None:
    url = f"/api/v1/campaigns/{campaign.id}/consensus/?method=dawid-skene"
    reference = api(researcher).get(url).json()
    monkeypatch.setattr("labeling.selectors.quality.CROWDKIT_MAX_LABELS", 0)  # numpy EM from the first label
    fast = api(researcher).get(url).json()
    for a, b in zip(reference["annotators"], fast["annotators"], strict=True):
        assert a["accuracy"] == pytest.approx(b["accuracy"], abs=1e-6)
        for row_a, row_b in zip(a["confusion"], b["confusion"], strict=True):
            assert [v if v is None else pytest.approx(v, abs=1e-6) for v in row_a] == row_b
    assert reference["counts"] == fast["counts"]
