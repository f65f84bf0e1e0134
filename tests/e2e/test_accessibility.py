"""Accessibility in real Chromium: axe-core (bundled by axe-playwright-python) on the pages each
role uses every day finds no serious or critical violation; disabled buttons look and act
disabled; the grid and adjudication pages work from the keyboard alone."""
from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from labeling.services.campaigns import annotations_submit, campaign_create, campaign_next_items
from labeling.services.quality import campaign_quality_update
from tests.browser import login, wait_js
from tests.factories import make_dataset, make_images
from tests.labeling.quality_helpers import labelled_campaign

pytestmark = [pytest.mark.e2e]

SERIOUS = {"serious", "critical"}


def serious_violations(page: Any) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in SERIOUS]


@pytest.fixture
def campaign(transactional_db: None, media_root: object, researcher: object, annotator: object) -> Any:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=40)
    campaign = campaign_create(name="A11y", datasets=[ds], k=1, user=researcher)
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=3)
    annotations_submit(campaign=campaign, annotator=annotator,
                       entries=[{"item": i.id, "label": "natural"} for i in items])
    return campaign


def test_it_has_no_serious_violations_on_annotator_pages(page: Any, live_server: Any, campaign: Any) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    found = {}
    for path in ("/", "/campaigns/", f"/campaigns/{campaign.id}/", f"/campaigns/{campaign.id}/grid/",
                 f"/campaigns/{campaign.id}/single/", "/me/labels/", "/me/progress/", "/guidelines/"):
        page.goto(f"{live_server.url}{path}")
        if "/grid/" in path or "/single/" in path:
            page.wait_for_selector("body[data-ready='1']")
        found[path] = serious_violations(page)
    assert all(not v for v in found.values()), found


def test_it_has_no_serious_violations_on_researcher_and_admin_pages(page: Any, live_server: Any, admin_user: object,
                                                                   campaign: Any) -> None:
    login(page, live_server.url, "adm", "adm-pw")
    found = {}
    for path in (f"/campaigns/{campaign.id}/", "/campaigns/new/", f"/campaigns/{campaign.id}/agreement/",
                 f"/campaigns/{campaign.id}/snapshots/", f"/campaigns/{campaign.id}/adjudicate/", "/datasets/",
                 "/classifier/runs/", "/classifier/apply/", "/classifier/clean/", "/training/", "/training/hosts/",
                 "/training/results/"):
        page.goto(f"{live_server.url}{path}")
        found[path] = serious_violations(page)
    assert all(not v for v in found.values()), found


def test_it_shows_disabled_buttons_as_disabled(page: Any, live_server: Any, campaign: Any) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    page.goto(f"{live_server.url}/campaigns/")
    page.evaluate("""() => { const b = document.createElement('button'); b.id = 'probe'; b.textContent = 'x';
                             b.disabled = true; document.querySelector('main').append(b); }""")
    style = page.evaluate("() => { const s = getComputedStyle(document.getElementById('probe'));"
                          " return {opacity: s.opacity, cursor: s.cursor}; }")
    assert float(style["opacity"]) <= 0.6 and style["cursor"] == "not-allowed"


def test_it_labels_and_adjudicates_by_keyboard_alone(page: Any, live_server: Any, admin_user: object,
                                                     researcher: object, campaign: Any) -> None:
    # Grid: reach the grid with Tab from the top of the page, label the page, submit.
    login(page, live_server.url, "ann", "ann-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/?n=9")
    page.wait_for_selector("body[data-ready='1']")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "grid":
            break
    assert page.evaluate("document.activeElement.id") == "grid"
    page.keyboard.press("Shift+2")
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 1")
    page.wait_for_selector('#unsaved[data-count="0"]')

    # Adjudication: a label key and Enter, no mouse.
    disputed, items, _ = labelled_campaign(labels=[["natural", "rendition"]], owner=researcher)
    campaign_quality_update(campaign=disputed, queue_ambiguous=True)
    page.context.clear_cookies()
    login(page, live_server.url, "adm", "adm-pw")
    page.goto(f"{live_server.url}/campaigns/{disputed.id}/adjudicate/")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing to adjudicate.")
    assert serious_violations(page) == []
