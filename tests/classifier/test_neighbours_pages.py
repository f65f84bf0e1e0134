"""Neighbour pages through the Django test client: forms start jobs or say why not."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from classifier.models.neighbours import ContaminationReport, DedupRun, VectorIndex
from classifier.services.neighbours import (
    contamination_report_create,
    contamination_report_execute,
    vector_index_build,
    vector_index_create,
)
from labeling.services.campaigns import campaign_create
from tests.classifier.neighbour_factories import World


@pytest.fixture
def world(db: None, media_root: Path) -> World:
    return World()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_queues_an_index_and_a_dedup_run_from_the_neighbours_page(world: World, researcher: User) -> None:
    client = client_for(researcher)
    response = client.post("/classifier/neighbours/", {"action": "index", "embedding_sets": [world.pool_set.id]})
    assert response.status_code == 302
    index = VectorIndex.objects.get()
    vector_index_build(index_id=index.id)
    page = client.get("/classifier/neighbours/").content.decode()
    assert "most pixels, then the lowest uid" in page and f'data-index="{index.id}"' in page
    response = client.post("/classifier/neighbours/", {"action": "dedup", "index": index.id, "thresholds": "1.5"},
                           follow=True)
    assert "must lie in [0, 1]" in response.content.decode() and not DedupRun.objects.exists()
    client.post("/classifier/neighbours/", {"action": "dedup", "index": index.id, "thresholds": "0.95, 0.9"})
    assert DedupRun.objects.get().thresholds == [0.9, 0.95]


def test_it_refuses_a_contamination_threshold_outside_zero_one_on_the_page(world: World, researcher: User) -> None:
    index = vector_index_build(index_id=vector_index_create(embedding_sets=[world.pool_set], enqueue=False).id)
    response = client_for(researcher).post("/classifier/contamination/", {
        "index": index.id, "testsets": [world.testset.id], "threshold": "7"}, follow=True)
    assert "must lie in [0, 1]" in response.content.decode() and not ContaminationReport.objects.exists()


def test_it_escapes_what_users_typed_on_the_report_page(world: World, researcher: User) -> None:
    world.testset.name = "<script>alert(1)</script>"
    world.testset.save()
    index = vector_index_build(index_id=vector_index_create(embedding_sets=[world.pool_set], enqueue=False).id)
    report = contamination_report_execute(report_id=contamination_report_create(
        index=index, testsets=[world.testset], threshold=0.9, enqueue=False).id)
    page = client_for(researcher).get(f"/classifier/contamination/{report.id}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_it_creates_a_campaign_from_ticked_seeds(world: World, researcher: User) -> None:
    vector_index_build(index_id=vector_index_create(embedding_sets=[world.pool_set], enqueue=False).id)
    campaign = campaign_create(name="source", datasets=[world.pool], user=researcher)
    client = client_for(researcher)
    page = client.get(f"/classifier/neighbours/campaigns/{campaign.id}/").content.decode()
    assert page.count('class="secondary find-similar"') == 12 and 'id="similar-config"' in page
    response = client.post(f"/classifier/neighbours/campaigns/{campaign.id}/",
                           {"name": "like p3", "seeds": [world.p[3].id], "k": "1"})
    assert response.status_code == 302
    from labeling.models import Campaign

    new = Campaign.objects.get(name="like p3")
    assert set(new.items.values_list("image_id", flat=True)) == {world.p[3].id, world.p[4].id}


def test_it_hides_neighbour_pages_from_annotators(world: World, annotator: User) -> None:
    client = client_for(annotator)
    for url in ("/classifier/neighbours/", "/classifier/contamination/"):
        assert client.get(url).status_code in (302, 403)
