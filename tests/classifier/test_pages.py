from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from classifier.models import ClassifierRun
from classifier.services.runs import classifier_run_execute
from labeling.models import Dataset
from tests.classifier.conftest import TINY


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_retrains_from_the_runs_page_and_shows_the_report(researcher: User, labelled_pool: Dataset) -> None:
    client = client_for(researcher)
    response = client.post("/classifier/runs/", {"method": "linear", "extractor": TINY,
                                                 "labels_source": "intended_domain",
                                                 "datasets": [labelled_pool.id], "classes": ["natural", "rendition"]})
    run = ClassifierRun.objects.get()
    assert response.status_code == 302 and response.url == f"/classifier/runs/{run.id}/"
    assert b"queued" in client.get("/classifier/runs/").content
    assert b"No curves yet" not in client.get(f"/classifier/runs/{run.id}/").content  # drawn client-side
    assert client.get(f"/classifier/runs/{run.id}/").status_code == 200
    classifier_run_execute(run_id=run.id)
    page = client.get(f"/classifier/runs/{run.id}/").content.decode()
    assert "validation precision" in page and "pr-data" in page and "pool" in page
    compare = client.get(f"/classifier/compare/?runs={run.id}").content.decode()
    assert f"run {run.id} linear" in compare


def test_it_shows_why_a_retrain_was_refused(researcher: User, labelled_pool: Dataset) -> None:
    response = client_for(researcher).post("/classifier/runs/", {
        "method": "linear", "extractor": "bogus", "labels_source": "intended_domain", "datasets": [labelled_pool.id]},
        follow=True)
    assert b"Not started: unknown extractor" in response.content and not ClassifierRun.objects.exists()


def test_it_keeps_annotators_out_of_classifier_pages(annotator: User, client: Client) -> None:
    for url in ("/classifier/runs/", "/classifier/compare/"):
        assert client_for(annotator).get(url).status_code == 403
        assert client.get(url).status_code == 302  # anonymous: to the login page


def test_it_states_the_default_ft_preset_and_records_the_choice(researcher: User, labelled_pool: Dataset) -> None:
    client = client_for(researcher)
    page = client.get("/classifier/runs/").content.decode()
    assert "Default: <strong>released</strong> with augmentation" in page and "the paper&#x27;s text" in page
    client.post("/classifier/runs/", {"method": "ft-R", "extractor": TINY,
                                      "labels_source": "intended_domain", "datasets": [labelled_pool.id],
                                      "ft_preset": "paper", "train_transform": "eval"})
    run = ClassifierRun.objects.get()
    assert (run.hyperparameters["preset"], run.hyperparameters["train_transform"]) == ("paper", "eval")
