"""Writes for the GPU pool of the local backend: hosts register and heartbeat, runs wait in one
queue and are placed on a host with enough free GPUs, hosts that fall silent are marked lost.

The rules, in one place:
- A local run asks for ``gpus`` devices on one host (``device="cpu"`` runs ask for none).
  ``training_queue_place`` serves the waiting runs by priority (higher first), then first in;
  the head of the queue is never overtaken by a smaller GPU run behind it (no backfill), so a big
  run cannot starve. A researcher reorders by raising a run's priority.
- Among the hosts that fit, the one with the fewest free GPUs wins (best fit keeps whole hosts
  free for big runs); devices are taken lowest index first.
- A device is a ``TrainGpu`` row whose ``run`` column is its only holder. Every placement pass
  locks the up hosts' rows (``SELECT ... FOR UPDATE``, id order), so passes run one at a time, and
  takes a device with ``UPDATE ... WHERE run IS NULL``: two runs never share a device.
- The end of a run (poll, cancel, failed launch, lost host) empties its devices and runs a pass.
- A host whose heartbeat is older than ``TRAIN_HOST_LOST_SECONDS`` gets no new runs; the next
  sweep marks it lost, its launched runs lost (resumable from their last checkpoint) and its
  not-yet-launched runs back in the queue at their old place. It comes back by registering again,
  which first stops the processes of runs it no longer owns.

Lock order, everywhere: host rows, then run rows, then device rows.
"""
from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Max
from django.utils import timezone

from domainsieve.jobs import ACTIVE, JobStatus
from training.hostinfo import GpuInfo
from training.models import TrainGpu, TrainHost, TrainingRun

log = logging.getLogger(__name__)
MAX_PRIORITY = 1000


class PlacementError(ValueError):
    """A request the pool cannot take (shown to the user as is)."""


class PlacementConflict(RuntimeError):
    """A device was taken under a placement pass that held the host locks: a bug, never expected."""


def train_host_name() -> str:
    """This process's host name in the pool (``TRAIN_HOST_NAME``, default the machine's name)."""
    return str(settings.TRAIN_HOST_NAME)


def train_host_queue(name: str) -> str:
    return f"train.{name}"


def _alive_since(now: datetime) -> datetime:
    return now - timedelta(seconds=float(settings.TRAIN_HOST_LOST_SECONDS))


def gpus_needed(run: TrainingRun) -> int:
    return int(run.gpus) if run.device == "cuda" else 0


def training_run_check_fits(*, gpus: int, device: str) -> None:
    """Refuse, at submission, a local run no registered host could ever take (up or lost: a lost
    host may come back). Raises PlacementError with the reason."""
    if device != "cuda":
        return
    largest = TrainHost.objects.aggregate(largest=Max("gpu_count"))["largest"]
    if largest is None:
        raise PlacementError(f"no GPU host is registered for the local backend, so nothing can take {gpus} GPU(s): "
                             "start a train worker on a GPU host (docs/operations.md, 'Adding a GPU host')")
    if gpus > largest:
        raise PlacementError(f"gpus: {gpus} GPUs on one node is more than any registered host has (the largest has "
                             f"{largest}); ask for at most {largest}, or use the slurm backend across nodes")


@transaction.atomic
def train_host_register(*, name: str, gpus: list[GpuInfo], source: str, worker: str = "") -> TrainHost:
    """Insert or refresh the host, mark it up and make its device rows match ``gpus``; then (on
    commit) run a placement pass. Call ``training_orphans_stop`` first on a returning host, so
    no process of a run it lost still sits on the devices it is about to offer."""
    now = timezone.now()
    host, _ = TrainHost.objects.select_for_update().get_or_create(name=name, defaults={"queue": train_host_queue(name)})
    models = [g.model for g in gpus if g.model]
    host.queue = train_host_queue(name)
    host.status = TrainHost.Status.UP
    host.gpu_count = len(gpus)
    host.gpu_model = max(set(models), key=models.count) if models else ""
    host.gpu_memory_mb = min((g.memory_mb for g in gpus), default=0)
    host.gpu_source = source
    host.worker = worker
    host.registered_at = now
    host.last_heartbeat = now
    host.lost_at = None
    host.save()
    # Devices no longer seen are dropped; a run holding one keeps its record in run.devices.
    TrainGpu.objects.filter(host=host).exclude(index__in=[g.index for g in gpus]).delete()
    for gpu in gpus:
        TrainGpu.objects.update_or_create(host=host, index=gpu.index,
                                          defaults={"model": gpu.model, "memory_mb": gpu.memory_mb})
    place_soon()
    return host


