"""The GPU pool of the local backend without workers: placement order, priority, refusals at
submission, lost hosts, and placement passes racing in threads (real PostgreSQL row locks)."""
from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from domainsieve.jobs import ACTIVE, JobStatus
from training.hostinfo import declared_gpus
from training.models import TrainGpu, TrainHost, TrainingRun
from training.selectors.runs import training_queue_positions
from training.services.placement import (
    train_host_register,
    train_hosts_mark_lost,
    training_queue_place,
    training_run_release_gpus,
)


def _host(name: str, gpus: int) -> TrainHost:
    return train_host_register(name=name, gpus=declared_gpus(str(gpus), model="A100", memory_mb=81920),
                               source="declared")


def _waiting(name: str, gpus: int, *, device: str = "cuda") -> TrainingRun:
    return TrainingRun.objects.create(name=name, gpus=gpus, device=device, logs_dir="/tmp/none", backend="local")


def _finish(run: TrainingRun) -> None:
    run.refresh_from_db()
    run.status = JobStatus.SUCCEEDED
    run.save(update_fields=["status"])
    training_run_release_gpus(run=run)


def _placed(run: TrainingRun) -> tuple[str, list[int]]:
    run.refresh_from_db()
    return run.host, run.devices


def assert_no_device_shared() -> None:
    """Every held device's row names the run that lists it, and no (host, index) is listed twice
    among runs that hold devices."""
    seen: dict[tuple[str, int], int] = {}
    for run in TrainingRun.objects.filter(status__in=ACTIVE).exclude(host=""):
        for index in run.devices:
            key = (run.host, index)
            assert key not in seen, f"device {key} given to runs {seen[key]} and {run.id}"
            seen[key] = run.id
    held = {(g.host.name, g.index): g.run_id for g in TrainGpu.objects.select_related("host").filter(run__isnull=False)}
    assert held == seen


@pytest.mark.django_db
def test_it_places_first_in_first_out_on_the_best_fitting_host() -> None:
    _host("big", 4)
    _host("small", 2)
    r1, r2, r3, r4 = _waiting("r1", 2), _waiting("r2", 4), _waiting("r3", 2), _waiting("r4", 1)
    assert training_queue_place() == [r1.id, r2.id]
    assert _placed(r1) == ("small", [0, 1])  # best fit keeps the big host whole for r2
    assert _placed(r2) == ("big", [0, 1, 2, 3])
    # r3 waits for 2 GPUs; r4 would fit nowhere either, and never overtakes r3
    assert training_queue_positions() == {r3.id: 1, r4.id: 2}
    _finish(r1)
    assert training_queue_place() == [r3.id]
    assert _placed(r3) == ("small", [0, 1])
    assert training_queue_positions() == {r4.id: 1}
    assert_no_device_shared()


@pytest.mark.django_db
def test_it_does_not_let_a_small_run_overtake_the_waiting_head() -> None:
    _host("only", 4)
    first = _waiting("first", 3)
    training_queue_place()
    head, small = _waiting("head", 2), _waiting("small", 1)  # one GPU is free: small would fit
    assert training_queue_place() == []
    assert training_queue_positions() == {head.id: 1, small.id: 2}
    cpu = _waiting("cpu-run", 1, device="cpu")  # needs no GPU: not held back
    assert training_queue_place() == [cpu.id] and _placed(cpu) == ("only", [])
    _finish(first)
    assert training_queue_place() == [head.id, small.id]
    assert _placed(head)[1] == [0, 1] and _placed(small)[1] == [2]


@pytest.mark.django_db
def test_it_serves_a_raised_priority_first_through_the_api(api: type, researcher: object, annotator: object) -> None:
    _host("h", 2)
    running = _waiting("running", 2)
    training_queue_place()
    _waiting("older", 1)
    newer = _waiting("newer", 2)
    client = api(researcher)
    queue = client.get("/api/v1/train-queue/").json()
    assert [(q["position"], q["name"]) for q in queue] == [(1, "older"), (2, "newer")]
    assert client.get(f"/api/v1/training-runs/{newer.id}/").json()["queue_position"] == 2
    assert api(annotator).post(f"/api/v1/training-runs/{newer.id}/priority/", {"priority": 5}).status_code == 403
    raised = client.post(f"/api/v1/training-runs/{newer.id}/priority/", {"priority": 5}, format="json")
    assert raised.status_code == 200 and raised.json()["queue_position"] == 1
    assert client.post(f"/api/v1/training-runs/{newer.id}/priority/", {"priority": 10**6},
                       format="json").status_code == 400
    placed = client.post(f"/api/v1/training-runs/{running.id}/priority/", {"priority": 1}, format="json")
    assert placed.status_code == 400 and "only a local run waiting" in placed.json()["detail"]
    _finish(running)
    assert training_queue_place() == [newer.id]
    listed = {r["name"]: r for r in client.get("/api/v1/training-runs/").json()["results"]}
    assert listed["older"]["queue_position"] == 1 and listed["newer"]["devices"] == [0, 1]


