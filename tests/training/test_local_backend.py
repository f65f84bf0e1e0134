"""The local backend's process handling with stand-in commands (no training): start, exit code,
cancel by SIGTERM to the process group, a vanished process."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from domainsieve.jobs import JobStatus
from training.models import TrainingRun
from training.services.placement import training_queue_place
from training.services.runs import training_run_cancel, training_run_launch, training_run_poll

pytestmark = pytest.mark.usefixtures("gpu_host")


def _run(tmp_path: Path, command: list[str], name: str = "r") -> TrainingRun:
    """A local run asking for 8 GPUs, placed on this host (launch it by calling the service)."""
    run = TrainingRun.objects.create(name=name, logs_dir=str(tmp_path / "logs"), command=command, backend="local",
                                     plan={}, mixture={})
    assert training_queue_place() == [run.id]
    run.refresh_from_db()
    return run


def _poll_until_done(run: TrainingRun, timeout: float = 20) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = training_run_poll(run=run)
        if run.status != "running":
            return run
        time.sleep(0.2)
    raise TimeoutError(run.status)


@pytest.mark.django_db
def test_it_records_a_failing_process_with_its_error(tmp_path: Path) -> None:
    script = "import sys; print('Train Epoch: 0 [ 8/16 (50%)] Loss: 3.2500 (3.2)'); sys.exit('boom')"
    run = training_run_launch(run_id=_run(tmp_path, [sys.executable, "-c", script]).id)
    assert run.status == "running" and run.pid
    run = _poll_until_done(run)
    assert run.status == "failed" and run.exit_code == 1
    assert "exited with code 1" in run.error
    assert (run.epoch, run.loss) == (0, 3.25)


@pytest.mark.django_db
def test_it_fails_a_clean_exit_without_checkpoints(tmp_path: Path) -> None:
    run = training_run_launch(run_id=_run(tmp_path, [sys.executable, "-c", "pass"]).id)
    run = _poll_until_done(run)
    assert run.status == "failed" and "without writing a checkpoint" in run.error


@pytest.mark.django_db
def test_it_cancels_the_process_group(tmp_path: Path) -> None:
    run = training_run_launch(run_id=_run(tmp_path, [sys.executable, "-c", "import time; time.sleep(60)"]).id)
    time.sleep(0.5)
    training_run_cancel(run=run)
    run = _poll_until_done(TrainingRun.objects.get(pk=run.pk))
    assert run.status == "cancelled" and run.cancel_requested


@pytest.mark.django_db
def test_it_notices_a_process_that_vanished(tmp_path: Path) -> None:
    run = _run(tmp_path, ["true"])
    run.status, run.pid, run.attempts = "running", 2**22 + 12345, 1  # no such pid
    run.save()
    run = training_run_poll(run=run)
    assert run.status == "failed" and "gone" in run.error


@pytest.mark.django_db
def test_it_cancels_a_queued_run_at_once(tmp_path: Path) -> None:
    run = training_run_cancel(run=_run(tmp_path, ["true"]))
    assert run.status == "cancelled"
    assert training_run_launch(run_id=run.id).status == "cancelled"  # a late task does nothing


@pytest.mark.django_db
def test_it_leaves_the_signal_to_the_launching_host(tmp_path: Path, settings: object) -> None:
    from training.backends.local import _pid_alive
    from training.services.runs import training_runs_poll

    run = training_run_launch(run_id=_run(tmp_path, [sys.executable, "-c", "import time; time.sleep(60)"]).id)
    TrainingRun.objects.filter(pk=run.pk).update(host="gpu-host-2")
    training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))
    time.sleep(0.3)
    assert _pid_alive(run.pid)  # this web host must not signal a pid of another machine
    assert training_runs_poll() == 0  # nor poll it
    TrainingRun.objects.filter(pk=run.pk).update(host=settings.TRAIN_HOST_NAME)  # now we are that host
    deadline = time.monotonic() + 20
    while TrainingRun.objects.get(pk=run.pk).status == "running" and time.monotonic() < deadline:
        training_runs_poll()
        time.sleep(0.2)
    assert TrainingRun.objects.get(pk=run.pk).status == "cancelled"


@pytest.mark.django_db
def test_it_fails_a_launch_that_never_finished(tmp_path: Path) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from training.services.runs import training_runs_poll

    run = _run(tmp_path, ["true"])
    TrainingRun.objects.filter(pk=run.pk).update(status="launching", updated_at=timezone.now() - timedelta(hours=1))
    training_runs_poll()
    run.refresh_from_db()
    assert run.status == "failed" and "did not finish" in run.error


@pytest.mark.django_db
def test_it_resumes_past_a_checkpoint_torn_by_the_cancel(media_root: Path, shard_sets: dict[str, Path],
                                                         django_capture_on_commit_callbacks: object) -> None:
    """A SIGTERM during torch.save leaves a file without its zip directory: it is neither
    registered nor what --resume latest picks."""
    import torch

    from training.backends.logparse import list_checkpoints
    from training.models import TrainingRun
    from training.services.runs import training_run_create, training_run_resume

    with django_capture_on_commit_callbacks(execute=False):
        run = training_run_create(
            name="torn", model="DS-Tiny", epochs=3, global_batch=8, gpus=1, precision="fp32", workers=0,
            device="cpu", mixture={"sources": [{"name": "natural", "shards": str(shard_sets["natural"]), "count": 12}]})
    folder = Path(run.logs_dir) / run.name / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"epoch": 1}, folder / "epoch_1.pt")
    whole = (folder / "epoch_1.pt").read_bytes()
    (folder / "epoch_2.pt").write_bytes(whole[: len(whole) // 2])  # torn mid-save
    assert [c["epoch"] for c in list_checkpoints(folder)] == [1]
    TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.CANCELLED)
    with django_capture_on_commit_callbacks(execute=False):
        training_run_resume(run=run)
    assert sorted(p.name for p in folder.iterdir()) == ["epoch_1.pt", "epoch_2.pt.torn"]
