"""Labeling calls the classifier only through the hooks it installs; without them pages still work."""
from __future__ import annotations

import pytest
from django.test import Client

from labeling import hooks
from labeling.models import Campaign
from labeling.services.campaigns import campaign_create
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=4)
    return campaign_create(name="Hooked", datasets=[ds], user=researcher)


@pytest.fixture
def no_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "_hooks", {})


def test_the_classifier_app_installs_its_hooks() -> None:
    assert {"item_probabilities", "pr_curves", "predictions_configure", "prediction_runs"} <= set(hooks._hooks)


def test_a_bad_run_choice_comes_back_as_a_message(researcher: object, campaign: Campaign) -> None:
    client = Client()
    client.force_login(researcher)
    response = client.post(f"/campaigns/{campaign.id}/predictions/", {"source": "999999"}, follow=True)
    assert "Not saved: no classifier run 999999" in response.content.decode()


def test_without_the_classifier_the_campaign_page_works_and_ordering_refuses(
        researcher: object, campaign: Campaign, no_classifier: None) -> None:
    client = Client()
    client.force_login(researcher)
    assert client.get(f"/campaigns/{campaign.id}/").status_code == 200
    response = client.post(f"/campaigns/{campaign.id}/predictions/", {"source": "latest"}, follow=True)
    assert "Not saved: ordering by predictions needs the classifier app" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.prediction_source == Campaign.PredictionSource.NONE
    assert hooks.prediction_runs() == []
