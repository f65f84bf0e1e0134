from __future__ import annotations

from pathlib import Path

import pytest

from training.models import EvalResult, TrainingRun


def _body(shard_sets: dict[str, Path], **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "run-a", "gpus": 8, "mixture": {"preset": "mix_2_1_resampled", "natural": str(shard_sets["natural"]),
                                                "rendition": str(shard_sets["rendition"]), "unit": 8}}
    body.update(extra)
    return body


@pytest.mark.django_db
def test_it_needs_the_researcher_role(api: type, annotator: object, outsider: object) -> None:
    assert api(None).get("/api/v1/training-runs/").status_code in (401, 403)
    assert api(annotator).get("/api/v1/training-runs/").status_code == 403
    assert api(outsider).post("/api/v1/training-runs/", {}, format="json").status_code == 403
    assert api(annotator).get("/api/v1/eval-results/").status_code == 403


@pytest.mark.django_db
def test_it_previews_the_exact_command_with_paper_defaults(api: type, researcher: object, media_root: Path,
                                                           shard_sets: dict[str, Path]) -> None:
    out = api(researcher).post("/api/v1/training-runs/", _body(shard_sets, dry_run=True), format="json")
    assert out.status_code == 200, out.content
    data = out.json()
    cmd = data["command"]
    assert cmd[1:6] == ["--nproc_per_node", "8", "-m", "--", "open_clip_train.main"]
    assert cmd[cmd.index("--model") + 1] == "ViT-B-32" and cmd[cmd.index("--epochs") + 1] == "32"
    assert cmd[cmd.index("--batch-size") + 1] == "2048"
    assert cmd[cmd.index("--train-num-samples") + 1] == "24"
    assert data["plan"]["sources"][1]["per_epoch"] == 8
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("extra,message", [
    ({"gpus": 3}, "not divisible by 3 GPU"),
    ({"mixture": {"preset": "mix_1_2", "natural": "N", "rendition": "R", "unit": 8}}, "missing shard"),
    ({"model": "NoSuchNet"}, "unknown model 'NoSuchNet'"),
    ({"name": "bad name!"}, "letters, digits"),
    ({"precision": "fp8"}, "precision must be one of"),
])
def test_it_refuses_bad_input_before_launching(api: type, researcher: object, media_root: Path,
                                               shard_sets: dict[str, Path], extra: dict, message: str) -> None:
    if extra.get("mixture", {}).get("natural") == "N":  # a missing shard set inside the data roots
        missing = str(media_root.parent / "N")
        extra = {"mixture": {**extra["mixture"], "natural": missing, "rendition": missing}}
    out = api(researcher).post("/api/v1/training-runs/", _body(shard_sets, **extra), format="json")
    assert out.status_code == 400 and message in out.json()["detail"], out.content
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_ratio_the_sources_cannot_meet(api: type, researcher: object, media_root: Path,
                                                    shard_sets: dict[str, Path]) -> None:
    # The rendition set holds 8 samples; mix_1_2 at unit 8 needs 16 per epoch.
    body = _body(shard_sets, mixture={"preset": "mix_1_2_resampled", "natural": str(shard_sets["natural"]),
                                      "rendition": str(shard_sets["rendition"]), "unit": 8})
    out = api(researcher).post("/api/v1/training-runs/", body, format="json")
    assert out.status_code == 400
    assert "'rendition' holds 8 samples but the mixture needs 16" in out.json()["detail"]


@pytest.mark.django_db
def test_it_creates_reads_and_cancels_a_run(api: type, researcher: object, media_root: Path, gpu_host: object,
                                           shard_sets: dict[str, Path]) -> None:
    client = api(researcher)
    created = client.post("/api/v1/training-runs/", _body(shard_sets), format="json")
    assert created.status_code == 201
    run_id = created.json()["id"]
    assert created.json()["status"] == "queued"
    assert client.post("/api/v1/training-runs/", _body(shard_sets), format="json").status_code == 400  # same name
    assert client.get(f"/api/v1/training-runs/{run_id}/").json()["name"] == "run-a"
    assert client.get("/api/v1/training-runs/").json()["count"] == 1
    assert client.get(f"/api/v1/training-runs/{run_id}/log/").json()["log"] == ""
    assert client.post(f"/api/v1/training-runs/{run_id}/resume/").status_code == 400  # not finished
    assert client.post(f"/api/v1/training-runs/{run_id}/cancel/").json()["status"] == "cancelled"
    assert client.post(f"/api/v1/training-runs/{run_id}/cancel/").status_code == 400
    assert client.get("/api/v1/training-runs/999999/").status_code == 404


@pytest.mark.django_db
def test_it_lists_eval_results_by_run(api: type, researcher: object) -> None:
    run = TrainingRun.objects.create(name="r1", logs_dir="/x")
    EvalResult.objects.create(training_run=run, model="m", checkpoint="/c/epoch_1.pt", epoch=1, test_set="IN-Val",
                              domain="natural", top1=0.5, top5=0.9, n=10)
    EvalResult.objects.create(model="m", checkpoint="openai", test_set="IN-Val", top1=0.7, top5=0.9, n=10)
    out = api(researcher).get(f"/api/v1/eval-results/?training_run={run.id}").json()
    assert out["count"] == 1 and out["results"][0]["top1"] == 0.5
