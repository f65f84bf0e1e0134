"""The compare page in real Chromium: PR curves drawn (one chart per class, one line per run)."""
from __future__ import annotations

from typing import Any

import pytest

from classifier.models import ClassifierRun
from tests.browser import login

pytestmark = [pytest.mark.e2e]

CURVE = {"precision": [0.5, 0.8, 1.0], "recall": [1.0, 0.6, 0.1], "thresholds": [0.1, 0.5, 0.9]}


def finished_run(method: str) -> ClassifierRun:
    op = {"precision": 1.0, "recall": 0.4, "threshold": 0.9, "support": 10}
    metrics = {"scored_classes": ["natural", "rendition"], "thresholds": {"natural": 0.9, "rendition": 0.8},
               "val": {"natural": op, "rendition": op}, "test": {"natural": op, "rendition": op},
               "per_dataset": {}, "pr_test": {"natural": CURVE, "rendition": CURVE}}
    return ClassifierRun.objects.create(labels_source="intended_domain", extractor="timm:efficientnet_lite0/pypi",
                                        method=method, status="succeeded", metrics=metrics,
                                        thresholds=metrics["thresholds"])


def test_it_draws_pr_curves_for_each_class_and_run(transactional_db: None, live_server: Any, page: Any,
                                                   researcher: object) -> None:
    runs = [finished_run("linear"), finished_run("dr-R")]
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/classifier/compare/?runs={runs[0].id},{runs[1].id}")
    assert page.locator("#pr-curves figure").count() == 2
    assert page.locator("#pr-curves polyline").count() == 4
    assert "run" in page.locator("#pr-curves li").first.inner_text()
