"""An annotator reviews their own work in real Chromium: "my labels" filtered by label, day and
campaign, reopened in the grid for correction (across a reload), and "my progress" with pace and
gold accuracy; never another annotator's labels."""
from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from labeling.models import Annotation, AnnotationHistory, CampaignItem
from labeling.services.campaigns import annotations_submit, campaign_create, campaign_next_items
from tests.browser import login
from tests.factories import make_dataset, make_images

pytestmark = [pytest.mark.e2e]


def stored(user: object) -> dict[int, str]:
    return dict(Annotation.objects.filter(annotator=user).values_list("item_id", "label"))


def test_it_reviews_and_corrects_my_labels(page: Any, live_server: Any, annotator: object, annotator2: object,
                                           researcher: object, transactional_db: None, media_root: object) -> None:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=40)
    campaign = campaign_create(name="Mine", datasets=[ds], k=2, user=researcher)
    items = campaign_next_items(campaign=campaign, annotator=annotator, n=12)
    labels = ["natural"] * 6 + ["rendition"] * 6
    annotations_submit(campaign=campaign, annotator=annotator,
                       entries=[{"item": i.id, "label": lab, "seconds": 2.0} for i, lab in zip(items, labels, strict=True)])
    # Two of them are gold items: one right, one wrong.
    CampaignItem.objects.filter(pk=items[0].pk).update(is_gold=True, gold_label="natural")
    CampaignItem.objects.filter(pk=items[6].pk).update(is_gold=True, gold_label="natural")
    theirs = campaign_next_items(campaign=campaign, annotator=annotator2, n=3)
    annotations_submit(campaign=campaign, annotator=annotator2,
                       entries=[{"item": i.id, "label": "ambiguous"} for i in theirs])

    login(page, live_server.url, "ann", "ann-pw")
    page.click("nav >> text=My labels")
    assert page.locator("table.my-labels tbody tr").count() == 12  # only mine, none of ann2's
    assert "ambiguous" not in page.locator("table.my-labels").inner_text()
    page.select_option("#f-campaign", str(campaign.id))
    page.select_option("#f-label", "rendition")
    page.fill("#f-day", timezone.localdate().isoformat())
    page.click("form.filters button[type=submit]")
    rows = page.locator("table.my-labels tbody tr")
    assert rows.count() == 6
    assert {int(r.get_attribute("data-item")) for r in rows.all()} == {i.id for i in items[6:]}

    # Open them in the grid (pages of 4): the labels are there, a change saves without Enter.
    page.click("#open-in-grid")
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#page-size", "9")
    assert "Reviewing your own labels marked rendition" in page.locator("#review-notice").inner_text()
    assert [t.get_attribute("data-label") for t in page.locator(".tile").all()] == ["rendition"] * 6
    first_order = [t["item"] for t in page.evaluate("window.__gridState()")["pages"][0]]
    assert set(first_order) == {i.id for i in items[6:]}
    page.keyboard.press("ArrowRight")
    page.keyboard.press("1")  # second tile: rendition -> natural
    page.wait_for_selector('#unsaved[data-count="0"]')
    changed = first_order[1]
    assert stored(annotator)[changed] == "natural"
    assert list(AnnotationHistory.objects.filter(annotation__item_id=changed).values_list("new_label", flat=True)) == [
        "rendition", "natural"]

    # A reload reopens the same review; the corrected item has left the "rendition" filter.
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    on_screen = page.evaluate("window.__gridState()")["pages"][0]
    assert [t["item"] for t in on_screen] == [i for i in first_order if i != changed]
    assert stored(annotator2) == {i.id: "ambiguous" for i in theirs}  # untouched

    # My progress: labels, pace and gold accuracy (1 of 2 gold items right), mine only.
    page.click("nav >> text=My progress")
    row = page.locator(f"#my-campaigns tr[data-campaign='{campaign.id}']")
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "12"
    assert cells[4].startswith("50%") and "of 2 gold items" in cells[4]
    assert "ann2" not in page.content()

    # The campaign page answers the annotator with their view (38 regular items, 2 are gold).
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/")
    assert "You labeled 12 of 38 items" in page.locator("#my-campaign-progress").inner_text()
    assert "Gold accuracy: 50%" in page.locator("#my-campaign-progress").inner_text()
