"""Classifier fits with real gpu-queue workers: a duplicate delivery while a fit runs is refused by
the other worker and leaves the fit's folder alone; a SIGKILLed fit is fitted again by the
survivor or, out of attempts, failed with the reason; no working folder is left behind."""
from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.models import ClassifierRun
from classifier.services.claims import classifier_runs_reap_stale
from classifier.services.runs import classifier_run_create
from classifier.tasks.runs import classifier_runs_reap_stale_task, train_task
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from tests.classifier.conftest import TINY
from tests.conftest import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _env(worker_env: dict[str, str], *, max_attempts: int) -> dict[str, str]:
    env = dict(worker_env)
    env.update({"CLASSIFIER_STALE_SECONDS": "3", "CLASSIFIER_HEARTBEAT_SECONDS": "0.5",
                "CLASSIFIER_MAX_ATTEMPTS": str(max_attempts),
                # Each fit waits at 60 % (after embedding) while this file exists: the window to act in.
                "DOMAINSIEVE_CLASSIFIER_HOLD_FILE": str(Path(worker_env["DOMAINSIEVE_VAR"]) / "hold"),
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    return env


@pytest.fixture
def workers(request: pytest.FixtureRequest, worker_env: dict[str, str], settings: object) -> Iterator[list[WorkerProcess]]:
    count, max_attempts = request.param
    settings.CLASSIFIER_STALE_SECONDS = 3
    settings.CLASSIFIER_MAX_ATTEMPTS = max_attempts
    env = _env(worker_env, max_attempts=max_attempts)
    procs = [WorkerProcess(queues="gpu", env=env, name=f"fit{i}-{uuid.uuid4().hex[:4]}") for i in range(count)]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.kill()


def _artifacts(worker_env: dict[str, str]) -> Path:
    return Path(worker_env["ARTIFACTS_ROOT"])


def _partials(worker_env: dict[str, str], run_id: int) -> list[Path]:
    return sorted((_artifacts(worker_env) / "classifier_runs").glob(f"{run_id}.partial*"))


def _hold(worker_env: dict[str, str]) -> Path:
    return Path(worker_env["DOMAINSIEVE_VAR"]) / "hold"


def _start(dataset: Dataset) -> ClassifierRun:
    return classifier_run_create(created_by=None, method="centroid", extractor=TINY, labels_source="intended_domain",
                                 datasets=[dataset], classes=["natural", "rendition"])


def _mid_fit(run: ClassifierRun, worker_env: dict[str, str], procs: list[WorkerProcess]) -> tuple[WorkerProcess, Path]:
    """Wait until a worker is inside the fit (progress 0.6, its folder made); that worker and folder."""
    def fitting() -> bool:
        row = ClassifierRun.objects.get(pk=run.pk)
        return row.status == JobStatus.RUNNING and row.progress >= 0.6 and bool(_partials(worker_env, run.pk))

    try:
        wait_for(fitting, timeout=120, interval=0.1)
    except TimeoutError:
        logs = "\n".join(p.log.read_text(errors="replace")[-3000:] for p in procs)
        raise AssertionError(f"run never reached the fit: {ClassifierRun.objects.get(pk=run.pk).error}\n{logs}") from None
    row = ClassifierRun.objects.get(pk=run.pk)
    pid = int(row.worker.rsplit(":", 1)[1])
    fitter = next(p for p in procs if p.proc.pid == pid)
    [folder] = _partials(worker_env, run.pk)
    return fitter, folder


def _wait_final(run: ClassifierRun, procs: list[WorkerProcess], *, reap: bool) -> ClassifierRun:
    """Until the run ends; with ``reap`` the beat task is sent every second, as beat would."""
    def ended() -> bool:
        if reap:
            classifier_runs_reap_stale_task.delay()
        return ClassifierRun.objects.get(pk=run.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    try:
        wait_for(ended, timeout=120, interval=1.0)
    except TimeoutError:
        logs = "\n".join(p.log.read_text(errors="replace")[-3000:] for p in procs)
        raise AssertionError(f"run did not end: {ClassifierRun.objects.get(pk=run.pk).status}\n{logs}") from None
    return ClassifierRun.objects.get(pk=run.pk)


@pytest.mark.parametrize("workers", [(2, 2)], indirect=True)
def test_it_refuses_a_duplicate_delivery_then_refits_after_a_sigkill(
        workers: list[WorkerProcess], worker_env: dict[str, str], labelled_pool: Dataset) -> None:
    _hold(worker_env).touch()
    run = _start(labelled_pool)
    fitter, folder = _mid_fit(run, worker_env, workers)
    other = next(p for p in workers if p is not fitter)
    (folder / "marker").write_text("the fit in progress owns this folder")

    # 1. The same message again (a redelivery after the visibility timeout, or a duplicate): the
    #    idle worker takes it, finds the fit running with a fresh heartbeat and leaves it alone.
    train_task.delay(run.pk)
    wait_for(lambda: f"classifier run {run.pk} not claimed" in other.log.read_text(errors="replace"), timeout=30)
    assert (folder / "marker").exists()
    row = ClassifierRun.objects.get(pk=run.pk)
    assert row.status == JobStatus.RUNNING and row.attempts == 1 and row.worker.endswith(f":{fitter.proc.pid}")

    # 2. SIGKILL the fitting worker mid-fit: its heartbeat stops; the beat task re-queues the run,
    #    the survivor fits it from scratch and the dead fit's folder goes.
    os.kill(fitter.proc.pid, signal.SIGKILL)
    fitter.proc.wait()
    _hold(worker_env).unlink()
    done = _wait_final(run, workers, reap=True)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and done.worker.endswith(f":{other.proc.pid}")
    assert not folder.exists() and _partials(worker_env, run.pk) == []
    final = _artifacts(worker_env) / "classifier_runs" / str(run.pk)
    assert sorted(p.name for p in final.iterdir()) == ["metrics.json", "model.pkl", "scores.npz"]
    assert not list(_artifacts(worker_env).rglob("*.tmp"))


@pytest.mark.parametrize("workers", [(1, 1)], indirect=True)
def test_it_fails_a_killed_fit_out_of_attempts_with_the_reason(
        workers: list[WorkerProcess], worker_env: dict[str, str], labelled_pool: Dataset) -> None:
    _hold(worker_env).touch()
    run = _start(labelled_pool)
    fitter, folder = _mid_fit(run, worker_env, workers)
    os.kill(fitter.proc.pid, signal.SIGKILL)
    fitter.proc.wait()
    # No worker is left: the reaper runs where beat runs (here, this process) once the heartbeat is stale.
    wait_for(lambda: classifier_runs_reap_stale()["failed"] == [run.pk], timeout=30, interval=0.5)
    row = ClassifierRun.objects.get(pk=run.pk)
    assert row.status == JobStatus.FAILED and row.finished_at is not None
    assert "stopped heartbeating" in row.error and f":{fitter.proc.pid}" in row.error
    assert "gave up after 1 attempt(s)" in row.error
    assert not folder.exists() and _partials(worker_env, run.pk) == []
    assert not (_artifacts(worker_env) / "classifier_runs" / str(run.pk)).exists()
