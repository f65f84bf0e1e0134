"""Scale-out and faults with real worker processes on the gpu queue (CPU here, tiny model)."""
from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from classifier.models import ApplyJob, ApplyShard
from classifier.services.apply import apply_job_create
from domainsieve.jobs import JobStatus
from tests.classifier.apply_factories import tiny_spec, write_shards
from tests.conftest import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class GpuWorker(WorkerProcess):
    """A solo worker on the gpu queue only, as each GPU host runs it."""

    def __init__(self, *, env: dict[str, str], name: str) -> None:
        super().__init__(queues="gpu", env=env, name=name)


@pytest.fixture
def apply_env(worker_env: dict[str, str], settings: pytest.FixtureRequest) -> dict[str, str]:
    env = dict(worker_env)
    env.update({"APPLY_STALE_SECONDS": "3", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    settings.APPLY_STALE_SECONDS = 3  # the test process enqueues the watchdog with this countdown
    return env


@pytest.fixture
def two_workers(apply_env: dict[str, str]) -> Iterator[list[GpuWorker]]:
    env = dict(apply_env)
    env["DOMAINSIEVE_APPLY_BATCH_DELAY"] = "0.05"  # lets the test catch a worker mid-shard
    workers = [GpuWorker(env=env, name=f"gpu{i}-{uuid.uuid4().hex[:4]}") for i in range(2)]
    try:
        for worker in workers:
            worker.wait_ready()
        yield workers
    finally:
        for worker in workers:
            worker.kill()  # nothing left to finish; the next worker_env flushes the broker db


def all_rows(job: ApplyJob) -> pd.DataFrame:
    return pd.concat([pq.read_table(s.out_path).to_pandas() for s in job.shards.all()])


def wait_job(job: ApplyJob, timeout: float, workers: list[GpuWorker]) -> ApplyJob:
    try:
        wait_for(lambda: ApplyJob.objects.get(pk=job.pk).is_finished, timeout=timeout, interval=0.3)
    except TimeoutError:
        logs = "\n".join(w.log.read_text(errors="replace")[-3000:] for w in workers)
        states = list(job.shards.values_list("index", "status", "attempts", "worker"))
        raise AssertionError(f"job did not finish: {states}\n{logs}") from None
    job.refresh_from_db()
    return job


def test_it_scales_out_over_two_workers_and_survives_a_sigkill(two_workers: list[GpuWorker], tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "heads")
    # 1. Two workers, 40 shards: every shard processed exactly once, by both workers together.
    write_shards(tmp_path / "wide", 40, n=3)
    job = apply_job_create(name="scale", spec=spec, pattern=str(tmp_path / "wide/{00000..00039}.tar"),
                           batch_size=8, device="cpu")
    job = wait_job(job, 90, two_workers)
    assert job.status == JobStatus.SUCCEEDED, job.error
    shards = list(job.shards.all())
    assert all(s.status == "succeeded" and s.attempts == 1 for s in shards)
    assert len({s.worker for s in shards}) == 2  # both workers took part
    frame = all_rows(job)
    assert len(frame) == 120 == job.summary["total"] and frame.uid.is_unique

    # 2. SIGKILL one worker mid-shard: the job still completes, counts right, no duplicate rows.
    write_shards(tmp_path / "slow", 8, n=10)
    job = apply_job_create(name="kill", spec=spec, pattern=str(tmp_path / "slow/*.tar"), batch_size=1, device="cpu")
    victim = two_workers[0]
    pid = str(victim.proc.pid)

    def victim_mid_shard() -> bool:
        return ApplyShard.objects.filter(job=job, status="running", worker__endswith=f":{pid}", rows__gt=0).exists()

    wait_for(victim_mid_shard, timeout=60, interval=0.05)
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait()
    killed = ApplyShard.objects.get(job=job, status="running", worker__endswith=f":{pid}")
    assert killed.rows < 10  # killed before its shard was complete
    job = wait_job(job, 60, two_workers[1:])
    assert job.status == JobStatus.SUCCEEDED, job.error
    killed.refresh_from_db()
    assert killed.status == "succeeded" and killed.attempts == 2 and not killed.worker.endswith(f":{pid}")
    frame = all_rows(job)
    assert len(frame) == 80 == job.summary["total"] and frame.uid.is_unique and frame.key.is_unique
    assert not list(Path(job.out_dir, "scores").glob("*.tmp"))
