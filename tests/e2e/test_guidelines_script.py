"""Guidelines typed by a researcher run no script in anyone's browser.

The payloads are the three ways in that plain Markdown rendering offered: raw HTML with an event
handler, a ``javascript:`` link, and attribute-list syntax that sets an event handler. Each would
set ``window.__pwned`` or open a dialog; in real Chromium, for an annotator and an admin, neither
happens, and the page carries a Content-Security-Policy that forbids inline script.
"""
from __future__ import annotations

from typing import Any

import pytest

from labeling.models import Campaign
from labeling.services.campaigns import campaign_create
from tests.browser import login
from tests.factories import make_dataset, make_images

pytestmark = [pytest.mark.e2e]

HOSTILE_GUIDELINES = """# Rules

<img src=x onerror="window.__pwned = 'raw-html'; alert('raw-html')">

[Read the full rules](javascript:window.__pwned='js-link';alert('js-link'))

Click this paragraph
{: onclick="window.__pwned = 'attr-list'; alert('attr-list')" id="attr-para" }

![example](/static/css/app.css){: onerror="window.__pwned = 'attr-img'" onload="window.__pwned = 'attr-img'" }

[data link](data:text/html,<script>alert('data')</script>)
"""


@pytest.fixture
def hostile_campaign(transactional_db: None, media_root: object, researcher: object) -> Campaign:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=12)
    return campaign_create(name="Hostile guidelines", datasets=[ds], k=1, user=researcher,
                           guidelines=HOSTILE_GUIDELINES)


@pytest.mark.parametrize("who", [("annotator", "ann"), ("admin_user", "adm")], ids=["annotator", "admin"])
def test_it_runs_no_script_from_guidelines(page: Any, live_server: Any, hostile_campaign: Campaign,
                                           request: pytest.FixtureRequest, who: tuple[str, str]) -> None:
    fixture, username = who
    request.getfixturevalue(fixture)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, live_server.url, username, f"{username}-pw")

    response = page.goto(f"{live_server.url}/campaigns/{hostile_campaign.id}/grid/")
    policy = response.headers.get("content-security-policy", "")
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'self'" in script_src and "unsafe-inline" not in script_src
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy

    page.wait_for_selector("body[data-ready='1']")
    page.click("#open-guidelines")
    modal = page.locator("dialog#guidelines")
    modal.wait_for(state="visible")
    # The text is there, harmless: the raw HTML shows as text, the links lead nowhere.
    assert "Read the full rules" in modal.inner_text()
    assert "onerror" in modal.inner_text()  # escaped, visible as text
    link = modal.locator("a", has_text="Read the full rules")
    assert link.get_attribute("href") is None
    assert modal.locator("a", has_text="data link").get_attribute("href") is None
    assert modal.locator("[onclick], [onerror], [onload]").count() == 0
    link.click()
    modal.locator("p", has_text="Click this paragraph").click()
    page.wait_for_timeout(300)

    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_the_annotators_campaign_page_shows_the_guidelines_inert(page: Any, live_server: Any, annotator: object,
                                                                  hostile_campaign: Campaign) -> None:
    """The campaign page an annotator opens shows the same guidelines inline: as harmless."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, live_server.url, "ann", "ann-pw")
    response = page.goto(f"{live_server.url}/campaigns/{hostile_campaign.id}/")
    assert response.status == 200
    rules = page.locator("section.guidelines-card article.guidelines")
    assert "Read the full rules" in rules.inner_text() and "onerror" in rules.inner_text()
    assert rules.locator("[onclick], [onerror], [onload], script").count() == 0
    assert rules.locator("a", has_text="Read the full rules").get_attribute("href") is None
    rules.locator("a", has_text="Read the full rules").click()
    rules.locator("p", has_text="Click this paragraph").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_it_blocks_injected_inline_handlers_by_policy(page: Any, live_server: Any, annotator: object,
                                                      hostile_campaign: Campaign) -> None:
    """Defence in depth: even markup that got into the DOM cannot run inline code."""
    login(page, live_server.url, "ann", "ann-pw")
    page.goto(f"{live_server.url}/campaigns/{hostile_campaign.id}/grid/")
    page.wait_for_selector("body[data-ready='1']")
    violations = page.evaluate("""() => new Promise((resolve) => {
        const seen = [];
        document.addEventListener("securitypolicyviolation", (e) => seen.push(e.violatedDirective));
        document.body.insertAdjacentHTML("beforeend",
            '<img src="/no-such-image.png" onerror="window.__pwned = 1">');
        const s = document.createElement("script");
        s.textContent = "window.__pwned = 2";
        document.body.append(s);
        setTimeout(() => resolve(seen), 500);
    })""")
    assert page.evaluate("window.__pwned") is None
    assert any(v.startswith("script-src") for v in violations), violations


def test_it_serves_the_api_docs_under_the_policy(page: Any, live_server: Any, annotator: object) -> None:
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live_server.url, "ann", "ann-pw")
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert violations == []
