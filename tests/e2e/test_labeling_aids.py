"""Labeling aids in real Chromium: the suggestion legend and the key that accepts suggestions,
zoom that takes label keys, page-size changes on the next page, and leases sized to the campaign."""
from __future__ import annotations

from typing import Any

import pytest

from labeling.models import Annotation, Campaign, CampaignItem, Lease
from labeling.services.campaigns import campaign_create
from tests.browser import login, wait_js
from tests.factories import make_dataset, make_images

pytestmark = [pytest.mark.e2e]


def make_campaign(*, user: object, n: int, k: int = 1, name: str = "Aids") -> Campaign:
    ds = make_dataset(name=f"pool-{name}")
    make_images(dataset=ds, n=n)
    return campaign_create(name=name, datasets=[ds], k=k, user=user)


def stored(user: object) -> dict[int, str]:
    return dict(Annotation.objects.filter(annotator=user).values_list("item_id", "label"))


def open_grid(page: Any, base_url: str, campaign: Campaign, n: int) -> None:
    login(page, base_url, "ann", "ann-pw")
    page.goto(f"{base_url}/campaigns/{campaign.id}/grid/?n={n}")
    page.wait_for_selector("body[data-ready='1']")


def labels_on_screen(page: Any) -> list[str]:
    return [t.get_attribute("data-label") for t in page.locator(".tile").all()]


def test_it_explains_and_accepts_suggestions(page: Any, live_server: Any, annotator: object, researcher: object,
                                             transactional_db: None, media_root: object) -> None:
    campaign = make_campaign(user=researcher, n=40)
    campaign.show_suggestions = True
    campaign.save(update_fields=["show_suggestions"])
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("id"))
    for index, item in enumerate(items):  # every other item has a suggestion, natural or rendition
        item.predicted_label = {0: "natural", 2: "rendition"}.get(index % 4)
    CampaignItem.objects.bulk_update(items, ["predicted_label"])

    open_grid(page, live_server.url, campaign, 9)
    legend = page.locator("#suggestion-legend")
    assert legend.is_visible()
    assert "classifier's suggestion" in legend.inner_text() and "accept" in legend.inner_text()
    state = page.evaluate("window.__gridState()")["pages"][0]
    suggestion = {i.id: i.predicted_label for i in items}

    # A on a tile without a suggestion changes nothing; A on one with a suggestion takes it.
    first_with = next(i for i, t in enumerate(state) if suggestion[t["item"]])
    first_without = next(i for i, t in enumerate(state) if not suggestion[t["item"]])
    page.locator(".tile").nth(first_without).click()  # click cycles to natural
    page.keyboard.press("u")  # back to unset, focus stays there
    page.keyboard.press("a")
    assert labels_on_screen(page)[first_without] == ""
    page.locator(".tile").nth(first_with).click()
    page.keyboard.press("u")
    page.keyboard.press("a")
    assert labels_on_screen(page)[first_with] == suggestion[state[first_with]["item"]]

    # Shift+A fills every unset tile that has a suggestion and leaves the others unset.
    page.keyboard.press("Shift+A")
    on_screen = labels_on_screen(page)
    for index, tile in enumerate(state):
        assert on_screen[index] == (suggestion[tile["item"]] or "")
    page.keyboard.press("Shift+3")
    page.keyboard.press("Enter")
    page.wait_for_selector('#unsaved[data-count="0"]')
    mine = stored(annotator)
    assert all(mine[t["item"]] == (suggestion[t["item"]] or "ambiguous") for t in state)


def test_it_labels_from_the_zoomed_image(page: Any, live_server: Any, annotator: object, researcher: object,
                                         transactional_db: None, media_root: object) -> None:
    campaign = make_campaign(user=researcher, n=40)
    open_grid(page, live_server.url, campaign, 9)
    thumbs = [t.get_attribute("src") for t in page.locator(".tile img").all()]
    page.keyboard.press("z")
    page.wait_for_selector("#zoom[open]")
    box = page.locator("#zoom-img").bounding_box()
    viewport = page.viewport_size
    assert box["height"] > 0.8 * viewport["height"] or box["width"] > 0.9 * viewport["width"]  # fitted, not 96 px
    src0 = page.locator("#zoom-img").get_attribute("src")
    page.keyboard.press("2")
    assert page.locator("#zoom").get_attribute("open") is not None  # still zoomed, on the next image
    src1 = page.locator("#zoom-img").get_attribute("src")
    assert (src0, src1) == (thumbs[0].replace("/thumb/", "/file/"), thumbs[1].replace("/thumb/", "/file/"))
    page.keyboard.press("3")
    page.keyboard.press("Escape")
    assert labels_on_screen(page)[:3] == ["rendition", "ambiguous", ""]


def test_it_applies_a_page_size_change_to_the_next_page(page: Any, live_server: Any, annotator: object,
                                                        researcher: object, transactional_db: None,
                                                        media_root: object) -> None:
    campaign = make_campaign(user=researcher, n=60, k=4)  # 240 label slots: cap 60, two pages prefetched
    open_grid(page, live_server.url, campaign, 9)
    wait_js(page, "window.__prefetchMs.length >= 3")  # pages of 9 already fetched ahead
    page.select_option("#page-size", "16")
    page.keyboard.press("Shift+1")
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 1")
    assert page.locator(".tile").count() == 16
    page.select_option("#page-size", "9")
    page.keyboard.press("Shift+2")
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 2")
    assert page.locator(".tile").count() == 9
    page.keyboard.press("Shift+3")
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 3")
    page.wait_for_selector('#unsaved[data-count="0"]')
    shown = [len(p) for p in page.evaluate("window.__gridState()")["pages"]]
    assert shown == [9, 16, 9, 9]
    assert len(stored(annotator)) == 34  # every tile shown and submitted is stored, none twice


def test_it_leases_a_small_campaign_in_small_shares(page: Any, live_server: Any, annotator: object,
                                                    annotator2: object, researcher: object,
                                                    transactional_db: None, media_root: object) -> None:
    campaign = make_campaign(user=researcher, n=12)  # 12 slots: one annotator holds at most 3
    open_grid(page, live_server.url, campaign, 9)
    page.wait_for_timeout(300)  # let any prefetch run
    assert page.locator(".tile").count() == 3
    assert Lease.objects.filter(item__campaign=campaign, annotator=annotator).count() <= 3
    # The second annotator still finds work while the first one is on a page.
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(annotator2)
    body = client.post(f"/api/v1/campaigns/{campaign.id}/next/?n=25").json()
    assert body["lease_cap"] == 3 and len(body["items"]) == 3

    # Page after page the grid keeps going within the cap until the campaign is done.
    for expected in (1, 2):
        page.keyboard.press("Shift+1")
        page.keyboard.press("Enter")
        wait_js(page, f"window.__gridState().cur === {expected}")
        assert Lease.objects.filter(item__campaign=campaign, annotator=annotator,
                                    item__annotations__isnull=True).count() <= 3
    page.keyboard.press("Shift+1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    page.wait_for_selector('#unsaved[data-count="0"]')
    assert len(stored(annotator)) == 9  # 12 items, 3 held by the other annotator
