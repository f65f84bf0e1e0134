"""Agreement through the API and the command; annotators see no figures."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from labeling.services.quality import campaign_quality_update, gold_set
from tests.labeling.quality_helpers import labelled_campaign

N, R, A = "natural", "rendition", "ambiguous"
LABELS = [[N, N, N], [N, N, R], [R, R, R], [A, R, R], [N, R, A], [R, R, None]]


@pytest.fixture
def campaign(media_root, researcher):
    campaign, items, _ = labelled_campaign(labels=LABELS, owner=researcher)
    return campaign


def test_it_reports_every_figure_to_researchers(api, researcher, campaign) -> None:
    response = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/agreement/?n_boot=200")
    assert response.status_code == 200
    body = response.json()
    assert body["n_items"] == 6 and body["n_labels"] == 17
    assert body["percent_agreement"]["unanimous"] == pytest.approx(3 / 6)
    assert {(p["a"], p["b"]) for p in body["cohen_kappa"]} == {("rater0", "rater1"), ("rater0", "rater2"),
                                                               ("rater1", "rater2")}
    assert next(p for p in body["cohen_kappa"] if p["b"] == "rater1")["overlap"] == 6
    assert body["fleiss_kappa"]["labels_per_item"] == 3 and body["fleiss_kappa"]["n_items"] == 5
    low, high = body["krippendorff_alpha"]["ci95"]
    assert low <= body["krippendorff_alpha"]["alpha"] <= high
    assert set(body["per_class"]) == {N, R, A}
    assert body["final_labels"]["counts"] == {N: 2, R: 3, A: 0}
    assert body["final_labels"]["without"] == 1  # the three-way tie
    assert [a["annotator"] for a in body["annotators"]] == ["rater0", "rater1", "rater2"]


@pytest.mark.parametrize("who", ["annotator", "outsider"])
def test_it_refuses_agreement_to_annotators_and_outsiders(api, request, campaign, who) -> None:
    user = request.getfixturevalue(who)
    assert api(user).get(f"/api/v1/campaigns/{campaign.id}/agreement/").status_code == 403
    assert api(None).get(f"/api/v1/campaigns/{campaign.id}/agreement/").status_code in (401, 403)


def test_it_flags_annotators_below_the_gold_accuracy_bar(api, admin_user, campaign) -> None:
    items = list(campaign.items.order_by("image_id"))
    gold_set(campaign=campaign, labels={items[0].id: N, items[1].id: N, items[3].id: R})
    campaign_quality_update(campaign=campaign, gold_min_accuracy=0.9, gold_min_answers=2)
    body = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/agreement/?n_boot=0").json()
    gold = {a["annotator"]: a for a in body["gold"]["annotators"]}
    assert gold["rater0"]["accuracy"] == pytest.approx(2 / 3) and gold["rater0"]["flagged"]
    assert gold["rater1"]["accuracy"] == 1.0 and not gold["rater1"]["flagged"]
    assert gold["rater2"]["correct"] == 2 and gold["rater2"]["flagged"]


def test_it_prints_agreement_as_json_from_the_command(campaign) -> None:
    out = StringIO()
    call_command("agreement", str(campaign.id), "--json", "--n-boot", "100", stdout=out, stderr=StringIO())
    body = json.loads(out.getvalue())
    assert body["campaign"]["name"] == campaign.name
    text = StringIO()
    call_command("agreement", campaign.name, stdout=text, stderr=StringIO())
    assert "Krippendorff" in text.getvalue() and "rater0" in text.getvalue()


def test_it_fails_clearly_on_an_unknown_campaign(db) -> None:
    with pytest.raises(CommandError, match="no campaign"):
        call_command("agreement", "does-not-exist", stdout=StringIO(), stderr=StringIO())


def test_it_shows_the_agreement_page_to_researchers_with_flags(client, researcher, annotator, campaign) -> None:
    items = list(campaign.items.order_by("image_id"))
    gold_set(campaign=campaign, labels={items[3].id: R, items[4].id: N})
    campaign_quality_update(campaign=campaign, gold_min_accuracy=0.9, gold_min_answers=1)
    client.force_login(researcher)
    page = client.get(f"/campaigns/{campaign.id}/agreement/")
    assert page.status_code == 200
    assert b"Krippendorff" in page.content and b"gold-flags" in page.content
    client.force_login(annotator)
    assert client.get(f"/campaigns/{campaign.id}/agreement/").status_code == 403
