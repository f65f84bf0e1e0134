from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.test import Client

from tests.training.results_data import make_evaluated_runs
from training.models import TrainingRun


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_it_keeps_annotators_out(annotator: object) -> None:
    client = _client(annotator)
    for url in ("/training/", "/training/results/", "/training/results.csv"):
        assert client.get(url).status_code == 403
    assert Client().get("/training/").status_code == 302  # to the login page


@pytest.mark.django_db
def test_it_previews_then_launches_from_the_form(researcher: object, media_root: Path, gpu_host: object,
                                                  shard_sets: dict[str, Path]) -> None:
    client = _client(researcher)
    form = {"name": "page-run", "preset": "mix_2_1_resampled", "natural": str(shard_sets["natural"]),
            "rendition": str(shard_sets["rendition"]), "unit": 8, "model": "ViT-B-32", "epochs": 32,
            "global_batch": 16384, "gpus": 8, "nodes": 1, "precision": "amp", "workers": 6, "device": "cuda",
            "backend": "local", "backend_options": "{}"}
    page = client.post("/training/", {**form, "action": "preview"})
    html = page.content.decode()
    assert "open_clip_train.main" in html and "--train-data-upsampling-factors" in html
    assert not TrainingRun.objects.exists()
    bad = client.post("/training/", {**form, "gpus": 3, "action": "preview"}).content.decode()
    assert "is not divisible by 3 GPU" in bad
    response = client.post("/training/", {**form, "action": "launch"})
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/training/{run.id}/"
    detail = client.get(f"/training/{run.id}/").content.decode()
    assert "Cancel" in detail and "--nproc_per_node 8" in detail
    client.post(f"/training/{run.id}/cancel/")
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert "Resume (--resume latest)" in client.get(f"/training/{run.id}/").content.decode()


@pytest.mark.django_db
def test_it_shows_table2_and_figure3_with_csv(researcher: object) -> None:
    runs = make_evaluated_runs()
    client = _client(researcher)
    html = client.get("/training/results/?runs=" + ",".join(str(r.id) for r in runs)).content.decode()
    assert "natural avg" in html and "rendition avg" in html
    assert "39.72" in html and "43.09" in html  # clean averages at the last epoch
    assert html.count("<svg") == 2
    rows = list(csv.DictReader(io.StringIO(client.get("/training/results.csv").content.decode())))
    by_name = {r["run"]: r for r in rows}
    assert by_name["mix_44_13"]["rendition_clean"] == "43.09"
    assert by_name["mix_44_13"]["natural_standard"] == "36.97"
    assert by_name["mix_44_13"]["epoch"] == "32" and by_name["mix_8_8"]["renditions_per_epoch"] == "8000000"
    detail = client.get("/training/results.csv?detail=1").content.decode().splitlines()
    assert len(detail) == 1 + 5 * 2 * 4 * 2  # runs x epochs x test sets x modes


@pytest.mark.django_db
def test_it_shows_a_waiting_runs_place_and_offers_resume_for_a_lost_run(researcher: object, gpu_host: object) -> None:
    from training.services.placement import training_queue_place

    holder = TrainingRun.objects.create(name="holder", gpus=8, logs_dir="/tmp/x")
    training_queue_place()
    waiting = TrainingRun.objects.create(name="waiting", gpus=2, logs_dir="/tmp/x")
    client = _client(researcher)
    html = client.get(f"/training/{waiting.id}/").content.decode()
    assert "Waiting for 2 GPUs" in html and "#1</b> of 1" in html and 'id="priority-form"' in html
    assert "#1 in queue" in client.get("/training/").content.decode()
    bad = client.post(f"/training/{waiting.id}/priority/", {"priority": "high"}, follow=True).content.decode()
    assert "priority: a whole number" in bad
    assert "GPU <b data-field=\"devices\">0,1,2,3,4,5,6,7</b>" in client.get(f"/training/{holder.id}/").content.decode()
    TrainingRun.objects.filter(pk=holder.pk).update(status="lost", error="host h stopped heartbeating")
    lost = client.get(f"/training/{holder.id}/").content.decode()
    assert "Resume (--resume latest)" in lost and "stopped heartbeating" in lost
