from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.models import Dataset
from tests.factories import make_dataset, make_image
from training.models import TrainingRun


def _call(*args: str) -> str:
    out = StringIO()
    call_command("launch_training", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_it_prints_the_command_on_a_dry_run(media_root: Path, shard_sets: dict[str, Path]) -> None:
    out = _call("mix-run", "--source", f"nat={shard_sets['natural']}:3", "--source",
                f"ren={shard_sets['rendition']}:1", "--total", "16", "--gpus", "4", "--dry-run")
    first = out.splitlines()[0]
    assert "torchrun --nproc_per_node 4 -m -- open_clip_train.main" in first
    assert "--train-num-samples 16" in first and "--batch-size 4096" in first
    assert "nothing launched" in out and not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_it_queues_a_preset_run(media_root: Path, shard_sets: dict[str, Path]) -> None:
    out = _call("nat-run", "--preset", "laion_natural", "--natural", str(shard_sets["natural"]), "--workers", "0",
                "--gpus", "1", "--global-batch", "8", "--model", "DS-Tiny", "--device", "cpu", "--precision", "fp32")
    run = TrainingRun.objects.get()
    assert f"run {run.id} nat-run queued on the local backend (24 samples/epoch, 32 epochs)" in out
    assert "waiting: #1 in the queue" in out  # no host has registered yet
    assert "--dataset-resampled" not in run.command  # all of the natural set, once per epoch


@pytest.mark.django_db
@pytest.mark.parametrize("args,message", [
    (["--gpus", "3", "--workers", "0"], "not divisible by 3 GPU"),
    (["--gpus", "1", "--workers", "6"], "3 shard(s) cannot feed 6 data worker(s)"),
    (["--gpus", "1", "--backend-options", "{"], "not JSON"),
    (["--gpus", "1", "--model", "NoSuchNet"], "unknown model"),
])
def test_it_fails_clearly_on_bad_input(media_root: Path, shard_sets: dict[str, Path], args: list[str],
                                       message: str) -> None:
    with pytest.raises(CommandError) as error:
        _call("bad-run", "--preset", "laion_natural", "--natural", str(shard_sets["natural"]), *args)
    assert message in str(error.value)
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_it_refuses_more_gpus_than_any_host_has(media_root: Path, shard_sets: dict[str, Path], gpu_host: object) -> None:
    args = ["--preset", "laion_natural", "--natural", str(shard_sets["natural"]), "--workers", "0",
            "--global-batch", "16", "--model", "DS-Tiny"]
    with pytest.raises(CommandError, match="more than any registered host has \\(the largest has 8\\)"):
        _call("wide-run", *args, "--gpus", "16")
    with pytest.raises(CommandError, match="use backend slurm"):
        _call("two-nodes", *args, "--gpus", "8", "--nodes", "2")
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_it_queues_evaluations_through_the_api(api: type, researcher: object, media_root: Path, tmp_path: Path) -> None:
    dataset = make_dataset(name="DN-Clipart", kind=Dataset.Kind.TESTSET, expected_domain="rendition")
    make_image(dataset=dataset, class_name="cat")
    run = TrainingRun.objects.create(name="r", logs_dir=str(tmp_path), model="DS-Tiny", status="succeeded",
                                     checkpoints=[{"epoch": 1, "path": "/c/epoch_1.pt"}, {"epoch": 2, "path": "/c/epoch_2.pt"}])
    client = api(researcher)
    out = client.post("/api/v1/eval-results/", {"training_run": run.id, "datasets": [dataset.id]}, format="json")
    assert out.status_code == 202 and out.json() == {"queued": 2, "checkpoints": ["/c/epoch_1.pt", "/c/epoch_2.pt"]}
    bad = client.post("/api/v1/eval-results/", {"training_run": run.id, "datasets": [999999]}, format="json")
    assert bad.status_code == 400 and "unknown test set" in bad.json()["detail"]
