"""Two real Celery train workers as two GPU hosts (declared GPU counts, no CUDA): runs that
together ask for more GPUs than exist share them without a device ever given twice, waiting runs
start in queue order as others finish, a SIGKILLed worker's host goes lost with its runs and
offers its GPUs again when it comes back (stopping the process it no longer owns).

The training process is a light stand-in (``TRAIN_LOCAL_STANDIN``, tests/training/standin_train.py)
launched exactly as torchrun would be, through the supervisor; the real torchrun launch through a
worker is covered by test_local_e2e.py."""
from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domainsieve.jobs import JobStatus
from tests.conftest import WorkerProcess, wait_for
from tests.training.test_placement import assert_no_device_shared
from training.backends.local import _pid_alive
from training.models import TrainHost, TrainingRun

STANDIN = Path(__file__).with_name("standin_train.py")
pytestmark = [pytest.mark.worker]  # about 70 s: two real train workers; runs in make test


def _run(run_id: int) -> TrainingRun:
    return TrainingRun.objects.get(pk=run_id)


def _seen(run_id: int) -> dict[str, Any]:
    run = _run(run_id)
    path = Path(run.logs_dir) / run.name / "standin.json"
    wait_for(path.exists, timeout=60)
    return json.loads(path.read_text())


def _release(run_id: int) -> None:
    run = _run(run_id)
    (Path(run.logs_dir) / run.name / "release").touch()


def _wait_status(run_id: int, status: str, timeout: float = 60) -> TrainingRun:
    try:
        wait_for(lambda: _run(run_id).status == status, timeout=timeout)
    except TimeoutError:
        run = _run(run_id)
        raise AssertionError(f"run {run.name} is {run.status} ({run.state_detail}: {run.error}), not {status}") from None
    return _run(run_id)


def _running_devices_disjoint() -> None:
    """What the launched processes themselves saw: no device of a host in two live runs."""
    assert_no_device_shared()
    taken: dict[tuple[str, str], str] = {}
    for run in TrainingRun.objects.filter(status=JobStatus.RUNNING):
        seen = Path(run.logs_dir) / run.name / "standin.json"
        if not seen.exists():
            continue
        for device in json.loads(seen.read_text())["cuda_visible_devices"].split(","):
            key = (run.host, device)
            assert key not in taken, f"{key} seen by {taken[key]} and {run.name}"
            taken[key] = run.name