@pytest.mark.django_db
def test_it_refuses_at_submission_what_no_host_can_take(api: type, researcher: object, media_root: Path,
                                                        shard_sets: dict[str, Path]) -> None:
    body = {"name": "too-big", "gpus": 8, "mixture": {"preset": "mix_2_1_resampled", "natural": str(shard_sets["natural"]),
                                                      "rendition": str(shard_sets["rendition"]), "unit": 8}}
    client = api(researcher)
    none = client.post("/api/v1/training-runs/", body, format="json")
    assert none.status_code == 400 and "no GPU host is registered" in none.json()["detail"]
    _host("four", 4)
    _host("two", 2)
    lost = _host("six", 6)
    TrainHost.objects.filter(pk=lost.pk).update(status=TrainHost.Status.LOST)  # may come back: still counts
    refused = client.post("/api/v1/training-runs/", body, format="json")
    assert refused.status_code == 400
    assert "8 GPUs on one node is more than any registered host has (the largest has 6)" in refused.json()["detail"]
    multi = client.post("/api/v1/training-runs/", {**body, "gpus": 4, "nodes": 2}, format="json")
    assert multi.status_code == 400 and "use backend slurm" in multi.json()["detail"]
    assert not TrainingRun.objects.exists()
    fits = client.post("/api/v1/training-runs/", {**body, "gpus": 4}, format="json")
    assert fits.status_code == 201 and fits.json()["status"] == "queued"


@pytest.mark.django_db
def test_it_marks_a_silent_host_lost_and_offers_its_gpus_again_when_it_returns() -> None:
    _host("a", 2)
    _host("b", 2)
    on_a, on_b = _waiting("on-a", 2), _waiting("on-b", 2)
    training_queue_place()
    TrainingRun.objects.filter(pk=on_a.pk).update(status=JobStatus.RUNNING, pid=4242)
    TrainingRun.objects.filter(pk=on_b.pk).update(status=JobStatus.RUNNING)
    placed_host = _placed(on_a)[0]
    waiting = _waiting("waiting", 2)
    TrainHost.objects.filter(name=placed_host).update(last_heartbeat=timezone.now() - timedelta(hours=1))
    assert training_queue_place() == []  # a silent host gets nothing, even before it is marked
    assert train_hosts_mark_lost() == [placed_host]
    on_a.refresh_from_db()
    assert on_a.status == JobStatus.LOST and "resume to continue from the last checkpoint" in on_a.error
    assert TrainingRun.objects.get(pk=on_b.pk).status == JobStatus.RUNNING
    assert not TrainGpu.objects.filter(host__name=placed_host, run__isnull=False).exists()
    assert training_queue_place() == []  # its free GPUs stay out of the pool while it is lost
    _host(placed_host, 2)  # the worker registers again
    assert training_queue_place() == [waiting.id] and _placed(waiting) == (placed_host, [0, 1])
    assert_no_device_shared()


@pytest.mark.django_db
def test_it_gives_a_cancelled_runs_gpus_to_the_next(django_capture_on_commit_callbacks: object) -> None:
    from training.services.runs import training_run_cancel

    _host("one", 2)
    placed = _waiting("placed", 2)
    training_queue_place()
    waiting = _waiting("next", 2)
    with django_capture_on_commit_callbacks(execute=True):  # the pass the cancel asks for
        training_run_cancel(run=placed)
    assert TrainingRun.objects.get(pk=placed.pk).status == "cancelled"
    assert _placed(waiting) == ("one", [0, 1])
    assert_no_device_shared()


