"""Review by keyboard in real Chromium: the adjudication page shows the item large with every label,
who gave it and the classifier's prediction; a label key then Enter decides and moves on."""
from __future__ import annotations

from typing import Any

import pytest

from labeling.models import Adjudication, CampaignItem
from labeling.services.quality import campaign_quality_update
from tests.browser import login
from tests.labeling.quality_helpers import labelled_campaign

pytestmark = [pytest.mark.e2e]

N, R, A = "natural", "rendition", "ambiguous"


def test_it_decides_disagreements_by_keyboard(page: Any, live_server: Any, admin_user: object, researcher: object,
                                              transactional_db: None, media_root: object) -> None:
    # 0: three-way tie, 1: two to one, 2: unanimous ambiguous (queued for "ambiguous" alone)
    campaign, items, _ = labelled_campaign(labels=[[N, R, A], [N, N, R], [A, A, A]], owner=researcher)
    campaign_quality_update(campaign=campaign, queue_ambiguous=True)
    CampaignItem.objects.filter(pk=items[0].pk).update(predicted_label=R, predicted_score=0.91)

    login(page, live_server.url, "adm", "adm-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/adjudicate/")
    genuine = page.locator("#genuine-queue tbody tr")
    apart = page.locator("#ambiguous-queue tbody tr")
    assert genuine.count() == 2 and apart.count() == 1
    assert apart.first.locator("a").inner_text() == str(items[2].id)

    # The most contested item first, large, with who said what and the classifier's prediction.
    assert page.locator("h2").first.inner_text().startswith(f"Item {items[0].id}")
    assert page.locator("#prediction").inner_text() == "Latest classifier: rendition (0.91)"
    rows = page.locator("table.compact tbody tr").all_inner_texts()
    assert sorted(r.split("\t")[0] for r in rows) == ["rater0", "rater1", "rater2"]
    box = page.locator(".adjudicate-image img").bounding_box()
    assert box["height"] > 500  # large, not a thumbnail

    # Radios sit side by side, each on one line with its key.
    choices = [page.locator(".choices .choice").nth(i).bounding_box() for i in range(3)]
    assert abs(choices[0]["y"] - choices[1]["y"]) < 5 and choices[0]["height"] < 60

    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/campaigns/{campaign.id}/adjudicate/")
    page.wait_for_selector(f"text=Item {items[0].id}: final label rendition recorded.")
    decision = Adjudication.objects.get(item=items[0])
    assert (decision.label, decision.reason) == (R, "")  # the reason is optional

    # Moved on to the next genuine disagreement; a quick reason fills the reason field.
    assert page.locator("h2").first.inner_text().startswith(f"Item {items[1].id}")
    assert "No classifier prediction" in page.locator("#prediction").inner_text()
    page.keyboard.press("1")
    page.click("button[data-reason='majority is right']")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"text=Item {items[1].id}: final label natural recorded.")
    assert Adjudication.objects.get(item=items[1]).reason == "majority is right"

    # Enter with no label chosen decides nothing.
    assert page.locator("h2").first.inner_text().startswith(f"Item {items[2].id}")
    page.keyboard.press("Enter")
    page.wait_for_timeout(200)
    assert not Adjudication.objects.filter(item=items[2]).exists()
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing to adjudicate.")
    assert Adjudication.objects.get(item=items[2]).label == A
