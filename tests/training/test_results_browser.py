"""The results page in real Chromium: Table 2, both Figure 3 plots rendered, the CSV link, and a
screenshot of the whole page."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import login
from tests.training.results_data import make_evaluated_runs

pytestmark = [pytest.mark.e2e]


def test_it_renders_table2_and_figure3(transactional_db: None, live_server: Any, page: Any,
                                        researcher: object, tmp_path: Path) -> None:
    runs = make_evaluated_runs()
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/training/results/?runs=" + ",".join(str(r.id) for r in runs))
    rows = page.locator("#table2 tbody tr")
    assert rows.count() == 5
    laion = page.locator("#table2 tbody tr", has_text="laion_natural").inner_text()
    assert "39.72" in laion and "18.75" in laion
    for figure in ("#fig-ratio svg", "#fig-added svg"):
        box = page.locator(figure).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200
    # The CSV link carries the chosen runs and downloads the table.
    with page.expect_download() as download:
        page.click("#csv-link")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("run,epoch,total_samples") and "mix_44_13" in text
    shot = tmp_path / "training-results.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
