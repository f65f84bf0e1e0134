"""The agreement page's pictures in real Chromium: heatmaps, intervals, agreement over time, PR curves
with operating points, every chart's CSV, and pausing an annotator from the page."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from classifier.models import ClassifierRun
from domainsieve.jobs import JobStatus
from labeling.models import AnnotatorPause, Campaign
from labeling.services.quality import gold_set
from tests.browser import login
from tests.labeling.quality_helpers import labelled_campaign

pytestmark = [pytest.mark.e2e]

N, R = "natural", "rendition"
FLIP = {N: R, R: N}
TRUTH = [N, R, N, R, N, R, N, R, N, R]


@pytest.fixture
def campaign(transactional_db: None, media_root: object, admin_user: object) -> Campaign:
    rows: list[list[str | None]] = [[t, t, FLIP[t]] for t in TRUTH[:8]] + [[t, None, FLIP[t]] for t in TRUTH[8:]]
    campaign, items, _ = labelled_campaign(labels=rows, owner=admin_user, final_label_rule="dawid-skene")
    gold_set(campaign=campaign, labels={items[0].id: N, items[1].id: R})
    run = ClassifierRun.objects.create(
        name="stored", labels_source="intended_domain", extractor="timm:efficientnet_lite0/pypi", method="linear",
        classes=[N, R], status=JobStatus.SUCCEEDED, target_precision=0.98,
        metrics={"pr_test": {N: {"precision": [0.5, 0.9, 0.99, 1.0], "recall": [1.0, 0.8, 0.6, 0.1],
                                 "thresholds": [0.1, 0.5, 0.9]}},
                 "test": {N: {"precision": 0.99, "recall": 0.6, "threshold": 0.9}}})
    run.datasets.set(campaign.datasets.all())
    return campaign


def test_it_draws_every_chart_and_serves_its_csv(page: Any, live_server: Any, campaign: Campaign,
                                                 tmp_path: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    login(page, live_server.url, "adm", "adm-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/agreement/")
    page.wait_for_selector("#chart-confusion svg.heatmap")
    assert page.locator("#chart-confusion svg.heatmap").count() == 3  # one per annotator
    confusion_text = page.locator("#chart-confusion").text_content()
    assert "given label" in confusion_text and "true class" in confusion_text
    # rater2 flips every label: its off-diagonal cells are the dark ones.
    rater2 = page.locator("#chart-confusion svg.heatmap", has_text="rater2").text_content()
    assert "1.00" in rater2 and "0.00" in rater2
    # Accuracy: vs gold and vs consensus, each a dot with an interval line.
    assert page.locator("#chart-accuracy svg circle").count() == 3 + 3
    assert "vs gold" in page.locator("#chart-accuracy").text_content()
    assert page.locator("#chart-over_time svg polyline").count() == 3
    assert "agreement" in page.locator("#chart-over_time").text_content()
    # Classifier comparison: the stored run's PR curve with its operating point ring.
    page.wait_for_selector("#pr-curves svg polyline")
    assert page.locator("#pr-curves circle.operating-point").count() == 1
    assert "precision" in page.locator("#pr-curves").text_content()
    for name, header in [("confusion", "annotator,true,given,rate,low,high"),
                         ("accuracy", "annotator,against,accuracy,low,high,n"),
                         ("over_time", "annotator,day,agreement,n"), ("pr", "run,class,precision,recall,threshold")]:
        with page.expect_download() as download:
            page.click(f"#chart-{name} a.csv")
        target = tmp_path / f"{name}.csv"
        download.value.save_as(target)
        lines = target.read_text().splitlines()
        assert lines[0] == header and len(lines) > 1
    assert not errors, errors


def test_it_pauses_an_annotator_from_the_page(page: Any, live_server: Any, campaign: Campaign) -> None:
    login(page, live_server.url, "adm", "adm-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/agreement/")
    row = page.locator('#consensus-annotators tr[data-annotator="rater2"]')
    assert "below floor" in row.text_content()
    assert page.locator('#consensus-annotators tr[data-annotator="rater0"] button').count() == 0
    row.locator("input[name=reason]").fill("flips every label")
    row.locator("button", has_text="Pause").click()
    page.wait_for_selector(".messages li.success")
    assert "below the campaign's floor" in page.locator(".messages").text_content()
    assert AnnotatorPause.objects.get(campaign=campaign).annotator.username == "rater2"
    assert "paused" in page.locator('#consensus-annotators tr[data-annotator="rater2"]').text_content()


def test_it_tells_a_paused_annotator_why_the_grid_is_empty(page: Any, live_server: Any, campaign: Campaign,
                                                          admin_user: Any) -> None:
    from django.contrib.auth.models import User

    from labeling.services.consensus import annotator_pause

    rater2 = User.objects.get(username="rater2")
    annotator_pause(campaign=campaign, annotator_id=rater2.id, paused_by=admin_user, reason="")
    login(page, live_server.url, "rater2", "rater2-pw")
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/grid/?n=9")
    page.wait_for_selector("#flash.error")
    assert "An admin paused your labeling in this campaign" in page.locator("#flash").text_content()
    assert page.locator(".tile").count() == 0
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/me/")
    assert "An admin paused your labeling" in page.locator("#paused").text_content()
    assert "Your gold accuracy" in page.content() and "rater0" not in page.content()
