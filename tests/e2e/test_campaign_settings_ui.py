"""Campaign settings in real Chromium: a researcher edits settings and pauses, finishes and reopens
a campaign from its page; an annotator sees the effect in the grid."""
from __future__ import annotations

from typing import Any

import pytest

from labeling.models import Campaign
from labeling.services.campaigns import campaign_create
from tests.browser import login
from tests.factories import make_dataset, make_images

pytestmark = [pytest.mark.e2e]


def test_it_says_plainly_what_k_and_the_agreement_subset_mean(page: Any, live_server: Any, researcher: object,
                                                              transactional_db: None) -> None:
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/campaigns/new/")
    form = page.locator("form.campaign-form").inner_text()
    assert "k labels per item" in form
    assert "agreement subset: this fraction of the items gets m labels" in form


def test_it_edits_settings_and_status_from_the_campaign_page(browser: Any, page: Any, live_server: Any,
                                                             researcher: object, annotator: object,
                                                             transactional_db: None, media_root: object) -> None:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=20)
    campaign = campaign_create(name="Settings", datasets=[ds], k=1, user=researcher)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/")
    assert "1 label per item; agreement subset: 0% of items get 3 labels" in page.locator(".settings").inner_text()

    page.click("text=Edit settings")
    page.fill("#id_lease_minutes", "25")
    page.select_option("#id_final_label_rule", "adjudicated>unanimous")
    page.fill("#id_description", "second pass")
    page.click("#settings-form button[type=submit]")
    page.wait_for_selector("text=Saved: description, final_label_rule, lease_minutes.")
    campaign.refresh_from_db()
    assert (campaign.lease_minutes, campaign.final_label_rule, campaign.description) == (
        25, "adjudicated>unanimous", "second pass")

    # A bad value is refused with the reason and changes nothing.
    page.click("text=Edit settings")
    page.fill("#id_lease_minutes", "0")
    page.evaluate("document.getElementById('id_lease_minutes').removeAttribute('min')")
    page.click("#settings-form button[type=submit]")
    page.wait_for_selector("text=Not saved: lease_minutes")
    campaign.refresh_from_db()
    assert campaign.lease_minutes == 25

    # Pause: the annotator's grid says so and leases nothing.
    page.click(".status-actions button[value=pause]")
    page.wait_for_selector("text=The campaign is paused now.")
    assert Campaign.objects.get(pk=campaign.id).status == "paused"
    other = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    login(other, live_server.url, "ann", "ann-pw")
    other.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/")
    other.wait_for_selector("#done:not([hidden])")
    assert "paused" in other.locator("#done h2").inner_text()

    # Reopen, then finish: the buttons offered follow the status.
    assert page.locator(".status-actions button").all_inner_texts() == ["Finish", "Reopen"]
    page.click(".status-actions button[value=reopen]")
    page.wait_for_selector("text=The campaign is active now.")
    other.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/")
    other.wait_for_selector("body[data-ready='1']")
    assert other.locator(".tile").count() > 0
    page.click(".status-actions button[value=finish]")
    page.wait_for_selector("text=The campaign is finished now.")
    assert page.locator(".status-actions button").all_inner_texts() == ["Reopen", "Archive"]
    other.context.close()


def test_it_edits_members_from_the_campaign_page(browser: Any, page: Any, live_server: Any, researcher: object,
                                                 annotator: object, annotator2: object, transactional_db: None,
                                                 media_root: object) -> None:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=20)
    campaign = campaign_create(name="Members", datasets=[ds], k=1, user=researcher)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/")
    page.click("text=Edit members")
    page.check(f"#members-form input[name=members][value='{annotator2.pk}']")
    page.click("#members-form button[type=submit]")
    page.wait_for_selector("text=Members saved.")
    assert list(campaign.members.values_list("username", flat=True)) == ["ann2"]
    assert "ann2" in page.locator(".settings dd").nth(1).inner_text()

    # ann is no member now: the campaign is gone from their list and its grid answers 404.
    other = browser.new_context().new_page()
    login(other, live_server.url, "ann", "ann-pw")
    other.goto(f"{live_server.url}/campaigns/")
    assert other.locator(f"[data-campaign='{campaign.id}']").count() == 0
    assert other.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/").status == 404

    # Emptying the members opens it to every annotator again.
    page.click("text=Edit members")
    page.uncheck(f"#members-form input[name=members][value='{annotator2.pk}']")
    page.click("#members-form button[type=submit]")
    page.wait_for_selector("text=Members saved: open to every annotator.")
    assert other.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/").status == 200
    other.wait_for_selector("body[data-ready='1']")  # its lease request has finished
    other.context.close()
