"""The labeling pages in real Chromium: keyboard labeling in grid and single mode, back, undo,
Shift-fill, guidelines, and what the database holds afterwards."""
from __future__ import annotations

import time
from typing import Any

import pytest

from labeling.models import Annotation, AnnotationHistory, Campaign
from labeling.services.campaigns import campaign_create
from tests.browser import login, wait_js
from tests.factories import make_dataset, make_images

pytestmark = [pytest.mark.e2e]

PAGE = 9


@pytest.fixture
def campaign(transactional_db: None, media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=40)  # lease cap 10: a page of 9 fits, nothing is prefetched
    return campaign_create(name="E2E pool", datasets=[ds], k=1, user=researcher)


def grid_state(page: Any) -> dict[str, Any]:
    return page.evaluate("window.__gridState()")


def stored(user: object) -> dict[int, str]:
    return dict(Annotation.objects.filter(annotator=user).values_list("item_id", "label"))


def wait_saved(page: Any) -> None:
    page.wait_for_selector('#unsaved[data-count="0"]')


def test_it_labels_grid_pages_by_keyboard(page: Any, live_server: Any, annotator: object,
                                          campaign: Campaign) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/?n={PAGE}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator(".tile").count() == PAGE
    assert page.evaluate("[...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)")

    keys = ["1", "2", "3"] * 3
    for key in keys:
        page.keyboard.press(key)
    first = [t["item"] for t in grid_state(page)["pages"][0]]
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 1")
    wait_saved(page)
    names = {"1": "natural", "2": "rendition", "3": "ambiguous"}
    assert stored(annotator) == {item: names[k] for item, k in zip(first, keys, strict=True)}

    # Back to page 1 (Left on the first tile), change two labels, undo the second one.
    page.keyboard.press("ArrowLeft")
    wait_js(page, "window.__gridState().cur === 0")
    page.keyboard.press("2")  # tile 0: natural -> rendition, focus moves to tile 1
    page.keyboard.press("1")  # tile 1: rendition -> natural
    page.keyboard.press("u")  # undo: tile 1 back to rendition
    assert page.locator(".tile").nth(1).get_attribute("data-label") == "rendition"
    assert page.locator(".tile").nth(0).get_attribute("data-label") == "rendition"
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 1")

    # Page 2: one key on the first tile, a click cycles the second, Shift+2 fills the rest.
    page.keyboard.press("3")
    page.locator(".tile").nth(1).click()  # unset -> natural (first label)
    page.keyboard.press("Shift+2")
    second = grid_state(page)["pages"][1]
    assert [t["label"] for t in second] == ["ambiguous", "natural"] + ["rendition"] * (PAGE - 2)
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 2")
    wait_saved(page)

    labels = stored(annotator)
    assert labels[first[0]] == "rendition" and labels[first[1]] == "rendition"
    assert [labels[t["item"]] for t in second] == [t["label"] for t in second]
    assert len(labels) == 2 * PAGE
    history = list(AnnotationHistory.objects.filter(annotation__item_id=first[0]).values_list("old_label", "new_label"))
    assert history == [("", "natural"), ("natural", "rendition")]
    assert len(page.evaluate("window.__gridTimings")) == 3

    # Z zooms the focused image at full resolution; H opens the guidelines.
    page.keyboard.press("z")
    page.wait_for_selector("#zoom[open]")
    assert page.locator("#zoom-img").get_attribute("src").endswith("/file/")
    page.keyboard.press("Escape")
    page.keyboard.press("h")
    page.wait_for_selector("#guidelines[open]")
    assert "texture" in page.locator("#guidelines").inner_text()
    page.keyboard.press("Escape")
    wait_js(page, "!document.getElementById('guidelines').open")


def test_it_labels_in_single_mode(page: Any, live_server: Any, annotator: object, campaign: Campaign) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/single/")
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Backspace")  # back to the second image
    page.keyboard.press("3")          # relabel it and advance
    page.keyboard.press("1")
    state = page.evaluate("window.__singleState()")
    items = [i["item"] for i in state["items"][:3]]
    assert state["cur"] == 3
    wait_saved(page)
    assert stored(annotator) == {items[0]: "natural", items[1]: "ambiguous", items[2]: "natural"}
    page.keyboard.press("h")
    page.wait_for_selector("#guidelines[open]")


def test_it_refuses_a_researcher_page_to_an_annotator(page: Any, live_server: Any, annotator: object,
                                                     campaign: Campaign) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    link = page.wait_for_selector("#home-campaigns a")  # the home page lists open campaigns
    assert link.inner_text() == "E2E pool" and link.get_attribute("href") == f"/campaigns/{campaign.id}/grid/"
    response = page.goto(f"{live_server.url}/campaigns/new/")
    assert response.status == 403
    # The campaign page answers an annotator with their own view, not a 403.
    response = page.goto(f"{live_server.url}/campaigns/{campaign.id}/")
    assert response.status == 200
    view = page.locator("#my-campaign-progress").inner_text()
    assert "You labeled 0 of 40 items" in view and "Predictions" not in page.content()


