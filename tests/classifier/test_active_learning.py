"""Active learning into labeling: campaigns order their queue by the latest classifier run."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifier.ml.uncertainty import uncertainty
from classifier.models import ClassifierRun
from classifier.services.runs import (
    ClassifierInputError,
    campaign_latest_run,
    campaign_predictions_configure,
    classifier_run_create,
    classifier_run_execute,
)
from classifier.tasks import runs as tasks
from domainsieve.jobs import JobStatus
from labeling.models import Campaign, CampaignItem, Dataset
from labeling.services.campaigns import annotations_submit, campaign_create
from tests.classifier.conftest import TINY
from tests.factories import make_dataset, make_images

PAYLOAD_KEYS = {"item", "image", "thumb", "file", "width", "height", "group", "suggestion"}


def retrain(dataset: Dataset, method: str = "centroid", **hp: Any) -> ClassifierRun:
    run = classifier_run_create(created_by=None, method=method, extractor=TINY, labels_source="intended_domain",
                                datasets=[dataset], hyperparameters=hp, enqueue=False)
    return classifier_run_execute(run_id=run.id)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Records campaign_predictions_task.delay calls instead of sending them to the broker."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.campaign_predictions_task, "delay", lambda *args: calls.append(args))
    return calls


def run_queued(calls: list[tuple[Any, ...]]) -> None:
    """What the gpu worker would do with the queued refreshes."""
    while calls:
        tasks.campaign_predictions_task(*calls.pop(0))


def lease(api: Any, user: Any, campaign: Campaign, n: int) -> list[dict[str, Any]]:
    response = api(user).post(f"/api/v1/campaigns/{campaign.id}/next/?n={n}")
    assert response.status_code == 200, response.content
    return response.json()["items"]


def follower(dataset: Dataset, researcher: Any, **kwargs: Any) -> Campaign:
    return campaign_create(name=kwargs.pop("name", "al"), datasets=[dataset], user=researcher,
                           prediction_source=Campaign.PredictionSource.LATEST_RUN, **kwargs)


def test_it_measures_margin_and_entropy_so_that_higher_is_more_uncertain() -> None:
    rows = np.array([[1.0, 0.0, 0.0],      # certain
                     [0.5, 0.49, 0.01],    # two classes tie: margin says very unsure
                     [0.4, 0.3, 0.3],      # mass spread over all: entropy says very unsure
                     [1 / 3, 1 / 3, 1 / 3]])
    margin, entropy = uncertainty(rows, "margin"), uncertainty(rows, "entropy")
    assert np.allclose(margin, [0.0, 0.99, 0.9, 1.0])
    assert entropy[0] == 0.0 and math.isclose(entropy[3], 1.0)
    assert list(np.argsort(-margin)) == [3, 1, 2, 0] and list(np.argsort(-entropy)) == [3, 2, 1, 0]
    with pytest.raises(ValueError, match="unknown uncertainty measure"):
        uncertainty(rows, "variance")


def test_it_refreshes_a_following_campaign_after_a_retrain(labelled_pool: Dataset, researcher: Any,
                                                            queued: list[tuple[Any, ...]],
                                                            django_capture_on_commit_callbacks: Any) -> None:
    campaign = follower(labelled_pool, researcher)
    manual = campaign_create(name="manual", datasets=[labelled_pool], user=researcher)
    elsewhere = make_dataset(name="elsewhere")
    make_images(dataset=elsewhere, n=2)
    other = follower(elsewhere, researcher, name="elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        first = retrain(labelled_pool)
    # Only the active campaign that follows the latest run over an overlapping dataset.
    assert queued == [(campaign.id, first.id, True)]
    assert other.id != campaign.id and manual.prediction_run_id is None
    run_queued(queued)
    campaign.refresh_from_db()
    assert campaign.prediction_run_id == first.id and campaign.predictions_updated_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        second = retrain(labelled_pool, temperature=0.05)
    assert queued == [(campaign.id, second.id, True)]
    run_queued(queued)
    campaign.refresh_from_db()
    assert campaign.prediction_run_id == second.id
    # A late refresh with the older run never overwrites the newer one's predictions.
    assert tasks.campaign_predictions_task(campaign.id, first.id, True) == 0
    campaign.refresh_from_db()
    assert campaign.prediction_run_id == second.id


def test_it_leases_pages_grouped_by_the_predicted_class_after_a_retrain(
        labelled_pool: Dataset, researcher: Any, annotator: Any, api: Any, queued: list[tuple[Any, ...]],
        django_capture_on_commit_callbacks: Any) -> None:
    campaign = follower(labelled_pool, researcher, ordering=Campaign.Ordering.PREDICTED_GROUPS)
    with django_capture_on_commit_callbacks(execute=True):
        retrain(labelled_pool)
    run_queued(queued)
    predicted = dict(CampaignItem.objects.filter(campaign=campaign).values_list("id", "predicted_label"))
    assert len(set(predicted.values())) >= 2 and None not in predicted.values()
    page = lease(api, annotator, campaign, 12)
    labels = [predicted[p["item"]] for p in page]
    # The page comes from the first predicted groups, banded: each group's tiles side by side.
    assert labels == sorted(labels) == sorted(predicted.values())[:12]
    groups = [p["group"] for p in page]
    assert groups == sorted(groups) and [campaign.label_names[g] for g in groups] == labels
    assert all(set(p) <= PAYLOAD_KEYS and "suggestion" not in p for p in page)


def test_it_leases_the_most_uncertain_items_first_by_margin_or_entropy(
        labelled_pool: Dataset, researcher: Any, annotator: Any, annotator2: Any, api: Any,
        queued: list[tuple[Any, ...]], django_capture_on_commit_callbacks: Any) -> None:
    campaign = follower(labelled_pool, researcher, ordering=Campaign.Ordering.UNCERTAINTY)
    with django_capture_on_commit_callbacks(execute=True):
        run = retrain(labelled_pool, temperature=0.05)
    run_queued(queued)
    items = {i.id: i for i in CampaignItem.objects.filter(campaign=campaign)}
    margin = {i: item.uncertainty for i, item in items.items()}
    page = [p["item"] for p in lease(api, annotator, campaign, 10)]
    assert [margin[i] for i in page] == sorted(margin.values(), reverse=True)[:10]

    # Ternary probabilities are fully known from the top score and the margin: top2 = u - 1 + top1,
    # the third class takes the rest. The entropy refresh must agree with them.
    expected = {}
    for i, item in items.items():
        top1 = item.predicted_score
        top2 = margin[i] - 1 + top1
        expected[i] = float(uncertainty(np.array([[top1, top2, max(0.0, 1 - top1 - top2)]]), "entropy")[0])
        assert -1e-6 <= 1 - top1 - top2 <= top2 + 1e-6
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_predictions_configure(campaign=campaign, ordering=Campaign.Ordering.UNCERTAINTY,
                                              uncertainty_measure="entropy", show_suggestions=False) == run
    run_queued(queued)
    entropy = dict(CampaignItem.objects.filter(campaign=campaign).values_list("id", "uncertainty"))
    assert all(abs(entropy[i] - expected[i]) < 1e-4 for i in items)
    assert entropy != margin
    page2 = [p["item"] for p in lease(api, annotator2, campaign, 10)]
    # The first page is still leased to the first annotator (k=1): the next most uncertain come.
    free = [u for i, u in entropy.items() if i not in page]
    assert [entropy[i] for i in page2] == sorted(free, reverse=True)[:10]


def test_it_shows_model_suggestions_only_where_the_campaign_allows(
        labelled_pool: Dataset, researcher: Any, annotator: Any, annotator2: Any, api: Any,
        queued: list[tuple[Any, ...]], django_capture_on_commit_callbacks: Any) -> None:
    campaign = follower(labelled_pool, researcher, k=2, ordering=Campaign.Ordering.UNCERTAINTY)
    with django_capture_on_commit_callbacks(execute=True):
        retrain(labelled_pool)
    run_queued(queued)
    predicted = dict(CampaignItem.objects.filter(campaign=campaign).values_list("id", "predicted_label"))
    page = lease(api, annotator, campaign, 5)
    assert all("suggestion" not in p for p in page)
    # The first annotator disagrees with the model on every item of the page.
    wrong = {p["item"]: next(n for n in campaign.label_names if n != predicted[p["item"]]) for p in page}
    annotations_submit(campaign=campaign, annotator=annotator,
                       entries=[{"item": i, "label": label} for i, label in wrong.items()])
    campaign_predictions_configure(campaign=campaign, ordering=campaign.ordering,
                                   uncertainty_measure=campaign.uncertainty_measure, show_suggestions=True)
    page2 = lease(api, annotator2, campaign, 5)
    # Same most-uncertain items, now with the model's suggestion, never the other annotator's label.
    assert {p["item"] for p in page2} == set(wrong)
    assert all(set(p) <= PAYLOAD_KEYS and p["suggestion"] == predicted[p["item"]] != wrong[p["item"]]
               for p in page2)


def test_it_prefers_a_multi_class_run_and_refuses_unfinished_runs(labelled_pool: Dataset, researcher: Any) -> None:
    campaign = follower(labelled_pool, researcher)
    assert campaign_latest_run(campaign=campaign) is None
    ternary = retrain(labelled_pool)
    binary = retrain(labelled_pool, method="knn-N")
    assert binary.finished_at > ternary.finished_at and campaign_latest_run(campaign=campaign) == ternary
    queued_run = classifier_run_create(created_by=None, method="linear", extractor=TINY,
                                       labels_source="intended_domain", datasets=[labelled_pool], enqueue=False)
    assert queued_run.status == JobStatus.QUEUED
    with pytest.raises(ClassifierInputError, match="only a finished run"):
        campaign_predictions_configure(campaign=campaign, ordering="random", uncertainty_measure="margin",
                                       show_suggestions=False, run_id=queued_run.id)
    with pytest.raises(ClassifierInputError, match="unknown uncertainty measure"):
        campaign_predictions_configure(campaign=campaign, ordering="random", uncertainty_measure="gini",
                                       show_suggestions=False)


def test_it_lets_a_researcher_pick_the_run_and_order_on_the_campaign_page(
        labelled_pool: Dataset, researcher: Any, annotator: Any, client: Any, media_root: Path,
        queued: list[tuple[Any, ...]], django_capture_on_commit_callbacks: Any) -> None:
    campaign = campaign_create(name="page", datasets=[labelled_pool], user=researcher)
    run = retrain(labelled_pool)
    url = f"/campaigns/{campaign.id}/predictions/"
    client.force_login(annotator)
    assert client.post(url, {"source": str(run.id)}).status_code == 403
    client.force_login(researcher)
    assert f'<option value="{run.id}">' in client.get(f"/campaigns/{campaign.id}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"source": str(run.id), "ordering": "uncertainty",
                                     "uncertainty_measure": "entropy", "show_suggestions": "on"})
    assert response.status_code == 302 and queued == [(campaign.id, run.id, False)]
    run_queued(queued)
    campaign.refresh_from_db()
    assert (campaign.ordering, campaign.uncertainty_measure, campaign.show_suggestions) == ("uncertainty", "entropy",
                                                                                           True)
    assert campaign.prediction_source == "none" and campaign.prediction_run_id == run.id
    html = client.get(f"/campaigns/{campaign.id}/").content.decode()
    assert "from run" in html and f">{run.id}</a>, updated" in html
    response = client.post(url, {"source": "bogus", "ordering": "random"}, follow=True)
    assert "unknown prediction source" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"source": "latest", "ordering": "predicted_groups", "uncertainty_measure": "entropy"})
    campaign.refresh_from_db()
    assert campaign.prediction_source == "latest_run" and queued == [(campaign.id, run.id, False)]
    queued.clear()
    # A campaign created to follow the latest run gets its predictions queued at once.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/campaigns/new/", {
            "name": "born following", "datasets": [labelled_pool.id], "seed": 0, "k": 1, "agreement_fraction": 0,
            "agreement_k": 3, "ordering": "predicted_groups", "lease_minutes": 10,
            "prediction_source": "latest_run", "uncertainty_measure": "margin"})
    assert response.status_code == 302
    assert queued == [(Campaign.objects.get(name="born following").id, run.id, False)]


@pytest.mark.worker
def test_it_reorders_the_queue_when_a_retrain_finishes_on_the_worker(celery_worker_proc: object, api: Any,
                                                                      researcher: Any, annotator: Any) -> None:
    from tests.conftest import wait_for

    dataset = make_dataset(name="al-worker")
    make_images(dataset=dataset, n=21)
    campaign = follower(dataset, researcher, ordering=Campaign.Ordering.UNCERTAINTY)
    response = api(researcher).post("/api/v1/classifier-runs/", {
        "method": "centroid", "extractor": TINY, "labels_source": "intended_domain", "datasets": [dataset.id]},
        format="json")
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    # Train, then (queued by the run's success) the campaign's refresh, both on the gpu queue.
    wait_for(lambda: Campaign.objects.get(pk=campaign.id).prediction_run_id == run_id
             or ClassifierRun.objects.get(pk=run_id).status == JobStatus.FAILED, 120)
    assert ClassifierRun.objects.get(pk=run_id).status == JobStatus.SUCCEEDED
    unsure = dict(CampaignItem.objects.filter(campaign=campaign).values_list("id", "uncertainty"))
    assert None not in unsure.values()
    page = [p["item"] for p in lease(api, annotator, campaign, 5)]  # 21 items: the lease cap is 6
    assert [unsure[i] for i in page] == sorted(unsure.values(), reverse=True)[:5]
