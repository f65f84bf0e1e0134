"""Writes of the training app: plan, create, launch, poll, cancel and resume training runs.

Multi-hour training never runs inside a Celery task: ``training_run_launch`` (the train-queue
task) starts the process or submits the Slurm job and returns; ``training_runs_poll`` (a short
periodic task, or ``manage.py poll_training``) reads logs and job states and records the end.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from domainsieve.jobs import FINISHED, JobStatus
from training.backends import BackendError, get_backend
from training.backends import local as local_backend
from training.backends import slurm as slurm_backend
from training.backends.logparse import checkpoint_complete, list_checkpoints, parse_progress, read_tail
from training.guards import DispatchRefused, backend_options_check, model_name_ok, training_shards_check
from training.mixtures import MixtureError, MixturePlan, Source, plan_mixture, preset_sources
from training.models import TrainingRun
from training.services.placement import (
    PlacementError,
    place_soon,
    train_host_name,
    training_run_check_fits,
    training_run_release_gpus,
)
from training.specs import PRECISIONS, RunSpec, SpecError, check_model, model_config_path, split_batch

log = logging.getLogger(__name__)
LAUNCH_TIMEOUT_MINUTES = 10
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")


class TrainingInputError(ValueError):
    """Bad input for a run, found before anything is launched."""


def training_logs_dir() -> Path:
    return Path(settings.TRAINING_LOGS_DIR or Path(settings.ARTIFACTS_ROOT) / "training")


def mixture_plan(*, mixture: dict[str, Any]) -> MixturePlan:
    """The OpenCLIP data arguments for a mixture request (a preset, or sources with ratio/count)."""
    try:
        if mixture.get("preset"):
            sources, total = preset_sources(
                str(mixture["preset"]), natural=str(mixture.get("natural", "")),
                rendition=str(mixture.get("rendition", "")), pool=str(mixture.get("pool", "")),
                unit=int(mixture.get("unit", 1_000_000)))
            total = mixture.get("total", total)
        else:
            raw = mixture.get("sources") or []
            if not isinstance(raw, list) or not raw:
                raise MixtureError("give a preset or a non-empty list of sources")
            sources = []
            for item in raw:
                if not isinstance(item, dict) or not item.get("shards"):
                    raise MixtureError("each source needs shards (a brace pattern or a folder of .tar)")
                sources.append(Source(
                    name=str(item.get("name") or f"source{len(sources) + 1}"), shards=str(item["shards"]),
                    n_samples=None if item.get("n_samples") is None else int(item["n_samples"]),
                    ratio=None if item.get("ratio") is None else float(item["ratio"]),
                    count=None if item.get("count") is None else int(item["count"])))
            total = mixture.get("total")
        for source in sources:
            # Before anything is counted or opened: every shard inside the data roots.
            training_shards_check(source.shards, what=f"mixture source {source.name!r}")
        return plan_mixture(sources, total=None if total is None else int(total),
                            allow_repeats=bool(mixture.get("allow_repeats", False)))
    except DispatchRefused as exc:
        raise TrainingInputError(str(exc)) from exc
    except (MixtureError, TypeError, ValueError) as exc:
        raise TrainingInputError(f"mixture: {exc}") from exc


def _spec_for(run: TrainingRun, *, resume: bool = False) -> RunSpec:
    from training.specs import BatchSplit

    return RunSpec(
        name=run.name, logs_dir=run.logs_dir, data_args=MixturePlan(**run.plan).args(), model=run.model,
        epochs=run.epochs, split=BatchSplit(run.global_batch, run.per_gpu_batch, run.accum, run.gpus, run.nodes),
        precision=run.precision, workers=run.workers, device=run.device, model_config=run.model_config,
        resume=resume, extra_args=list((run.backend_options or {}).get("extra_args", [])))


def _render_command(run: TrainingRun, *, resume: bool = False) -> None:
    spec = _spec_for(run, resume=resume)
    if run.backend == TrainingRun.Backend.SLURM:
        python = str((run.backend_options or {}).get("python", "python"))
        run.command = ["sbatch", "--parsable", str(slurm_backend.script_path(run))]
        try:
            run.script = slurm_backend.build_script(run, spec.python_command(python))
        except BackendError as exc:
            raise TrainingInputError(str(exc)) from exc
    else:
        run.command = spec.torchrun_command(local_backend.torchrun_path())
        run.script = ""


def training_run_build(*, name: str, mixture: dict[str, Any], model: str = "ViT-B-32", epochs: int = 32,
                       global_batch: int = 16384, gpus: int = 8, nodes: int = 1,
                       per_gpu_batch: int | None = None, max_per_gpu_batch: int | None = None,
                       precision: str = "amp", workers: int = 6, device: str = "cuda",
                       backend: str = "local", backend_options: dict[str, Any] | None = None,
                       logs_dir: str | None = None) -> TrainingRun:
    """An unsaved run with its mixture planned and its exact command rendered; raises
    TrainingInputError for anything that would fail at launch."""
    if not NAME_RE.match(name or ""):
        raise TrainingInputError("name: letters, digits, '_', '.', '-' only (1-120 characters)")
    if TrainingRun.objects.filter(name=name).exists():
        raise TrainingInputError(f"name: a run named {name!r} exists; resume it or pick another name")
    if epochs <= 0 or workers < 0:
        raise TrainingInputError("epochs must be positive and workers >= 0")
    if precision not in PRECISIONS:
        raise TrainingInputError(f"precision must be one of {', '.join(PRECISIONS)}")
    if backend not in TrainingRun.Backend.values:
        raise TrainingInputError("backend must be local or slurm")
    if backend == "local" and nodes != 1:
        raise TrainingInputError(f"nodes: the local backend places a run on one GPU host, not {nodes}; for several "
                                 "nodes use backend slurm, which queues multi-node jobs on the cluster")
    if not model_name_ok(model):
        raise TrainingInputError("model: an open_clip architecture name (letters, digits, '_', '.', '-')")
    try:
        backend_options = backend_options_check(backend_options or {}, model=model)
    except DispatchRefused as exc:
        raise TrainingInputError(str(exc)) from exc
    try:
        split = split_batch(global_batch=global_batch, gpus=gpus, nodes=nodes, per_gpu_batch=per_gpu_batch,
                            max_per_gpu_batch=max_per_gpu_batch)
        config = model_config_path(model)
        check_model(model, config)
    except SpecError as exc:
        raise TrainingInputError(str(exc)) from exc
    plan = mixture_plan(mixture=mixture)
    shards = sum(int(src.get("n_shards", 0)) for src in plan.sources if float(src["share"]) > 0)
    if not plan.resampled and shards < workers * gpus * nodes:
        # OpenCLIP asserts this at start-up when it walks the shards without resampling.
        raise TrainingInputError(f"mixture: {shards} shard(s) cannot feed {workers} data worker(s) on each of "
                                 f"{gpus * nodes} GPU(s); lower --workers or add shards")
    folder = Path(logs_dir) if logs_dir else training_logs_dir()
    if (folder / name / "out.log").exists():
        raise TrainingInputError(f"name: {folder / name} already holds a run's log; pick another name")
    if backend == "slurm":
        try:
            slurm_backend.check_available()
        except BackendError as exc:
            raise TrainingInputError(str(exc)) from exc
    run = TrainingRun(
        name=name, mixture=mixture, plan=plan.as_dict(), model=model,
        model_config=str(config) if config else "", epochs=epochs, global_batch=split.global_batch,
        per_gpu_batch=split.per_gpu_batch, accum=split.accum, gpus=gpus, nodes=nodes, precision=precision,
        workers=workers, device=device, backend=backend, backend_options=dict(backend_options or {}),
        logs_dir=str(folder))
    _render_command(run)
    return run


def training_run_preview(**params: Any) -> dict[str, Any]:
    """What would be launched, without saving: the command (and sbatch script) and the plan."""
    run = training_run_build(**params)
    return {"command": run.command, "command_line": run.command_line, "script": run.script, "plan": run.plan,
            "per_gpu_batch": run.per_gpu_batch, "accum": run.accum, "model_config": run.model_config}


@transaction.atomic
def training_run_create(*, created_by: Any = None, **params: Any) -> TrainingRun:
    """Save a run and start it: a Slurm run is submitted by any train worker; a local run joins
    the GPU queue and is placed on a host with enough free GPUs (``placement``). A local run
    asking for more GPUs than any registered host has is refused here."""
    run = training_run_build(**params)
    if run.backend == TrainingRun.Backend.LOCAL:
        try:
            training_run_check_fits(gpus=run.gpus, device=run.device)
        except PlacementError as exc:
            raise TrainingInputError(str(exc)) from exc
    run.created_by = created_by
    run.save()
    _enqueue_launch(run)
    return run


def _enqueue_launch(run: TrainingRun) -> None:
    from training.tasks.runs import launch_training_run

    if run.backend == TrainingRun.Backend.LOCAL:
        place_soon()  # the pass sends the launch to the chosen host's queue
    else:
        transaction.on_commit(lambda: launch_training_run.delay(run.id))


def training_run_launch(*, run_id: int) -> TrainingRun:
    """Start a queued run on its backend and return at once (the train-queue task calls this)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status != JobStatus.QUEUED:
            return run  # a redelivered task: already launched or finished
        if run.backend == TrainingRun.Backend.LOCAL and run.host != train_host_name():
            return run  # not placed on this host (yet, or any more): its own host's queue gets the launch
        if run.cancel_requested:
            run.mark_finished(JobStatus.CANCELLED)
            training_run_release_gpus(run=run)
            return run
        run.status = JobStatus.LAUNCHING
        run.attempts += 1
        run.save(update_fields=["status", "attempts", "updated_at"])
    backend = get_backend(run.backend)
    try:
        backend_options_check(run.backend_options or {}, model=run.model)
        launched = backend.launch(run)
    except (BackendError, DispatchRefused) as exc:
        with transaction.atomic():
            run.mark_finished(JobStatus.FAILED, error=str(exc))
            training_run_release_gpus(run=run)
        return run
    run.pid = launched.pid
    run.job_id = launched.job_id
    run.host = launched.host
    run.log_path = launched.log_path
    run.status = JobStatus.RUNNING
    run.state_detail = "submitted" if run.backend == "slurm" else "started"
    run.started_at = run.started_at or timezone.now()
    run.save(update_fields=["pid", "job_id", "host", "log_path", "status", "state_detail", "started_at",
                            "updated_at"])
    return run


