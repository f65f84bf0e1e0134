"""CROWDLAB, likely label errors and relabel campaigns, with a real (tiny) classifier run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User

from classifier.ml.oof import out_of_fold_probabilities
from classifier.services.runs import classifier_run_create, classifier_run_execute
from labeling.models import Campaign, CampaignItem, Dataset
from labeling.services.campaigns import campaign_create
from tests.classifier.conftest import TINY
from tests.conftest import ANNOTATOR, make_user
from tests.labeling.quality_helpers import give_label

MISLABELLED = 2  # rendition images both raters call natural


@pytest.fixture
def labelled(labelled_pool: Dataset, admin_user: User) -> tuple[Campaign, list[int]]:
    """A campaign over the pool: natural and rendition images labelled by two raters (correctly,
    except two rendition images both call natural); ambiguous images unlabelled."""
    campaign = campaign_create(name="noisy", datasets=[labelled_pool], user=admin_user)
    raters = [make_user(f"rater{r}", ANNOTATOR) for r in range(2)]
    wrong: list[int] = []
    items = CampaignItem.objects.filter(campaign=campaign).select_related("image").order_by("image_id")
    for item in items:
        domain = item.image.intended_domain
        if domain == "ambiguous":
            continue
        label = domain
        if domain == "rendition" and len(wrong) < MISLABELLED:
            label = "natural"
            wrong.append(item.id)
        for rater in raters:
            give_label(item=item, annotator=rater, label=label)
    return campaign, wrong


@pytest.fixture
def run(labelled_pool: Dataset):
    made = classifier_run_create(created_by=None, method="linear", extractor=TINY, labels_source="intended_domain",
                                 datasets=[labelled_pool], enqueue=False)
    return classifier_run_execute(run_id=made.id)


def test_it_refuses_label_errors_without_a_classifier_run(api, admin_user, labelled) -> None:
    campaign, _ = labelled
    response = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/label-issues/")
    assert response.status_code == 409 and response.json()["reason"] == "needs_classifier"
    crowd = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/consensus/?method=crowdlab")
    assert crowd.status_code == 409 and "train one" in crowd.json()["detail"]


def test_it_ranks_the_mislabelled_images_first(api, admin_user, labelled, run, media_root: Path) -> None:
    campaign, wrong = labelled
    response = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/label-issues/?limit=10")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["n_ranked"] == 30 and body["classifier"]["run"] == run.id
    assert "out-of-fold" in body["classifier"]["note"]
    # The tiny extractor is a random ViT, so its features separate flat from noisy images only
    # roughly: both mislabelled images rank in the top three of 30 (a random order would put
    # them there about once in 145 tries), each with the classifier suggesting rendition.
    top = {r["item"]: r for r in body["results"][:MISLABELLED + 1]}
    assert set(wrong) <= set(top)
    assert all(top[i]["label"] == "natural" and top[i]["suggested"] == "rendition" for i in wrong)
    # Cached: the second call reads the probabilities back instead of refitting.
    assert list((Path(media_root).parent / "artifacts" / "consensus").glob("*.npy"))
    again = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/label-issues/?limit=10").json()
    assert again["results"] == body["results"]


def test_it_computes_crowdlab_with_the_classifier(api, admin_user, labelled, run) -> None:
    campaign, _ = labelled
    response = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/consensus/?method=crowdlab")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["method"] == "crowdlab" and body["classifier"]["run"] == run.id
    assert {a["annotator"] for a in body["annotators"]} == {"rater0", "rater1"}
    assert all(a["score"] is not None for a in body["annotators"])
    assert body["n_items"] == 30


def test_it_makes_a_relabel_campaign_for_fresh_annotators(api, admin_user, annotator, labelled, run) -> None:
    campaign, wrong = labelled
    too_many = api(admin_user).post(f"/api/v1/campaigns/{campaign.id}/relabel/", {"n": 2, "k": 3}, format="json")
    assert too_many.status_code == 400 and "only 1 annotator(s)" in too_many.json()["detail"]
    made = api(admin_user).post(f"/api/v1/campaigns/{campaign.id}/relabel/", {"n": 3, "k": 1}, format="json")
    assert made.status_code == 201, made.content
    target = made.json()["campaign"]
    assert made.json()["items"] == 3 and made.json()["excluded"] == 2
    assert set(CampaignItem.objects.filter(campaign_id=target).values_list("image_id", flat=True)) >= set(
        CampaignItem.objects.filter(id__in=wrong).values_list("image_id", flat=True))
    refused = api(User.objects.get(username="rater0")).post(f"/api/v1/campaigns/{target}/next/?n=5")
    assert refused.status_code == 403 and "have not seen its images" in refused.json()["detail"]
    labelled_there = 0
    while page := api(annotator).post(f"/api/v1/campaigns/{target}/next/?n=5").json()["items"]:
        # A 3-item campaign: the lease cap hands its one fresh annotator one item at a time.
        submitted = api(annotator).post(f"/api/v1/campaigns/{target}/annotations/",
                                        [{"item": i["item"], "label": "rendition"} for i in page], format="json")
        assert submitted.status_code == 200, submitted.content
        labelled_there += len(page)
    assert labelled_there == 3
    history = api(admin_user).get(f"/api/v1/campaigns/{campaign.id}/relabel/").json()["results"]
    # The two mislabelled images change (natural -> rendition); the third was right already.
    assert len(history) == 1 and history[0]["n_changed"] == 2 and history[0]["n_relabelled"] == 3
    changed = {r["item"] for r in history[0]["items"] if r["changed"]}
    assert changed == set(wrong)


def test_it_shows_label_errors_and_relabels_from_the_page(client, admin_user, annotator, labelled, run) -> None:
    campaign, _ = labelled
    client.force_login(admin_user)
    page = client.get(f"/campaigns/{campaign.id}/label-issues/").content.decode()
    assert "Relabel these" in page and "likely errors among 30 labelled items" in page
    response = client.post(f"/campaigns/{campaign.id}/label-issues/", {"n": "2", "k": "1", "name": ""})
    assert response.status_code == 302
    target = Campaign.objects.get(relabel_of__source=campaign)
    assert response["Location"].endswith(f"/campaigns/{target.id}/")
    history = client.get(f"/campaigns/{campaign.id}/label-issues/").content.decode()
    assert target.name in history and "relabelled 0, changed 0" in history


def test_it_predicts_each_row_without_its_own_label() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (20, 4)) + [1, 0, 0, 0], rng.normal(0, 0.1, (20, 4)) + [0, 1, 0, 0]])
    y = np.array([0] * 20 + [1] * 20)
    y[3] = 1  # a flipped label: out of fold, the model still says class 0 for it
    probs = out_of_fold_probabilities(x, y, 3, method="linear")
    assert probs.shape == (40, 3) and np.allclose(probs.sum(axis=1), 1.0)
    assert probs[3, 0] > 0.8 and (probs[:, 2] == 0).all()
