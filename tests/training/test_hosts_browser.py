"""The GPU hosts page in real Chromium: hosts and their devices with the runs holding them, the
queue in order, and raising a waiting run's priority from the page."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import login
from training.hostinfo import declared_gpus
from training.models import TrainHost, TrainingRun
from training.services.placement import train_host_register, training_queue_place

pytestmark = [pytest.mark.e2e]


def test_it_shows_hosts_holders_and_reorders_the_queue(transactional_db: None, live_server: Any, page: Any,
                                                       researcher: object, tmp_path: Path) -> None:
    train_host_register(name="gpu-node-1", gpus=declared_gpus("4", model="A100-80GB", memory_mb=81920),
                        source="declared")
    train_host_register(name="gpu-node-2", gpus=declared_gpus("2", model="A100-80GB", memory_mb=81920),
                        source="declared")
    TrainHost.objects.filter(name="gpu-node-2").update(status=TrainHost.Status.LOST)
    holder = TrainingRun.objects.create(name="holder-run", gpus=3, logs_dir="/tmp/x", status="queued")
    training_queue_place()
    first = TrainingRun.objects.create(name="first-waiting", gpus=4, logs_dir="/tmp/x")
    TrainingRun.objects.create(name="second-waiting", gpus=1, logs_dir="/tmp/x")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    statuses: dict[str, int] = {}
    page.on("response", lambda r: statuses.__setitem__(r.url.split("?")[0].rsplit("/", 1)[-1] or r.url, r.status))

    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/training/")
    page.click("#hosts-link")
    page.wait_for_url(f"{live_server.url}/training/hosts/")
    node1 = page.locator('article[data-host="gpu-node-1"]')
    assert node1.locator('[data-field="status"]').inner_text() == "up"
    assert node1.locator('[data-field="free"]').inner_text() == "1"
    held = node1.locator("tr.held")
    assert held.count() == 3 and "holder-run" in held.first.inner_text()
    assert node1.locator("tr.free").count() == 1
    node2 = page.locator('article[data-host="gpu-node-2"]')
    assert node2.locator('[data-field="status"]').inner_text() == "lost"
    assert node2.locator('[data-field="free"]').inner_text() == "0"  # a lost host's devices are not offered
    rows = page.locator("#queue tbody tr")
    assert [rows.nth(i).locator("td").nth(1).inner_text().split()[0] for i in range(2)] == ["first-waiting",
                                                                                            "second-waiting"]
    # Raise the second run above the first from the page.
    second = page.locator("#queue tbody tr", has_text="second-waiting")
    second.locator("input[name=priority]").fill("5")
    second.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/training/hosts/")
    # It jumped the queue and, needing one GPU, was placed on the free device at once.
    assert "second-waiting" in node1.locator("tr.free, tr.held").last.inner_text()
    assert page.locator("#queue tbody tr").count() == 1
    assert "first-waiting" in page.locator("#queue tbody tr").first.inner_text()
    page.click(f'#queue a[href="/training/{first.id}/"]')
    assert "#1" in page.locator("#run-placement").inner_text()
    page.goto(f"{live_server.url}/training/{holder.id}/")
    assert "gpu-node-1" in page.locator("#run-placement").inner_text()
    page.goto(f"{live_server.url}/training/hosts/")
    shot = tmp_path / "training-hosts.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert statuses.get("hosts.js") == 200 and statuses.get("training_hosts.css") == 200  # static, not inline
    assert {name for name, status in statuses.items() if status >= 400} <= {"favicon.ico"}
    assert len([e for e in errors if "404" not in e]) == 0, errors  # the only 404 is the favicon (above)