def _record_progress(run: TrainingRun) -> str:
    """Copy progress and checkpoints from the log and the checkpoint folder onto the run; return
    the last error line the log shows ("" when none)."""
    text = read_tail(run.log_path) if run.log_path else ""
    progress = parse_progress(text)
    if progress.epoch is not None:
        run.epoch = progress.epoch
        run.step = progress.step(run.global_batch)
        run.samples_seen = progress.epoch * int(progress.samples_per_epoch or 0) + int(progress.samples_in_epoch or 0)
        run.loss = progress.loss
    run.checkpoints = list_checkpoints(Path(run.logs_dir) / run.name / "checkpoints")
    if "Error. Experiment already exists" in progress.error_line:
        # open_clip_train.main returns -1 here but its __main__ exits 0: treat as a failure.
        run.error = progress.error_line
    return progress.error_line


def training_run_poll(*, run: TrainingRun) -> TrainingRun:
    """Read progress and the backend's state once; record the end when there is one."""
    if run.status != JobStatus.RUNNING:
        return run
    backend = get_backend(run.backend)
    try:
        if run.cancel_requested:
            # Idempotent (SIGTERM / scancel again): covers a cancel asked on another host or
            # while the run was still launching.
            backend.cancel(run)
        polled = backend.poll(run)
    except BackendError as exc:
        log.warning("poll of run %s failed: %s", run.id, exc)
        run.state_detail = f"poll failed: {exc}"[:120]
        run.save(update_fields=["state_detail", "updated_at"])
        return run
    hint = _record_progress(run)
    run.state_detail = polled.detail[:120]
    state = polled.state
    if state == "succeeded" and run.error.startswith("Error. Experiment already exists"):
        state = "failed"
    if state == "succeeded" and not run.checkpoints:
        state, polled.error = "failed", "the process ended without writing a checkpoint"
    fields = ["status", "state_detail", "exit_code", "finished_at", "error", "epoch", "step", "samples_seen", "loss",
              "checkpoints", "updated_at"]  # not cancel_requested: the web may set it while this poll runs
    if state == "running":
        run.save(update_fields=fields)
        return run
    with transaction.atomic():
        # Record the end once: the host's heartbeat and the beat task may poll the same run.
        if TrainingRun.objects.select_for_update().filter(pk=run.pk).values_list("status", flat=True).first() \
                != JobStatus.RUNNING:
            return TrainingRun.objects.get(pk=run.pk)
        if state == "succeeded":
            _enqueue_evaluation(run)
        run.status = state
        run.exit_code = polled.exit_code
        run.finished_at = timezone.now()
        if state == "failed" and not run.error:
            run.error = polled.error + (f": {hint}" if hint else "")
        run.save(update_fields=fields)
        training_run_release_gpus(run=run)
    return run