def test_it_keeps_unsaved_labels_through_a_server_outage(page: Any, live_server: Any, annotator: object,
                                                         campaign: Campaign) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/?n=4")
    page.wait_for_selector("body[data-ready='1']")
    page.route("**/annotations/", lambda route: route.abort("connectionrefused"))  # the server is down
    page.keyboard.press("Shift+3")
    page.keyboard.press("Enter")
    page.wait_for_selector('#unsaved[data-count="4"]')
    wait_js(page, "document.getElementById('unsaved').textContent.includes('retrying')")
    assert not stored(annotator)

    # Closing the tab now asks first.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.close(run_before_unload=True)
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]

    # The server is back: the retry lands every label exactly once.
    page.unroute("**/annotations/")
    wait_saved(page)
    labels = stored(annotator)
    assert len(labels) == 4 and set(labels.values()) == {"ambiguous"}


def label_and_revisit_first_page(page: Any, base_url: str, campaign: Campaign) -> list[int]:
    """Label page 1 (all natural), submit it, go back to it: a revisited, already submitted page."""
    page.goto(f"{base_url}/campaigns/{campaign.id}/grid/?n=4")
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("Shift+1")
    first = [t["item"] for t in grid_state(page)["pages"][0]]
    page.keyboard.press("Enter")
    wait_js(page, "window.__gridState().cur === 1")
    wait_saved(page)
    page.keyboard.press("Backspace")
    wait_js(page, "window.__gridState().cur === 0")
    return first


def wait_stored(user: object, item: int, label: str, context: Any) -> None:
    """Poll the database; each round also calls the browser, since Playwright's sync API hands
    events (a beforeunload dialog to answer) to their handlers only during its own calls."""
    deadline = time.monotonic() + 15
    while stored(user).get(item) != label:
        assert time.monotonic() < deadline, f"item {item} never stored as {label}: {stored(user).get(item)}"
        context.cookies()
        time.sleep(0.1)


@pytest.mark.parametrize("exit_by", ["single-mode link", "nav link", "closing the tab"])
def test_it_keeps_an_edit_on_a_revisited_page_through_every_exit(page: Any, live_server: Any, annotator: object,
                                                                  campaign: Campaign, exit_by: str) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    first = label_and_revisit_first_page(page, live_server.url, campaign)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))

    page.keyboard.press("2")  # tile 0: natural -> rendition, and no Enter afterwards
    # The pill never lies: it says "all saved" only once the server holds the change.
    if page.locator("#unsaved").inner_text() == "all saved":
        assert stored(annotator)[first[0]] == "rendition"
    if exit_by == "single-mode link":
        page.click("text=Single mode")
        page.wait_for_url(f"**/campaigns/{campaign.id}/single/")
    elif exit_by == "nav link":
        page.click("nav >> text=Campaigns")
        page.wait_for_url("**/campaigns/")
    else:
        page.close(run_before_unload=True)  # a warning first if the save is still queued, then the tab closes
    wait_stored(annotator, first[0], "rendition", page.context)
    assert stored(annotator)[first[1]] == "natural"
    assert len(stored(annotator)) == 4


def test_it_asks_before_leaving_labels_not_submitted(page: Any, live_server: Any, annotator: object,
                                                    campaign: Campaign) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/?n=4")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#unsaved").inner_text() == "all saved"
    page.keyboard.press("1")
    page.keyboard.press("2")
    pill = page.locator("#unsaved")
    assert pill.get_attribute("data-count") == "2"
    assert "2 on this page not submitted" in pill.inner_text()

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.click("text=Single mode", no_wait_after=True)
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    assert "/grid/" in page.url  # dismissing the warning keeps the annotator and the labels here
    assert [t["label"] for t in grid_state(page)["pages"][0][:2]] == ["natural", "rendition"]

    page.click("nav >> text=Campaigns", no_wait_after=True)
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload", "beforeunload"]

    # Submitting saves them and the warning goes away.
    page.keyboard.press("Shift+3")
    page.keyboard.press("Enter")
    wait_saved(page)
    assert page.locator("#unsaved").inner_text() == "all saved"
    page.click("nav >> text=Campaigns")
    page.wait_for_url("**/campaigns/")
    assert dialogs == ["beforeunload", "beforeunload"]
    assert sorted(stored(annotator).values()) == ["ambiguous", "ambiguous", "natural", "rendition"]


def test_it_warns_then_saves_when_the_tab_closes_with_a_save_in_flight(page: Any, live_server: Any,
                                                                       annotator: object, campaign: Campaign) -> None:
    login(page, live_server.url, "ann", "ann-pw")
    first = label_and_revisit_first_page(page, live_server.url, campaign)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    page.route("**/annotations/", lambda route: None)  # the save hangs, unanswered
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    assert page.locator("#unsaved").get_attribute("data-count") == "1"  # the pill says so
    page.unroute("**/annotations/")
    page.close(run_before_unload=True)
    # The warning came first; leaving anyway sends the queued label in a keepalive request.
    wait_stored(annotator, first[0], "rendition", page.context)
    assert dialogs == ["beforeunload"]
