"""Cancel and resume through the real torchrun + open_clip_train process (local backend, CPU):
the resumed run continues from its latest checkpoint instead of starting over."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from domainsieve.jobs import JobStatus
from training.backends.logparse import checkpoint_complete
from training.models import TrainingRun
from training.services.placement import training_queue_place
from training.services.runs import (
    training_run_cancel,
    training_run_create,
    training_run_launch,
    training_run_poll,
    training_run_resume,
)


def _poll_until(run: TrainingRun, done: object, timeout: float = 150) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = training_run_poll(run=TrainingRun.objects.get(pk=run.pk))
        if done(run):  # type: ignore[operator]
            return run
        time.sleep(0.3)
    raise TimeoutError(f"run {run.name} stuck in {run.status}: {run.error}")


@pytest.mark.worker  # runs a real torchrun process
@pytest.mark.django_db
def test_it_cancels_and_resumes_from_the_latest_checkpoint(
    media_root: Path, shard_sets: dict[str, Path], django_capture_on_commit_callbacks: object, gpu_host: object,
) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # launch here, not through a worker
        run = training_run_create(
            name="tiny-resume", model="DS-Tiny", epochs=4, global_batch=8, gpus=1, precision="fp32", workers=0,
            device="cpu", backend="local",
            mixture={"sources": [{"name": "natural", "shards": str(shard_sets["natural"]), "count": 12},
                                 {"name": "rendition", "shards": str(shard_sets["rendition"]), "count": 4}]})
    assert training_queue_place() == [run.id]  # what the commit would have done
    training_run_launch(run_id=run.id)
    first = Path(run.logs_dir) / run.name / "checkpoints" / "epoch_1.pt"
    run = _poll_until(run, lambda r: (first.exists() and checkpoint_complete(first))
                      or r.status != JobStatus.RUNNING)
    assert checkpoint_complete(first), run.error
    training_run_cancel(run=run)
    run = _poll_until(run, lambda r: r.status != JobStatus.RUNNING)
    assert run.status == JobStatus.CANCELLED, (run.status, run.error)
    done_before = {c["epoch"] for c in run.checkpoints}
    assert 1 in done_before and 4 not in done_before

    with django_capture_on_commit_callbacks(execute=False):
        run = training_run_resume(run=run)
    assert "--resume" in run.command and "latest" in run.command
    assert training_queue_place() == [run.id]
    training_run_launch(run_id=run.id)
    run = _poll_until(run, lambda r: r.status != JobStatus.RUNNING)
    assert run.status == JobStatus.SUCCEEDED, (run.status, run.error)
    assert [c["epoch"] for c in run.checkpoints] == [1, 2, 3, 4]
    # open_clip_train says where it picked up; the first epoch was not trained again
    log = (Path(run.logs_dir) / run.name / "out.log").read_text(errors="replace")
    assert "=> resuming checkpoint" in log
    assert log.count("Train Epoch: 0 [16/16") == 1
