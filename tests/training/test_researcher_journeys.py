"""Training journeys in the browser: the form starts from CPU defaults on a
host without CUDA; a uid list given as shards is refused with the reason (400, never 500); zero-shot
results appear in percent while the evaluations run."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client

from tests.browser import login
from training import defaults
from training.models import EvalResult, TrainingRun
from training.services.zeroshot import ZeroShotInputError, zeroshot_request_run


def _uid_list(folder: Path) -> Path:
    path = folder / "natural_strict.npy"
    np.save(path, np.zeros(3, dtype=np.dtype("u8,u8")))
    return path


@pytest.mark.e2e
def test_it_starts_a_first_run_from_cpu_defaults_without_cuda(transactional_db: None, live_server: Any, page: Any,
                                                              researcher: Any, media_root: Path,
                                                              shard_sets: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "cuda_available", lambda: False)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/training/")
    form = page.locator("#run-form")
    values = {name: form.locator(f"[name={name}]").input_value()
              for name in ("model", "device", "precision", "global_batch", "gpus", "workers", "epochs")}
    assert values == {"model": "DS-Tiny", "device": "cpu", "precision": "fp32", "global_batch": "16", "gpus": "1",
                      "workers": "0", "epochs": "1"}

    # A uid list is not shards: the form says why, with a 400, and keeps what was typed.
    form.locator("[name=name]").fill("laptop-run")
    form.locator("[name=preset]").fill("laion_natural")
    form.locator("[name=natural]").fill(str(_uid_list(media_root.parent)))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button[value=preview]")
    assert posted.value.status == 400
    assert "uid list (.npy), not webdataset shards" in page.locator("#run-errors").inner_text()

    page.locator("#run-form [name=natural]").fill(str(shard_sets["natural"]))
    page.click("button[value=preview]")
    command = page.locator("#preview pre.command").first.inner_text()
    assert "--device cpu" in command and "--model-config" in command and "DS-Tiny" in command
    assert "--precision fp32" in command and "--nproc_per_node 1" in command
    page.click("button[value=launch]")
    page.wait_for_url(f"{live_server.url}/training/*/")
    run = TrainingRun.objects.get(name="laptop-run")
    assert (run.device, run.model, run.global_batch, run.gpus) == ("cpu", "DS-Tiny", 16, 1)


@pytest.mark.django_db
def test_it_keeps_the_papers_recipe_as_defaults_where_cuda_exists(researcher: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "cuda_available", lambda: True)
    client = Client()
    client.force_login(researcher)
    html = client.get("/training/").content.decode()
    assert 'name="model" value="ViT-B-32"' in html and 'value="16384"' in html
    assert '<option value="cuda" selected>' in html


@pytest.mark.django_db
def test_it_refuses_a_uid_list_or_any_non_tar_as_shards_with_400(api: Any, researcher: Any, media_root: Path,
                                                                 shard_sets: dict[str, Path]) -> None:
    other = media_root.parent / "scores.parquet"
    other.write_bytes(b"PAR1 not a tar")
    fake_tar = media_root.parent / "fake" / "00000.tar"
    fake_tar.parent.mkdir()
    fake_tar.write_bytes(b"not a tar at all" * 64)
    for shards, reason in ((_uid_list(media_root.parent), "uid list (.npy)"), (other, "not a webdataset shard"),
                           (fake_tar.parent, "not one")):
        response = api(researcher).post("/api/v1/training-runs/", {
            "name": "bad", "mixture": {"preset": "laion_natural", "natural": str(shards)}, "model": "DS-Tiny",
            "global_batch": 8, "gpus": 1, "workers": 0, "device": "cpu", "dry_run": True}, format="json")
        assert response.status_code == 400, response.content
        assert reason in response.json()["detail"]


@pytest.mark.e2e
def test_it_shows_zero_shot_results_in_percent_as_evaluations_finish(transactional_db: None, live_server: Any,
                                                                     page: Any, researcher: Any,
                                                                     tmp_path: Path) -> None:
    run = TrainingRun.objects.create(name="evaluated", logs_dir=str(tmp_path), status="succeeded",
                                     checkpoints=[{"epoch": 1, "path": str(tmp_path / "epoch_1.pt")}],
                                     evaluations_pending=2)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/training/{run.id}/")
    assert page.locator("#eval-pending").is_visible()
    assert page.locator("#eval-results tbody tr").count() == 0
    EvalResult.objects.create(training_run=run, model="DS-Tiny", checkpoint=str(tmp_path / "epoch_1.pt"), epoch=1,
                              test_set="sketches", domain="rendition", clean=False, top1=0.41234, top5=0.9, n=50,
                              n_classes=5)
    TrainingRun.objects.filter(pk=run.pk).update(evaluations_pending=1)
    row = page.locator("#eval-results tbody tr").first
    row.wait_for()
    assert "41.23" in row.inner_text() and "90.00" in row.inner_text()
    assert page.locator("#eval-pending b").inner_text() == "1"
    TrainingRun.objects.filter(pk=run.pk).update(evaluations_pending=0)
    page.locator("#eval-pending").wait_for(state="hidden")
    page.reload()
    assert "41.23" in page.locator("#eval-results").inner_text()  # the server renders percent too
    assert "top-1 %" in page.locator("#eval-results thead").inner_text()


@pytest.mark.django_db
def test_it_counts_an_evaluation_off_even_when_it_fails(tmp_path: Path) -> None:
    run = TrainingRun.objects.create(name="r", logs_dir=str(tmp_path), evaluations_pending=1)
    request = {"training_run": run.id, "model": "no-such-model", "checkpoint": str(tmp_path / "missing.pt"),
               "datasets": [], "clean": [False], "device": "cpu"}
    with pytest.raises(ZeroShotInputError):
        zeroshot_request_run(request=request)
    run.refresh_from_db()
    assert run.evaluations_pending == 0
    with pytest.raises(ZeroShotInputError):
        zeroshot_request_run(request=request)  # a redelivery never goes below zero
    run.refresh_from_db()
    assert run.evaluations_pending == 0


@pytest.mark.django_db
def test_it_counts_queued_evaluations_on_the_run(tmp_path: Path, media_root: Path) -> None:
    from tests.factories import make_dataset, make_image
    from training.services.zeroshot import zeroshot_request_enqueue

    testset = make_dataset(kind="testset", expected_domain="rendition")
    make_image(dataset=testset, class_name="cat", domain="rendition")
    run = TrainingRun.objects.create(name="r2", logs_dir=str(tmp_path), status="succeeded",
                                     checkpoints=[{"epoch": e, "path": f"/ckpt/epoch_{e}.pt"} for e in (1, 2)])
    out = zeroshot_request_enqueue(training_run=run.id, datasets=[testset.id])
    run.refresh_from_db()
    assert out["queued"] == 2 and run.evaluations_pending == 2


@pytest.mark.e2e
def test_it_updates_the_runs_table_while_runs_train(transactional_db: None, live_server: Any, page: Any,
                                                    researcher: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    run = TrainingRun.objects.create(name="training-now", logs_dir=str(tmp_path), status="running", epoch=0)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/training/")
    row = page.locator(f"#runs tr[data-run='{run.id}']")
    TrainingRun.objects.filter(pk=run.pk).update(epoch=3, loss=1.23456, checkpoints=[{"epoch": 3, "path": "/c"}])
    expect(row.locator("[data-field=epoch]")).to_have_text("3", timeout=15_000)
    assert row.locator("[data-field=loss]").inner_text() == "1.2346"
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded")
    expect(row.locator("[data-field=status]")).to_have_text("succeeded", timeout=15_000)


def test_it_reads_no_gpu_from_an_empty_cuda_visible_devices(settings: Any) -> None:
    defaults.cuda_available.cache_clear()
    settings.CUDA_VISIBLE_DEVICES = ""
    try:
        assert defaults.cuda_available() is False
        assert defaults.run_form_initial()["device"] == "cpu"
    finally:
        defaults.cuda_available.cache_clear()


@pytest.mark.django_db
def test_it_gives_each_run_one_colour_in_both_figure3_charts() -> None:
    import re

    from tests.training.results_data import make_evaluated_runs
    from training.selectors.results import figure3_svgs, table2

    figures = figure3_svgs(table2(runs=make_evaluated_runs()), clean=True)

    def marker_fills(svg: str) -> set[str]:
        return set(re.findall(r'<use xlink:href="#[^"]+" x="[^"]+" y="[^"]+" style="fill: (#[0-9a-f]{6})', svg))

    ratio, added = marker_fills(figures["ratio"]), marker_fills(figures["added"])
    assert len(ratio) >= 4 and added and added <= ratio  # (b) reuses each run's colour from (a)
    assert "mean top-1 (clean) %" in figures["added"] and "natural test sets, mean top-1 (clean) %" in figures["ratio"]