@pytest.mark.django_db
def test_it_puts_a_placed_but_unlaunched_run_back_at_its_place_when_its_host_is_lost() -> None:
    _host("solo", 2)
    early = _waiting("early", 2)
    training_queue_place()
    late = _waiting("late", 2)
    TrainHost.objects.filter(name="solo").update(last_heartbeat=timezone.now() - timedelta(hours=1))
    train_hosts_mark_lost()
    early.refresh_from_db()
    assert (early.status, early.host, early.devices) == (JobStatus.QUEUED, "", [])
    assert training_queue_positions() == {early.id: 1, late.id: 2}


@pytest.mark.django_db
def test_it_shows_hosts_gpus_holders_and_the_queue(api: type, researcher: object, admin_user: object,
                                                    annotator: object) -> None:
    _host("gpu-a", 2)
    held = _waiting("holder", 1)
    training_queue_place()
    _waiting("blocked", 2)
    hosts = api(researcher).get("/api/v1/train-hosts/").json()
    assert [(h["name"], h["status"], h["queue"], h["gpu_count"], h["free"]) for h in hosts] == [
        ("gpu-a", "up", "train.gpu-a", 2, 1)]
    assert [(g["index"], g["model"], g["memory_mb"], g["run"] and g["run"]["name"]) for g in hosts[0]["gpus"]] == [
        (0, "A100", 81920, "holder"), (1, "A100", 81920, None)]
    assert api(annotator).get("/api/v1/train-hosts/").status_code == 403
    assert api(annotator).get("/api/v1/train-queue/").status_code == 403
    for user in (researcher, admin_user):
        client = Client()
        client.force_login(user)
        html = client.get("/training/hosts/").content.decode()
        assert "gpu-a" in html and f'href="/training/{held.id}/"' in html and "blocked" in html
        assert "<script>" not in html
    client = Client()
    client.force_login(annotator)
    assert client.get("/training/hosts/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_it_never_gives_a_device_to_two_runs_placed_at_the_same_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads create runs and run placement passes at once (each thread its own connection and
    transaction), and finish runs as they go: no device is shared, each placed run is launched
    once on its host's queue, and the drained queue is served in order."""
    from training.tasks.runs import launch_training_run

    launches: list[tuple[int, str]] = []
    lock = threading.Lock()

    def record(args: tuple[int], queue: str) -> None:  # the broker is not the point here
        with lock:
            launches.append((args[0], queue))

    monkeypatch.setattr(launch_training_run, "apply_async", record)
    tag = uuid.uuid4().hex[:6]
    _host(f"race-a-{tag}", 4)
    _host(f"race-b-{tag}", 4)
    errors: list[BaseException] = []
    start = threading.Barrier(12)
    rng = random.Random(7)
    sizes = [rng.choice([1, 2, 3]) for _ in range(48)]

    def submit(i: int) -> None:
        try:
            start.wait()
            for k in range(i, len(sizes), 8):
                TrainingRun.objects.create(name=f"race-{k}", gpus=sizes[k], logs_dir="/tmp/none", backend="local")
                training_queue_place()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    def place_and_finish(seed: int) -> None:
        local = random.Random(seed)
        try:
            start.wait()
            for _ in range(25):
                training_queue_place()
                holders = list(TrainingRun.objects.filter(status=JobStatus.QUEUED).exclude(host=""))
                if holders and local.random() < 0.5:
                    _finish(local.choice(holders))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=place_and_finish, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert_no_device_shared()
    # Drain the queue: every run is eventually placed, in the order of the queue.
    order: list[int] = []
    for _ in range(200):
        order += training_queue_place()
        assert_no_device_shared()
        holders = list(TrainingRun.objects.filter(status=JobStatus.QUEUED).exclude(host="").order_by("id"))
        if not holders and not training_queue_positions():
            break
        for run in holders:
            _finish(run)
    assert not TrainingRun.objects.filter(status=JobStatus.QUEUED).exists()
    assert TrainingRun.objects.count() == len(sizes)
    queued = {r.id: (r.queued_at, r.id) for r in TrainingRun.objects.all()}
    assert [queued[i] for i in order] == sorted(queued[i] for i in order)  # first in, first out
    assert sorted(run_id for run_id, _ in launches) == sorted(queued)  # each run launched once
    hosts = {r.id: r.host for r in TrainingRun.objects.all()}
    assert all(queue == f"train.{hosts[run_id]}" for run_id, queue in launches)
