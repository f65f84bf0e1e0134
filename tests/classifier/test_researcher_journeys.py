"""The classifier pipeline connected in the browser: a run's page follows
the run live and offers Apply and Compare; the forms offer only runs that have the head they need
and say why the others are missing; a uid list given as shards is refused with a 400; an apply
job's subset becomes shards with a Reshard button, and the Training form offers them."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from classifier.apply.uids import save_uid_list
from classifier.ml.extractors import tiny_extractor_string
from classifier.models import ApplyJob, ClassifierRun, ReshardJob
from classifier.services.reshard import reshard_job_create, reshard_job_run
from tests.browser import login
from tests.classifier.apply_factories import write_centroid_heads, write_shards
from tests.conftest import WorkerProcess, wait_for

CURVE = {"precision": [0.5, 0.8, 1.0], "recall": [1.0, 0.6, 0.1], "thresholds": [0.1, 0.5, 0.9]}


def _metrics(classes: list[str], thresholds: dict[str, float]) -> dict[str, Any]:
    op = {"precision": 0.98765, "recall": 0.4, "threshold": 0.9, "support": 10}
    return {"scored_classes": classes, "thresholds": thresholds, "val": {c: op for c in classes},
            "test": {c: op for c in classes}, "per_dataset": {}, "pr_test": {c: CURVE for c in classes}}


def _run(**fields: Any) -> ClassifierRun:
    return ClassifierRun.objects.create(labels_source="intended_domain", extractor=tiny_extractor_string(),
                                        method="centroid", **fields)


@pytest.mark.e2e
def test_it_follows_a_run_live_then_applies_and_compares_it(transactional_db: None, live_server: Any, page: Any,
                                                            researcher: Any, media_root: Path) -> None:
    write_centroid_heads(Path(settings.ARTIFACTS_ROOT) / "runs")
    run = _run(name="journey", classes=["natural", "rendition", "ambiguous"], status="queued",
               artifacts={"model": "runs/natural.pkl"})
    thresholds = {"rendition": 0.7}
    _run(name="ren-only", classes=["rendition"], status="succeeded", thresholds=thresholds,
         metrics=_metrics(["rendition"], thresholds), artifacts={"model": "runs/rendition.pkl"})

    login(page, live_server.url, "res", "res-pw")
    nav = page.locator("header nav")
    assert nav.get_by_role("link", name="Apply").count() == 1 and nav.get_by_role("link", name="Clean").count() == 1
    page.goto(f"{live_server.url}/classifier/runs/{run.id}/")
    assert page.locator("[data-run-status]").inner_text() == "queued"
    ClassifierRun.objects.filter(pk=run.pk).update(status="running", progress=0.4)
    expect(page.locator("#run-progress")).to_have_text("40%")
    expect(page.locator("[data-run-status]")).to_have_text("running")
    thresholds = {"natural": 0.912345678, "rendition": 0.8}
    ClassifierRun.objects.filter(pk=run.pk).update(status="succeeded", progress=1.0, thresholds=thresholds,
                                                   metrics=_metrics(["natural", "rendition"], thresholds))
    page.locator("#run-metrics").wait_for()  # the page reloaded itself when the run ended
    natural = page.locator("#run-metrics tr[data-class=natural]")
    assert natural.locator("td.threshold").inner_text() == "0.912"
    assert natural.locator("td.threshold").get_attribute("title") == "0.912345678"
    assert "98.8" in natural.inner_text() and "40.0" in natural.inner_text()  # percent, like every figure
    assert page.locator("#pr-curves .axis-x").first.text_content() == "recall (%)"
    assert page.locator("#pr-curves .axis-y").first.text_content() == "precision (%)"

    page.click("#apply-run")
    form = page.locator("#apply-form")
    assert form.locator("[name=natural_run]").input_value() == str(run.id)
    assert form.locator("[name=natural_run] option").count() == 1  # ren-only has no natural head
    assert form.locator("[name=rendition_run] option").count() == 2
    why = form.locator("details[data-head=natural]")
    why.locator("summary").click()
    assert "ren-only (centroid) has no natural class (trained on rendition)" in why.inner_text()

    uid_list = media_root.parent / "natural_strict.npy"
    save_uid_list(uid_list, ["ab" * 16])
    form.locator("[name=shards]").fill(str(uid_list))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.locator("button[type=submit]").click()
    assert posted.value.status == 400
    assert "is a uid list (.npy), not webdataset shards: reshard the subset first" in page.locator(
        ".messages").inner_text()
    assert page.locator("#apply-form [name=shards]").input_value() == str(uid_list)
    assert not ApplyJob.objects.exists()

    page.goto(f"{live_server.url}/classifier/runs/{run.id}/")
    page.click("#compare-run")
    page.locator("#pr-curves figure").first.wait_for()
    colours: dict[str, set[str | None]] = {}
    for line in page.locator("#pr-curves polyline").all():
        colours.setdefault(line.get_attribute("data-run") or "", set()).add(line.get_attribute("stroke"))
    assert len(colours) == 2 and all(len(c) == 1 for c in colours.values())  # one colour per run in every chart
    assert len(set.union(*colours.values())) == 2


def _finished_apply_job(root: Path) -> tuple[ApplyJob, list[str]]:
    write_shards(root / "pool", 2, n=6)
    uids = [hashlib.md5(f"uid-{s}-{i}".encode()).hexdigest() for s in range(2) for i in range(6)][::2]
    out_dir = Path(settings.ARTIFACTS_ROOT) / "apply" / "job_pool"
    natural = out_dir / "subsets" / "natural_strict.npy"
    rendition = out_dir / "subsets" / "rendition_strict.npy"
    save_uid_list(natural, uids)
    save_uid_list(rendition, [])
    job = ApplyJob.objects.create(
        name="pool", pattern=str(root / "pool"), extractor="x", natural_head_path="x", rendition_head_path="x",
        status="succeeded", shards_total=2, out_dir=str(out_dir),
        summary={"total": 12, "rows": [], "uid_sources": {"json": 12},
                 "subsets": {"natural_strict": {"path": str(natural), "count": len(uids)},
                             "rendition_strict": {"path": str(rendition), "count": 0}}})
    return job, uids


@pytest.mark.e2e
def test_it_reshards_a_subset_from_its_button_and_offers_it_to_training(transactional_db: None, live_server: Any,
                                                                       page: Any, researcher: Any,
                                                                       media_root: Path) -> None:
    job, uids = _finished_apply_job(media_root.parent)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/classifier/apply/{job.id}/")
    assert page.locator("tr[data-subset=rendition_strict] button").count() == 0  # nothing to copy
    page.locator("tr[data-subset=natural_strict] button", has_text="Reshard").click()
    row = page.locator("tr[data-subset=natural_strict]")
    expect(row.locator("[data-live=status]")).to_have_text("queued")
    reshard = ReshardJob.objects.get(apply_job=job, subset="natural_strict")
    reshard_job_run(reshard_id=reshard.id)  # what the default worker does; the page is polling
    link = page.locator("tr[data-subset=natural_strict] a.train-on")
    link.wait_for()
    assert f"{len(uids)} samples in 1 shard(s)" in page.locator("tr[data-subset=natural_strict]").inner_text()
    assert "2/2 source shards read" in page.locator("tr[data-subset=natural_strict]").inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/training/\?natural=%2F"))
    reshard.refresh_from_db()
    assert page.locator("#run-form [name=natural]").input_value() == reshard.out_dir
    assert page.locator("datalist#shard-sets option").first.get_attribute("value") == reshard.out_dir
    assert page.locator("#run-form [name=natural]").get_attribute("list") == "shard-sets"


@pytest.mark.django_db
def test_it_refuses_reshards_that_cannot_work_and_reuses_a_running_one(api: Any, researcher: Any,
                                                                      media_root: Path) -> None:
    job, _ = _finished_apply_job(media_root.parent)
    url = f"/api/v1/apply-jobs/{job.id}/reshard/"
    missing = api(researcher).post(url, {"subset": "natural_default"}, format="json")
    assert missing.status_code == 400 and "has no subset 'natural_default'" in missing.json()["detail"]
    first = api(researcher).post(url, {"subset": "natural_strict", "shard_size": 4}, format="json")
    again = api(researcher).post(url, {"subset": "natural_strict"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    ApplyJob.objects.filter(pk=job.pk).update(status="running")
    busy = api(researcher).post(url, {"subset": "rendition_strict"}, format="json")
    assert busy.status_code == 400 and "reshard a finished job" in busy.json()["detail"]


@pytest.mark.worker
def test_it_reshards_on_a_default_queue_worker(worker_env: dict[str, str], media_root: Path) -> None:
    """The task must reach a worker that serves only the default queue (no GPU worker held)."""
    job, uids = _finished_apply_job(media_root.parent)
    worker = WorkerProcess(queues="default", env=worker_env, name="reshard-default")
    try:
        worker.wait_ready()
        reshard = reshard_job_create(apply_job=job, subset="natural_strict", shard_size=2)
        wait_for(lambda: ReshardJob.objects.get(pk=reshard.pk).status in ("succeeded", "failed"), timeout=90)
    finally:
        worker.stop()
    reshard.refresh_from_db()
    assert (reshard.status, reshard.samples, reshard.shards, reshard.done, reshard.total) == ("succeeded", len(uids), 3, 2, 2)
    assert sorted(p.name for p in Path(reshard.out_dir).glob("*.tar")) == ["00000.tar", "00001.tar", "00002.tar"]


@pytest.mark.e2e
def test_it_follows_apply_and_clean_jobs_live(transactional_db: None, live_server: Any, page: Any,
                                              researcher: Any, media_root: Path) -> None:
    from django.utils import timezone

    from classifier.models import ApplyShard, CleanTestset
    from tests.factories import make_dataset

    job = ApplyJob.objects.create(name="live", pattern="/x/{0..1}.tar", extractor="x", natural_head_path="x",
                                  rendition_head_path="x", status="running", shards_total=2,
                                  started_at=timezone.now())
    shards = [ApplyShard.objects.create(job=job, index=i, path=f"/x/{i}.tar", out_path=f"/o/{i}.parquet")
              for i in range(2)]
    clean = CleanTestset.objects.create(source=make_dataset(kind="testset", expected_domain="rendition"),
                                        result_name="sketch (clean)", extractor="x", natural_head_path="x",
                                        rendition_head_path="x", status="running",
                                        thresholds={"natural": 0.912345678, "rendition": 0.5})
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/classifier/apply/")
    page.fill("#apply-form [name=name]", "typed, not lost")
    row = page.locator(f"#apply-jobs tr[data-job='{job.id}']")
    ApplyShard.objects.filter(pk=shards[0].pk).update(status="succeeded", rows=6)
    expect(row.locator("[data-live='progress.rows']")).to_have_text("6")
    ApplyJob.objects.filter(pk=job.pk).update(status="cancelled")
    expect(row.locator("[data-live=status]")).to_have_text("cancelled")
    assert page.locator("#apply-form [name=name]").input_value() == "typed, not lost"  # a list row never reloads

    ApplyJob.objects.filter(pk=job.pk).update(status="running")
    page.goto(f"{live_server.url}/classifier/apply/{job.id}/")
    ApplyShard.objects.filter(pk=shards[1].pk).update(status="succeeded", rows=4)
    expect(page.locator("#progress [data-live='progress.rows']")).to_have_text("10")
    expect(page.locator("#progress span[data-live='progress.shards.succeeded']")).to_have_text("2")

    page.goto(f"{live_server.url}/classifier/clean/{clean.id}/")
    assert "natural ≥ 0.912" in page.locator("#clean-live").inner_text()
    CleanTestset.objects.filter(pk=clean.pk).update(status="succeeded", counts={"images": 3, "images_total": 4,
                                                                                "images_pct": 75.0, "classes": 2,
                                                                                "classes_total": 2})
    expect(page.locator("#clean-live")).to_contain_text("3 of 4 images")  # reloaded when the job ended


@pytest.mark.django_db
def test_it_refuses_non_tar_shards_in_the_api_and_the_reshard_command(api: Any, researcher: Any,
                                                                      media_root: Path) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from tests.classifier.apply_factories import make_run_pair

    natural, rendition = make_run_pair(Path(settings.ARTIFACTS_ROOT))
    root = media_root.parent
    uid_list = root / "subset.npy"
    save_uid_list(uid_list, ["cd" * 16])
    (root / "mixed").mkdir()
    write_shards(root / "mixed", 1, n=2)
    (root / "mixed" / "scores.parquet").write_bytes(b"PAR1")
    (root / "renamed").mkdir()
    (root / "renamed" / "00000.tar").write_bytes(b"PAR1" * 200)
    for shards, reason in ((str(uid_list), "is a uid list (.npy)"), (f"{root}/mixed/*", "is not a webdataset shard"),
                           (str(root / "renamed"), "is named like a tar but is not one")):
        response = api(researcher).post("/api/v1/apply-jobs/", {"natural_run": natural.id, "rendition_run": rendition.id,
                                                                "shards": shards}, format="json")
        assert response.status_code == 400 and reason in response.json()["detail"], response.content
    assert not ApplyJob.objects.exists()
    with pytest.raises(CommandError, match="uid list"):
        call_command("reshard", "--ids", str(uid_list), "--shards", str(uid_list), "--out", str(root / "out"))
