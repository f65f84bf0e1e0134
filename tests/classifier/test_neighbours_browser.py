"""The contamination page and "find more like this" in real Chromium."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from classifier.services.neighbours import (
    contamination_report_create,
    contamination_report_execute,
    vector_index_build,
    vector_index_create,
)
from labeling.services.campaigns import campaign_create
from tests.browser import login, wait_js
from tests.classifier.neighbour_factories import World

pytestmark = [pytest.mark.e2e]


def test_it_shows_each_test_image_beside_its_pool_twins(transactional_db: None, media_root: Path, live_server: Any,
                                                        page: Any, researcher: object) -> None:
    world = World()
    index = vector_index_build(index_id=vector_index_create(embedding_sets=[world.pool_set], enqueue=False).id)
    report = contamination_report_execute(report_id=contamination_report_create(
        index=index, testsets=[world.testset, world.empty], threshold=0.9, enqueue=False).id)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/classifier/contamination/{report.id}/")
    assert page.locator('#summary tr[data-testset="testset"] .with-twin').inner_text() == "2"
    assert page.locator('#summary tr[data-testset="empty-testset"] .with-twin').inner_text() == "0"
    rows = page.locator(".twin-row")
    assert rows.count() == 2
    first = rows.nth(0)  # best similarity first: t0 ~ p5 at 0.99
    assert first.get_attribute("data-test-image") == str(world.t[0].id)
    assert first.locator("figure.pool").get_attribute("data-pool-image") == str(world.p[5].id)
    assert 0.98 < float(first.locator(".similarity").inner_text()) <= 1.0
    # The thumbnails really load (test image and pool twin side by side).
    wait_js(page, "() => [...document.querySelectorAll('.twin-row img')].every(i => i.complete && i.naturalWidth > 0)")
    assert rows.nth(1).get_attribute("data-test-image") == str(world.t[1].id)


def test_it_finds_more_like_this_with_a_button(transactional_db: None, media_root: Path, live_server: Any,
                                               page: Any, researcher: Any) -> None:
    world = World()
    vector_index_build(index_id=vector_index_create(embedding_sets=[world.pool_set], enqueue=False).id)
    campaign = campaign_create(name="source", datasets=[world.pool], user=researcher)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/classifier/neighbours/campaigns/{campaign.id}/")
    page.locator(f'button.find-similar[data-image="{world.p[3].id}"]').click()
    first = page.locator("#similar-list li").first
    first.wait_for()
    assert first.get_attribute("data-image") == str(world.p[4].id)
    assert first.locator(".similarity").inner_text().startswith("0.9")