def _enqueue_evaluation(run: TrainingRun) -> None:
    """Evaluate every checkpoint of a finished run on the test sets named at launch
    (``backend_options["eval_datasets"]``: dataset ids), standard and clean."""
    datasets = list((run.backend_options or {}).get("eval_datasets") or [])
    if not datasets:
        return
    from training.services.zeroshot import ZeroShotInputError, zeroshot_request_enqueue

    run.save(update_fields=["checkpoints"])  # the requests read the run's checkpoints
    try:
        zeroshot_request_enqueue(training_run=run.id, datasets=datasets)
    except ZeroShotInputError as exc:
        run.error = f"evaluation not queued: {exc}"


def training_runs_poll(*, local_only: bool = False) -> int:
    """Poll every running run this host can see: local ones launched here, and (unless
    ``local_only``, the host heartbeat's own poll) all Slurm ones."""
    host = train_host_name()
    # A launch whose worker died between "launching" and "running" would wait forever.
    stale = timezone.now() - timedelta(minutes=LAUNCH_TIMEOUT_MINUTES)
    for stuck in TrainingRun.objects.filter(status=JobStatus.LAUNCHING, updated_at__lt=stale).values_list(
            "pk", flat=True):
        with transaction.atomic():
            run = TrainingRun.objects.select_for_update().get(pk=stuck)
            if run.status != JobStatus.LAUNCHING:
                continue
            run.mark_finished(JobStatus.FAILED, error=f"the launch did not finish within {LAUNCH_TIMEOUT_MINUTES} "
                                                      "minutes (worker lost?); resume to retry")
            training_run_release_gpus(run=run)
    polled = 0
    runs = TrainingRun.objects.filter(status=JobStatus.RUNNING)
    if local_only:
        runs = runs.filter(backend=TrainingRun.Backend.LOCAL, host=host)
    for run in runs:
        if run.backend == TrainingRun.Backend.LOCAL and run.host != host:
            continue
        training_run_poll(run=run)
        polled += 1
    return polled


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """Flag the run; stop its process (SIGTERM to the group) or job (scancel). The poll records
    the end. A run not yet launched is cancelled at once."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status in FINISHED:
            raise TrainingInputError(f"run {run.name} already {run.status}")
        run.cancel_requested = True
        if run.status == JobStatus.QUEUED:
            run.status = JobStatus.CANCELLED
            run.finished_at = timezone.now()
        run.save(update_fields=["cancel_requested", "status", "finished_at", "updated_at"])
        if run.status == JobStatus.CANCELLED:
            training_run_release_gpus(run=run)  # placed but not launched: its devices go to the next run
    if run.status in (JobStatus.RUNNING, JobStatus.LAUNCHING):
        if run.backend == TrainingRun.Backend.LOCAL and run.host != train_host_name():
            # Only the launching host can signal its process: its next poll does (see
            # training_run_poll); ask that host for one now, on its own queue.
            from training.services.placement import train_host_queue
            from training.tasks.runs import poll_training_runs

            queue = train_host_queue(run.host) if run.host else "train"
            transaction.on_commit(lambda: poll_training_runs.apply_async(queue=queue))
            return run
        try:
            get_backend(run.backend).cancel(run)
        except BackendError as exc:
            run.error = str(exc)
            run.save(update_fields=["error", "updated_at"])
            raise TrainingInputError(str(exc)) from exc
    return run


@transaction.atomic
def training_run_resume(*, run: TrainingRun) -> TrainingRun:
    """Relaunch a failed, cancelled or lost run from its latest checkpoint (``--resume latest``);
    a local run joins the back of the GPU queue and may land on another host."""
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.status not in TrainingRun.RESUMABLE:
        raise TrainingInputError(f"only failed, cancelled or lost runs can be resumed; {run.name} is {run.status}")
    if run.backend == "slurm":
        try:
            slurm_backend.check_available()
        except BackendError as exc:
            raise TrainingInputError(str(exc)) from exc
    try:
        backend_options_check(run.backend_options or {}, model=run.model)
    except DispatchRefused as exc:
        raise TrainingInputError(str(exc)) from exc
    _set_aside_torn_checkpoints(run)
    _render_command(run, resume=True)
    run.status = JobStatus.QUEUED
    run.cancel_requested = False
    run.error = ""
    run.exit_code = None
    run.finished_at = None
    run.pid = None
    run.job_id = ""
    run.state_detail = ""
    if run.backend == TrainingRun.Backend.LOCAL:
        run.host, run.devices, run.queued_at = "", [], timezone.now()
    run.save()
    training_run_release_gpus(run=run)  # none held by a finished run; belt and braces
    _enqueue_launch(run)
    return run


def _set_aside_torn_checkpoints(run: TrainingRun) -> list[str]:
    """A cancel (SIGTERM) can land while torch.save writes; ``--resume latest`` would then pick the
    torn newest file and fail. Rename unreadable ones to ``*.torn`` (kept for inspection) so it
    resumes from the last complete checkpoint. Only where the folder is visible from this host."""
    folder = Path(run.logs_dir) / run.name / "checkpoints"
    moved = []
    for path in sorted(folder.glob("epoch_*.pt")) if folder.is_dir() else []:
        if not checkpoint_complete(path):
            path.rename(path.with_name(path.name + ".torn"))
            moved.append(path.name)
    if moved:
        log.warning("run %s: set aside torn checkpoints %s before resuming", run.name, ", ".join(moved))
    return moved


def run_log_tail(*, run: TrainingRun, max_bytes: int = 16384) -> str:
    return read_tail(run.log_path, max_bytes) if run.log_path else ""