@pytest.fixture
def pool_env(worker_env: dict[str, str], settings: Any) -> dict[str, str]:
    settings.TRAIN_HOST_LOST_SECONDS = 5  # this process places runs too (on commit of the API calls)
    return {**worker_env, "TRAIN_LOCAL_STANDIN": str(STANDIN), "TRAIN_HEARTBEAT_SECONDS": "0.5",
            "TRAIN_HOST_LOST_SECONDS": "5", "TRAIN_HOST_GPU_MODEL": "Declared A100",
            "TRAIN_HOST_GPU_MEMORY_MB": "81920"}


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()
        for run in TrainingRun.objects.exclude(pid=None):  # the stand-ins these workers launched
            if _pid_alive(run.pid):
                try:
                    os.killpg(run.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


def _worker(env: dict[str, str], host: str, gpus: int, started: list[WorkerProcess]) -> WorkerProcess:
    worker = WorkerProcess(queues="train", env={**env, "TRAIN_HOST_NAME": host, "TRAIN_HOST_GPUS": str(gpus)},
                           name=f"{host}-{uuid.uuid4().hex[:4]}")
    started.append(worker)
    worker.wait_ready()
    return worker


def test_it_shares_two_hosts_in_queue_order_and_survives_a_killed_worker(
    pool_env: dict[str, str], workers: list[WorkerProcess], researcher: object, api: type,
    shard_sets: dict[str, Path],
) -> None:
    tag = uuid.uuid4().hex[:6]
    host_a, host_b = f"pool-a-{tag}", f"pool-b-{tag}"
    _worker(pool_env, host_a, 2, workers)
    worker_b = _worker(pool_env, host_b, 3, workers)
    client = api(researcher)
    hosts = {h["name"]: h for h in client.get("/api/v1/train-hosts/").json()}
    assert {(n, h["status"], h["gpu_count"], h["queue"], h["gpu_model"]) for n, h in hosts.items()} == {
        (host_a, "up", 2, f"train.{host_a}", "Declared A100"), (host_b, "up", 3, f"train.{host_b}", "Declared A100")}

    def submit(name: str, gpus: int) -> Any:
        return client.post("/api/v1/training-runs/", {
            "name": f"{name}-{tag}", "gpus": gpus, "global_batch": 12, "workers": 0, "model": "DS-Tiny",
            "mixture": {"sources": [{"name": "natural", "shards": str(shard_sets["natural"]), "count": 12}]},
        }, format="json")

    too_big = submit("r-big", 4)
    assert too_big.status_code == 400 and "the largest has 3" in too_big.json()["detail"]
    ids = {}
    for name, gpus in (("r1", 2), ("r2", 3), ("r3", 2), ("r4", 1)):  # 8 GPUs asked, 5 exist
        created = submit(name, gpus)
        assert created.status_code == 201, created.content
        ids[name] = created.json()["id"]
    assert created.json()["queue_position"] == 2  # r4, behind r3
    r1 = _wait_status(ids["r1"], "running")
    r2 = _wait_status(ids["r2"], "running")
    assert (r1.host, r1.devices, r2.host, r2.devices) == (host_a, [0, 1], host_b, [0, 1, 2])
    assert (_seen(r1.id)["cuda_visible_devices"], _seen(r2.id)["cuda_visible_devices"]) == ("0,1", "0,1,2")
    assert _seen(r1.id)["cuda_device_order"] == "PCI_BUS_ID"
    queue = client.get("/api/v1/train-queue/").json()
    assert [(q["position"], q["id"]) for q in queue] == [(1, ids["r3"]), (2, ids["r4"])]
    _running_devices_disjoint()

    # r4 jumps the queue; when r1 ends it takes one of host a's GPUs; r3 (2 GPUs) still waits.
    assert client.post(f"/api/v1/training-runs/{ids['r4']}/priority/", {"priority": 1}).json()["queue_position"] == 1
    _release(r1.id)
    r1 = _wait_status(r1.id, "succeeded")
    r4 = _wait_status(ids["r4"], "running")
    assert (r4.host, r4.devices) == (host_a, [0]) and r4.started_at > r1.finished_at
    assert _seen(r4.id)["cuda_visible_devices"] == "0"
    assert _run(ids["r3"]).status == "queued"
    assert client.get(f"/api/v1/training-runs/{ids['r3']}/").json()["queue_position"] == 1
    _running_devices_disjoint()
    _release(r2.id)
    r2 = _wait_status(r2.id, "succeeded")
    r3 = _wait_status(ids["r3"], "running")
    assert (r3.host, r3.devices) == (host_b, [0, 1]) and r3.started_at > r2.finished_at
    _running_devices_disjoint()

    # Host b's worker dies; its process lives on. The heartbeat of host a marks b lost.
    orphan = r3.pid
    worker_b.kill()
    r3 = _wait_status(r3.id, "lost", timeout=30)
    assert "resume to continue from the last checkpoint" in r3.error
    assert TrainHost.objects.get(name=host_b).status == "lost"
    waiting = submit("r5", 3)  # only host b has 3 GPUs, and it is lost: r5 waits
    assert waiting.status_code == 201 and waiting.json()["queue_position"] == 1
    time.sleep(2)
    assert _run(waiting.json()["id"]).status == "queued" and not _run(waiting.json()["id"]).host
    b = next(h for h in client.get("/api/v1/train-hosts/").json() if h["name"] == host_b)
    assert b["status"] == "lost" and all(g["run"] is None for g in b["gpus"])
    assert _pid_alive(orphan)

    # Host b comes back: the process of its lost run is stopped, its GPUs go to r5.
    _worker(pool_env, host_b, 3, workers)
    wait_for(lambda: not _pid_alive(orphan), timeout=30)
    r5 = _wait_status(waiting.json()["id"], "running")
    assert (r5.host, r5.devices) == (host_b, [0, 1, 2])
    _running_devices_disjoint()

    # The lost run resumes from its checkpoint once GPUs free up: here when r4 is cancelled.
    resumed = client.post(f"/api/v1/training-runs/{r3.id}/resume/").json()
    assert resumed["status"] == "queued" and "--resume" in resumed["command"]
    assert resumed["queue_position"] == 1
    assert client.post(f"/api/v1/training-runs/{r4.id}/cancel/").status_code == 202
    _wait_status(r4.id, "cancelled")
    r3 = _wait_status(r3.id, "running")
    assert (r3.host, r3.devices) == (host_a, [0, 1])
    _running_devices_disjoint()
    for run_id in (r3.id, r5.id):
        _release(run_id)
        _wait_status(run_id, "succeeded")
    assert not any(g["run"] for h in client.get("/api/v1/train-hosts/").json() for g in h["gpus"])
