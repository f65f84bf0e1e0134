"""End to end on CPU: the API queues a run, a real worker on the train queue starts torchrun of a
tiny model through OpenCLIP's real entry point, periodic polls record progress, exit and
checkpoints, and the worker then evaluates every checkpoint zero-shot."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from domainsieve.jobs import FINISHED, JobStatus
from labeling.models import Dataset
from tests.conftest import WorkerProcess, wait_for
from tests.factories import make_dataset, make_image
from training.models import EvalResult, TrainHost, TrainingRun
from training.tasks.runs import poll_training_runs


@pytest.mark.worker
def test_it_trains_a_tiny_model_through_the_local_backend(
    celery_worker_proc: WorkerProcess, researcher: object, api: type, shard_sets: dict[str, Path],
) -> None:
    testset = make_dataset(name="mini-sketch", kind=Dataset.Kind.TESTSET, expected_domain="rendition")
    for i, cls in enumerate(["cat", "dog", "cat", "dog"]):
        image = make_image(dataset=testset, class_name=cls, domain="rendition", seed=500 + i)
        image.meta = {"domain": "rendition" if i < 3 else "natural"}
        image.save(update_fields=["meta"])
    client = api(researcher)
    body = {
        "name": "tiny-mix", "model": "DS-Tiny", "epochs": 2, "global_batch": 8, "gpus": 1, "precision": "fp32",
        "workers": 0, "device": "cpu", "backend": "local", "backend_options": {"eval_datasets": [testset.id]},
        "mixture": {"sources": [{"name": "natural", "shards": str(shard_sets["natural"]), "count": 12},
                                {"name": "rendition", "shards": str(shard_sets["rendition"]), "count": 4}]},
    }
    preview = client.post("/api/v1/training-runs/", {**body, "dry_run": True}, format="json")
    assert preview.status_code == 200, preview.content
    assert "training.launch_openclip" in preview.json()["command"]
    assert not TrainingRun.objects.exists()  # a dry run launches nothing

    created = client.post("/api/v1/training-runs/", body, format="json")
    assert created.status_code == 201, created.content
    run_id = created.json()["id"]
    assert created.json()["command"] == preview.json()["command"]

    deadline = time.monotonic() + 150
    run = TrainingRun.objects.get(pk=run_id)
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in FINISHED:
            break
        if run.status == JobStatus.RUNNING:
            poll_training_runs.delay()  # what celery beat does every few seconds
        time.sleep(2)
    log_tail = client.get(f"/api/v1/training-runs/{run_id}/log/").json()["log"]
    assert run.status == "succeeded", f"{run.status}: {run.error}\n{log_tail[-3000:]}"
    assert run.pid and run.host and run.exit_code == 0
    # The worker registered its host and consumed its own queue, where placement sent the launch.
    assert TrainHost.objects.get(name=run.host).queue == f"train.{run.host}" and run.devices == []
    assert [c["epoch"] for c in run.checkpoints] == [1, 2]
    assert all(Path(c["path"]).stat().st_size > 0 for c in run.checkpoints)
    assert (run.epoch, run.step) == (1, 4) and run.loss is not None and run.samples_seen == 32
    assert "Train Epoch: 1" in log_tail
    # Success queued zero-shot evaluation of every epoch's checkpoint, standard and clean.
    wait_for(lambda: EvalResult.objects.filter(training_run=run).count() == 4, timeout=90)
    results = {(r.epoch, r.clean): r for r in EvalResult.objects.filter(training_run=run)}
    assert set(results) == {(1, False), (1, True), (2, False), (2, True)}
    assert (results[2, False].n, results[2, True].n, results[2, True].n_classes) == (4, 3, 2)


@pytest.mark.gpu
@pytest.mark.django_db
def test_it_trains_with_amp_on_a_gpu(media_root: Path, shard_sets: dict[str, Path], settings: object) -> None:
    """The same tiny run on CUDA with mixed precision, the launch path a GPU host takes: the host
    found by nvidia-smi, one device placed, torchrun limited to it."""
    from training.hostinfo import discover_gpus
    from training.services.placement import train_host_register, training_queue_place
    from training.services.runs import training_run_create, training_run_launch, training_run_poll

    gpus, source = discover_gpus()
    if not gpus:
        pytest.skip("needs a CUDA device (nvidia-smi shows none)")
    train_host_register(name=settings.TRAIN_HOST_NAME, gpus=gpus, source=source)
    run = training_run_create(
        name="tiny-gpu", model="DS-Tiny", epochs=1, global_batch=8, gpus=1, precision="amp", workers=1,
        device="cuda", mixture={"sources": [{"name": "natural", "shards": str(shard_sets["natural"]), "ratio": 3},
                                            {"name": "rendition", "shards": str(shard_sets["rendition"]), "ratio": 1}],
                                "total": 16})
    assert training_queue_place() == [run.id]  # what the commit does outside a test transaction
    run = training_run_launch(run_id=run.id)
    environ = Path(f"/proc/{run.pid}/environ").read_bytes().split(b"\0")
    assert f"CUDA_VISIBLE_DEVICES={run.devices[0]}".encode() in environ and len(run.devices) == 1
    deadline = time.monotonic() + 300
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(2)
        run = training_run_poll(run=run)
    assert run.status == "succeeded", run.error
    assert [c["epoch"] for c in run.checkpoints] == [1]