def train_host_heartbeat(*, name: str) -> bool:
    """Refresh an up host's heartbeat; False when the host is not up (lost or unknown), in which
    case the worker registers again."""
    return bool(TrainHost.objects.filter(name=name, status=TrainHost.Status.UP).update(last_heartbeat=timezone.now()))


def train_hosts_mark_lost(*, now: datetime | None = None) -> list[str]:
    """Mark hosts silent for ``TRAIN_HOST_LOST_SECONDS`` lost: their launched runs become lost,
    placed but unlaunched runs go back to the queue, their devices are emptied (and offered
    again only when the host registers). Returns the names marked. Cheap when none are stale."""
    now = now or timezone.now()
    marked = []
    with transaction.atomic():
        stale = TrainHost.objects.select_for_update(skip_locked=True).filter(
            status=TrainHost.Status.UP, last_heartbeat__lt=_alive_since(now)).order_by("id")
        for host in stale:
            host.status = TrainHost.Status.LOST
            host.lost_at = now
            host.save(update_fields=["status", "lost_at"])
            runs = TrainingRun.objects.select_for_update().filter(
                backend=TrainingRun.Backend.LOCAL, host=host.name, status__in=ACTIVE).order_by("id")
            for run in runs:
                if run.status == JobStatus.QUEUED:
                    run.host, run.devices = "", []
                    run.state_detail = f"back in the queue: host {host.name} was lost before launching"
                    run.save(update_fields=["host", "devices", "state_detail", "updated_at"])
                    continue
                run.status = JobStatus.LOST
                run.finished_at = now
                run.state_detail = f"host {host.name} lost"
                run.error = (f"host {host.name} stopped heartbeating (last at {host.last_heartbeat:%Y-%m-%d %H:%M:%S} "
                             "UTC); resume to continue from the last checkpoint")
                run.save(update_fields=["status", "finished_at", "state_detail", "error", "updated_at"])
            TrainGpu.objects.filter(host=host).update(run=None, allocated_at=None)
            log.warning("train host %s lost: no heartbeat since %s", host.name, host.last_heartbeat)
            marked.append(host.name)
        if marked:
            place_soon()
    return marked


def training_run_release_gpus(*, run: TrainingRun) -> int:
    """Empty the run's devices and run a placement pass once the caller's transaction commits.
    Call inside the transaction that records the run's end (the run row locked)."""
    freed = TrainGpu.objects.filter(run=run).update(run=None, allocated_at=None)
    if run.backend == TrainingRun.Backend.LOCAL:
        place_soon()
    return freed


def training_queue_place() -> list[int]:
    """One placement pass over the waiting local runs (see the module docstring for the rules);
    launches go to each chosen host's queue on commit. Returns the ids placed.

    Cost: one transaction that locks the up hosts' rows and the waiting runs' rows, two reads and
    one UPDATE per placed run; safe to call from anywhere, any number of times."""
    from training.tasks.runs import launch_training_run

    now = timezone.now()
    placed: list[tuple[int, str]] = []
    with transaction.atomic():
        hosts = list(TrainHost.objects.select_for_update().filter(
            status=TrainHost.Status.UP, last_heartbeat__gte=_alive_since(now)).order_by("id"))
        if not hosts:
            return []
        waiting = list(TrainingRun.objects.select_for_update().filter(
            backend=TrainingRun.Backend.LOCAL, status=JobStatus.QUEUED, host="", cancel_requested=False,
        ).order_by("-priority", "queued_at", "id"))
        if not waiting:
            return []
        free: dict[int, list[int]] = {host.id: [] for host in hosts}
        for host_id, index in TrainGpu.objects.filter(host__in=hosts, run__isnull=True).order_by(
                "host_id", "index").values_list("host_id", "index"):
            free[host_id].append(index)
        head_blocked = False
        for run in waiting:
            need = gpus_needed(run)
            if need and head_blocked:
                continue  # first in, first out: nobody overtakes the waiting head
            fits = [h for h in hosts if len(free[h.id]) >= need]
            if not fits:
                head_blocked = head_blocked or need > 0
                continue
            host = min(fits, key=lambda h: (len(free[h.id]), h.name)) if need else \
                min(fits, key=lambda h: (-len(free[h.id]), h.name))
            indices = free[host.id][:need]
            if need:
                taken = TrainGpu.objects.filter(host=host, index__in=indices, run__isnull=True).update(
                    run=run, allocated_at=now)
                if taken != need:
                    raise PlacementConflict(f"run {run.id}: took {taken} of devices {indices} on {host.name}")
            free[host.id] = free[host.id][need:]
            run.host = host.name
            run.devices = indices
            run.state_detail = (f"placed on {host.name}, GPU {','.join(map(str, indices))}" if need
                                else f"placed on {host.name} (CPU)")
            run.save(update_fields=["host", "devices", "state_detail", "updated_at"])
            placed.append((run.id, host.queue))
        if placed:
            transaction.on_commit(lambda: [launch_training_run.apply_async((run_id,), queue=queue)
                                           for run_id, queue in placed])
    if placed:
        log.info("placed runs %s", ", ".join(f"{run_id}->{queue}" for run_id, queue in placed))
    return [run_id for run_id, _ in placed]


def _place_quietly() -> None:
    try:
        training_queue_place()
    except DatabaseError as exc:  # a lock timeout or lost connection: the next heartbeat's pass retries
        log.warning("placement pass failed: %s", exc)


def place_soon() -> None:
    """A placement pass once the current transaction commits (at once outside one)."""
    transaction.on_commit(_place_quietly)


@transaction.atomic
def training_run_set_priority(*, run: TrainingRun, priority: int) -> TrainingRun:
    """Reorder the queue: a waiting local run with a higher priority is served first."""
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise PlacementError(f"priority must be between {-MAX_PRIORITY} and {MAX_PRIORITY}")
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.backend != TrainingRun.Backend.LOCAL or run.status != JobStatus.QUEUED or run.host:
        raise PlacementError(f"only a local run waiting for GPUs can be reordered; {run.name} is "
                             f"{'placed on ' + run.host if run.host else run.status}")
    run.priority = priority
    run.save(update_fields=["priority", "updated_at"])
    place_soon()
    return run


def training_orphans_stop(*, host: str, supervisors: Iterable[tuple[int, int, str]]) -> list[int]:
    """Stop this host's training processes whose run is no longer running here under that pid
    (lost, resumed elsewhere, cancelled while the host was away). ``supervisors`` are the live
    ``(pid, run_id, run_dir)`` launched on this host (``backends.local.live_supervisors``);
    a process whose run is unknown to this database or lives in another folder is left alone.
    Returns the pids signalled (SIGTERM to the process group)."""
    stopped = []
    for pid, run_id, run_dir in supervisors:
        run = TrainingRun.objects.filter(pk=run_id).only("id", "name", "logs_dir", "status", "host", "pid").first()
        if run is None or str(Path(run.logs_dir) / run.name) != run_dir:
            continue
        if run.status in (JobStatus.RUNNING, JobStatus.LAUNCHING) and run.host == host \
                and run.pid == pid:
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
        log.warning("stopped process group %s of run %s (%s): the run is %s", pid, run.name, run_dir, run.status)
        stopped.append(pid)
    return stopped
