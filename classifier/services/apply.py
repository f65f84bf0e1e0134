"""Apply jobs: create, run one shard, finalize, cancel, resume; and test-set cleaning.

Work distribution (see docs/operations.md, "Applying classifiers on a cluster"):

- One ``apply_shard`` task per ApplyShard row, on the ``gpu`` queue, ``acks_late``.
- A worker *claims* a shard with one conditional UPDATE (queued -> running, or running with a
  heartbeat older than ``APPLY_STALE_SECONDS``), writing a fresh ``claim_token``. Two workers
  never process one shard at the same time; a duplicate or redelivered message finds nothing to
  claim and returns.
- The running worker heartbeats after every batch. A SIGKILLed worker stops heartbeating; a
  per-job watchdog task (``apply_job_watch``, re-enqueued every ``APPLY_STALE_SECONDS`` until the
  job ends), the optional beat task ``apply_reap_stale`` and ``apply_job_resume`` put such shards
  back to queued and enqueue them again. Redis redelivery of the unacked message after its
  visibility timeout is a harmless extra path (the claim makes it a no-op or the rescue).
- Completion is a conditional UPDATE on ``claim_token``: a worker presumed dead that wakes up late
  cannot mark the shard twice. Outputs are written to a temp name and renamed, so a second writer
  replaces the file with identical content, and the output-exists check skips finished shards.
- The job is finalized by whoever completes the last shard: under ``SELECT ... FOR UPDATE`` of the
  job row, "no shard left queued or running" flips the job to ``finalizing`` exactly once and
  enqueues ``apply_job_finalize``. No chord.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from classifier.apply.clean import CLEAN_RULES, OWN_CLASSIFIER, clean_testset_scores
from classifier.apply.fthead import is_finetuned_artifact
from classifier.apply.lru import LRUCache
from classifier.apply.process import ShardCancelled, decode_rgb, process_embeddings, process_shard
from classifier.apply.scoring import FT_NEEDS_IMAGES, HeadPair, Thresholds
from classifier.apply.shards import CorruptShardError, ShardPatternError, expand_shards
from classifier.apply.summary import summarize_scores, table7_markdown
from classifier.models.apply import ApplyJob, ApplyShard, CleanTestset
from domainsieve.jobs import JobStatus
from domainsieve.shards import NotAShardError, check_tar_shards

log = logging.getLogger(__name__)


class ApplyError(ValueError):
    """Bad input to an apply or clean job: the message is shown to the user as is."""


def stale_seconds() -> float:
    return float(settings.APPLY_STALE_SECONDS)


def max_attempts() -> int:
    return int(settings.APPLY_MAX_ATTEMPTS)


def decode_threads() -> int:
    """Threads decoding JPEGs per worker (APPLY_DECODE_THREADS, default min(8, cores))."""
    return int(settings.APPLY_DECODE_THREADS)


def _batch_delay() -> float:
    # Test and bench hook only: slows every batch so a test can kill a worker mid-shard.
    return float(settings.APPLY_BATCH_DELAY)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------- classifier specs


@dataclass(frozen=True)
class HeadSpec:
    """What an apply or clean job needs from two classifier runs."""

    extractor: str
    natural_head_path: str
    rendition_head_path: str
    strict: dict[str, float]
    default: dict[str, float]
    natural_run_id: int | None = None
    rendition_run_id: int | None = None


def _artifact_path(run: Any) -> str:
    artifacts = run.artifacts or {}
    for name in ("model", "head", "fitted"):
        if name in artifacts:
            path = artifacts[name]
            break
    else:
        candidates = [p for p in artifacts.values() if str(p).endswith((".pkl", ".pickle"))]
        if len(candidates) != 1:
            raise ApplyError(f"classifier run {run.id} has no single fitted-model artifact (artifacts: {artifacts})")
        path = candidates[0]
    full = Path(path) if Path(path).is_absolute() else Path(settings.ARTIFACTS_ROOT) / path
    if not full.is_file():
        raise ApplyError(f"classifier run {run.id}'s model file {full} is missing")
    return str(full)


def _default_threshold(run: Any, fallback: float) -> float:
    """The run's "default" operating point: its own if set, ratio 1.0 for density-ratio scores,
    else ``fallback`` (0.5: for a ternary softmax, above 0.5 implies the argmax)."""
    given = (run.hyperparameters or {}).get("default_threshold")
    if given is not None:
        return float(given)
    return 1.0 if str(run.method).lower().startswith(("dr", "logreg")) else fallback


def _is_ft_run(run: Any) -> bool:
    """Runs whose artifact is a fine-tuned tower (ft-*, and the density ratio on a fine-tuned backbone)."""
    return str(run.method).lower().startswith(("ft", "dr-ft"))


def head_spec_from_runs(*, natural_run: Any, rendition_run: Any, default_threshold: float = 0.5) -> HeadSpec:
    """Validate two ClassifierRuns and snapshot what applying them needs.

    Refuses runs that are not finished, lack the class they are used for or its 98%-precision
    threshold, or come from different extractors. A fine-tuned (FT, method ``ft*``) run counts as
    coming from its base extractor (``run.extractor``, the tower it was fine-tuned from): applying
    runs its own tower on the same decoded images, next to the base extractor for the other head.
    """
    for run, name in ((natural_run, "natural"), (rendition_run, "rendition")):
        if getattr(run, "status", "succeeded") != "succeeded":
            raise ApplyError(f"classifier run {run.id} is {run.status}, not succeeded")
        if name not in (run.classes or []):
            raise ApplyError(f"classifier run {run.id} ({run.method}) does not score the {name} class")
        if (run.thresholds or {}).get(name) is None:
            raise ApplyError(f"classifier run {run.id} has no {name} threshold at "
                             f"{getattr(run, 'target_precision', 0.98):.0%} precision")
        if _is_ft_run(run) and not is_finetuned_artifact(_artifact_path(run)):
            raise ApplyError(f"classifier run {run.id} is fine-tuned ({run.method}) but its model artifact "
                             f"{_artifact_path(run)} is not an ft.pt checkpoint")
    if natural_run.extractor != rendition_run.extractor:
        raise ApplyError(f"the classifiers come from different extractors ({natural_run.extractor} vs "
                         f"{rendition_run.extractor}); train both on the same embeddings")
    hp_n = _default_threshold(natural_run, default_threshold)
    hp_r = _default_threshold(rendition_run, default_threshold)
    return HeadSpec(
        extractor=natural_run.extractor,
        natural_head_path=_artifact_path(natural_run), rendition_head_path=_artifact_path(rendition_run),
        strict={"natural": float(natural_run.thresholds["natural"]),
                "rendition": float(rendition_run.thresholds["rendition"])},
        default={"natural": float(hp_n), "rendition": float(hp_r)},
        natural_run_id=natural_run.id, rendition_run_id=rendition_run.id,
    )


# ---------------------------------------------------------------- create / cancel / resume


@transaction.atomic
def apply_job_create(*, name: str, spec: HeadSpec, pattern: str = "", embedding_set: Any = None,
                     level: str = ApplyJob.Level.STRICT, batch_size: int = 256, device: str = "auto",
                     created_by: Any = None, enqueue: bool = True, roots: list[Path] | None = None) -> ApplyJob:
    """Create a job and one ApplyShard per input shard (or embedding chunk); enqueue them on commit.

    ``roots``: when given (web and API callers pass ``settings.IMPORT_ROOTS``), every shard must lie
    under one of them.
    """
    if level not in ApplyJob.Level.values:
        raise ApplyError(f"level must be one of {ApplyJob.Level.values}")
    if batch_size < 1:
        raise ApplyError("batch_size must be at least 1")
    for path in (spec.natural_head_path, spec.rendition_head_path):
        if not Path(path).is_file():
            raise ApplyError(f"classifier file {path} does not exist")
    if bool(pattern) == bool(embedding_set):
        raise ApplyError("give exactly one input: a shard pattern or an embedding set")
    inputs: list[str]
    if embedding_set is not None:
        if any(is_finetuned_artifact(p) for p in (spec.natural_head_path, spec.rendition_head_path)):
            raise ApplyError(FT_NEEDS_IMAGES)
        inputs, embedding_dir = _embedding_chunks(embedding_set, spec)
    else:
        try:
            inputs = [str(p) for p in expand_shards(pattern)]
        except ShardPatternError as exc:
            raise ApplyError(str(exc)) from exc
        if roots is not None:
            resolved = [Path(r).resolve() for r in roots]
            outside = [p for p in inputs if not any(Path(p).is_relative_to(r) for r in resolved)]
            if outside:
                raise ApplyError(f"{len(outside)} shard(s) lie outside the allowed folders (IMPORT_ROOTS): "
                                 f"{outside[0]}")
        try:
            # After the roots check: only files we may read are opened to look at their header.
            check_tar_shards(inputs)
        except NotAShardError as exc:
            raise ApplyError(str(exc)) from exc
        embedding_dir = ""
    job = ApplyJob.objects.create(
        name=name or "apply", source=ApplyJob.Source.EMBEDDINGS if embedding_set else ApplyJob.Source.SHARDS,
        pattern=pattern, embedding_dir=embedding_dir, embedding_set_id=getattr(embedding_set, "id", None),
        natural_run_id=spec.natural_run_id, rendition_run_id=spec.rendition_run_id, extractor=spec.extractor,
        natural_head_path=spec.natural_head_path, rendition_head_path=spec.rendition_head_path,
        thresholds={"strict": spec.strict, "default": spec.default}, level=level, batch_size=batch_size,
        device=device, status=JobStatus.RUNNING, shards_total=len(inputs), created_by=created_by,
        started_at=timezone.now(),
    )
    out_dir = Path(settings.ARTIFACTS_ROOT) / "apply" / f"job_{job.id:06d}"
    (out_dir / "scores").mkdir(parents=True, exist_ok=True)
    job.out_dir = str(out_dir)
    job.save(update_fields=["out_dir"])
    ApplyShard.objects.bulk_create([
        ApplyShard(job=job, index=i, path=path, out_path=str(out_dir / "scores" / f"{i:06d}.parquet"))
        for i, path in enumerate(inputs)
    ])
    if enqueue:
        transaction.on_commit(lambda: _enqueue_job(job.id))
    return job


def _embedding_chunks(embedding_set: Any, spec: HeadSpec) -> tuple[list[str], str]:
    from classifier.ml.embed import read_meta

    if embedding_set.extractor != spec.extractor:
        raise ApplyError(f"the embedding set was made with {embedding_set.extractor}, the classifiers with "
                         f"{spec.extractor}")
    path = Path(embedding_set.path)
    path = path if path.is_absolute() else Path(settings.ARTIFACTS_ROOT) / path
    try:
        meta = read_meta(path)
    except FileNotFoundError as exc:
        raise ApplyError(str(exc)) from exc
    n_chunks = (meta["count"] + meta["chunk_size"] - 1) // meta["chunk_size"]
    return [f"chunk_{i:05d}" for i in range(n_chunks)], str(path)


def _enqueue_job(job_id: int) -> None:
    from classifier.tasks.apply import apply_job_watch, apply_shard

    for shard_id in ApplyShard.objects.filter(job_id=job_id, status=JobStatus.QUEUED).values_list(
            "id", flat=True):
        apply_shard.delay(shard_id)
    apply_job_watch.apply_async((job_id,), countdown=stale_seconds())


@transaction.atomic
def apply_job_cancel(*, job: ApplyJob) -> ApplyJob:
    """Set the cancel flag: queued shards are not started, running ones stop at their next batch."""
    job = ApplyJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        return job
    job.mark_finished(JobStatus.CANCELLED, cancel_requested=True)
    return job


@transaction.atomic
def apply_job_resume(*, job: ApplyJob, enqueue: bool = True) -> int:
    """Put failed, cancelled and stale shards back to queued and enqueue them. Returns how many.

    A succeeded job (every shard succeeded) is a no-op: resuming it does nothing.
    """
    job = ApplyJob.objects.select_for_update().get(pk=job.pk)
    if job.status == JobStatus.SUCCEEDED:
        return 0
    stale = timezone.now() - timedelta(seconds=stale_seconds())
    revived = job.shards.filter(
        Q(status=JobStatus.FAILED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
    ).update(status=JobStatus.QUEUED, claim_token="", error="")
    queued = job.shards.filter(status=JobStatus.QUEUED).count()
    job.cancel_requested = False
    job.status = JobStatus.RUNNING
    job.finished_at = None
    job.error = ""
    job.save(update_fields=["cancel_requested", "status", "finished_at", "error"])
    if enqueue:
        transaction.on_commit(lambda: _enqueue_job(job.id))
    if not queued and not job.shards.exclude(status=JobStatus.SUCCEEDED).exists():
        transaction.on_commit(lambda: _maybe_finalize(job.id, inline=not enqueue))
    return revived


def apply_reap_stale(*, job_id: int | None = None) -> int:
    """Re-enqueue shards whose worker stopped heartbeating; returns how many. Safe to run anywhere."""
    from classifier.tasks.apply import apply_shard

    stale = timezone.now() - timedelta(seconds=stale_seconds())
    jobs = ApplyJob.objects.filter(status=JobStatus.RUNNING, cancel_requested=False)
    if job_id is not None:
        jobs = jobs.filter(pk=job_id)
    shards = ApplyShard.objects.filter(job__in=jobs, status=JobStatus.RUNNING, heartbeat_at__lt=stale)
    # A shard that has killed its worker again and again (OOM on one huge image...) fails instead.
    given_up = list(shards.filter(attempts__gte=max_attempts()).values_list("id", "job_id"))
    if given_up:
        ApplyShard.objects.filter(pk__in=[i for i, _ in given_up]).update(
            status=JobStatus.FAILED, finished_at=timezone.now(),
            error=f"worker lost {max_attempts()} times while processing this shard")
        for job in {j for _, j in given_up}:
            _maybe_finalize(job)
    ids = list(shards.values_list("id", flat=True))
    for shard_id in ids:
        log.warning("apply: shard %s stopped heartbeating; re-enqueued", shard_id)
        apply_shard.delay(shard_id)  # the claim accepts a stale running shard
    return len(ids)


def apply_job_watch(*, job_id: int) -> bool:
    """Reap this job's stale shards; True while the job still runs (the task re-schedules itself)."""
    apply_reap_stale(job_id=job_id)
    job = ApplyJob.objects.filter(pk=job_id).only("status").first()
    if job is None or job.status != JobStatus.RUNNING:
        return False
    _maybe_finalize(job_id)  # covers a job whose last completer died between its two transactions
    return True


# ---------------------------------------------------------------- one shard


# What a worker keeps loaded between shards, each bounded by APPLY_MODEL_CACHE_SIZE (least recently
# used dropped first): head pairs, frozen extractors, and the pixel memo each extractor's
# preprocessing shares between a frozen and a fine-tuned tower. A job touches one of each, so a
# worker alternating between two jobs loads nothing twice, and a third job evicts the oldest.
_HEADS = LRUCache()
_EXTRACTORS = LRUCache()
_PIXELS = LRUCache()


def _cache_size() -> int:
    return int(settings.APPLY_MODEL_CACHE_SIZE)


def _resolve_device(device: str) -> str:
    if device and device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _precision(device: str) -> str:
    return "amp" if device.startswith("cuda") else "fp32"


def _pixels_for(extractor: str) -> Callable[[Any], Any]:
    """The per-process pixel memo of ``extractor``'s preprocessing: the frozen tower and a fine-tuned one
    (same base extractor, same eval transform) preprocess each decoded batch once between them. A memo
    evicted while a cached fine-tuned head still holds it only costs that sharing, never a wrong score."""

    def get(preprocess: Any) -> Any:
        from classifier.apply.fthead import PixelBatch

        return _PIXELS.get_or_load(extractor, lambda: PixelBatch(preprocess), maxsize=_cache_size())

    return get


def _load_heads(job: ApplyJob) -> HeadPair:
    """The two heads: pickled embedding-method models, or fine-tuned towers (``ft.pt``) on the job's device."""
    key = (job.natural_head_path, job.rendition_head_path, job.extractor, job.device)

    def load_pair() -> HeadPair:
        from classifier.ml.methods import load_head

        def load(path: str) -> Any:
            if not is_finetuned_artifact(path):
                return load_head(path)
            from classifier.apply.fthead import FineTunedHead

            device = _resolve_device(job.device)
            try:
                return FineTunedHead.load(path, device=device, precision=_precision(device),
                                          expected_extractor=job.extractor, pixels_for=_pixels_for(job.extractor))
            except ValueError as exc:
                raise ApplyError(str(exc)) from exc

        return HeadPair(natural=load(job.natural_head_path), rendition=load(job.rendition_head_path))

    return _HEADS.get_or_load(key, load_pair, maxsize=_cache_size())


def _embed_fn(job: ApplyJob) -> Callable[[list[Any]], np.ndarray]:
    """Frozen-extractor features of a decoded batch. The extractor is built on first use, so a pair of
    fine-tuned heads never loads it."""
    device = _resolve_device(job.device)
    key = (job.extractor, device)

    def embed(images: list[Any]) -> np.ndarray:
        def build() -> Any:
            from classifier.ml.extractors import build_extractor

            return build_extractor(job.extractor, device=device, precision=_precision(device))

        extractor = _EXTRACTORS.get_or_load(key, build, maxsize=_cache_size())
        batch = _pixels_for(job.extractor)(extractor.preprocess)(images)
        return extractor.encode(batch).cpu().numpy()

    return embed


def _claim(shard_id: int) -> tuple[ApplyShard | None, str]:
    token = uuid.uuid4().hex
    now = timezone.now()
    stale = now - timedelta(seconds=stale_seconds())
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
    updated = ApplyShard.objects.filter(claimable, pk=shard_id, job__status=JobStatus.RUNNING,
                                        job__cancel_requested=False).update(
        status=JobStatus.RUNNING, claim_token=token, worker=_worker_name(), heartbeat_at=now,
        started_at=now, attempts=F("attempts") + 1)
    if not updated:
        return None, token
    return ApplyShard.objects.select_related("job").get(pk=shard_id), token


def apply_shard_run(*, shard_id: int, inline: bool = False) -> str:
    """Claim and process one shard; returns what happened: the shard's new status (succeeded,
    failed), or why it has none (not claimable, cancelled, superseded).

    ``inline`` (the management command's in-process mode) sends nothing to the broker: the
    finalize runs here when this shard is the last one.
    """
    shard, token = _claim(shard_id)
    if shard is None:
        return "not claimable"
    job = shard.job
    mine = ApplyShard.objects.filter(pk=shard.pk, claim_token=token)
    delay = _batch_delay()

    def should_cancel() -> bool:
        return ApplyJob.objects.filter(pk=job.pk, cancel_requested=True).exists()

    def heartbeat(rows: int) -> None:
        mine.update(heartbeat_at=timezone.now(), rows=rows)
        if delay:
            time.sleep(delay)

    thresholds = Thresholds(**job.thresholds[job.level])
    try:
        heads = _load_heads(job)
        if job.source == ApplyJob.Source.EMBEDDINGS:
            result = _process_embedding_chunk(job, shard, heads, thresholds)
        else:
            result = process_shard(shard_path=shard.path, out_path=shard.out_path, embed_fn=_embed_fn(job),
                                   heads=heads, thresholds=thresholds, batch_size=job.batch_size,
                                   should_cancel=should_cancel, on_batch=heartbeat,
                                   shard_name=Path(shard.path).name, decode_threads=decode_threads())
    except ShardCancelled:
        mine.update(status=JobStatus.QUEUED, claim_token="", heartbeat_at=None)
        return "cancelled"
    except Exception as exc:  # noqa: BLE001 - any error fails the shard visibly instead of looping on redelivery
        reason = str(exc) if isinstance(exc, CorruptShardError | FileNotFoundError) else f"{type(exc).__name__}: {exc}"
        mine.update(status=JobStatus.FAILED, error=reason[:2000], finished_at=timezone.now())
        log.warning("apply: shard %s failed: %s", shard.path, reason)
        _maybe_finalize(job.id, inline=inline)
        return JobStatus.FAILED.value
    completed = mine.update(status=JobStatus.SUCCEEDED, rows=result.rows, skipped=result.skipped,
                            skipped_keys=result.skipped_keys[:100], uid_sources=result.uid_sources,
                            finished_at=timezone.now(), seconds=result.seconds, error="")
    if not completed:
        return "superseded"  # another worker re-claimed it while we were presumed dead
    if not _maybe_finalize(job.id, inline=inline) and not inline:
        apply_reap_stale(job_id=job.id)
        _watch_the_tail(job.id)
    return JobStatus.SUCCEEDED.value


def _watch_the_tail(job_id: int) -> None:
    """Nothing queued but shards still running elsewhere: schedule a one-shot check that reaps
    them if their worker dies. It fires after the stale window, so a shard whose worker is dead
    by then is stale. This covers the job watchdog's message being lost with a killed worker."""
    shards = ApplyShard.objects.filter(job_id=job_id)
    if shards.filter(status=JobStatus.QUEUED).exists():
        return
    if shards.filter(status=JobStatus.RUNNING).exists():
        from classifier.tasks.apply import apply_job_watch as task

        task.apply_async((job_id, False), countdown=stale_seconds() + 1)


def _process_embedding_chunk(job: ApplyJob, shard: ApplyShard, heads: HeadPair, thresholds: Thresholds) -> Any:
    from labeling.models import Image

    base = Path(job.embedding_dir)
    meta = json.loads((base / "meta.json").read_text())
    chunk = int(shard.path.rsplit("_", 1)[-1])
    features = np.load(base / f"{shard.path}.npy")
    ids = np.load(base / "ids.npy")[chunk * meta["chunk_size"]: chunk * meta["chunk_size"] + len(features)]
    rows = dict(Image.objects.filter(pk__in=ids.tolist()).values_list("id", "uid"))
    keys_by_id = dict(Image.objects.filter(pk__in=ids.tolist()).values_list("id", "key"))
    from classifier.apply.uids import derive_uid

    uids, keys = [], []
    for image_id in ids.tolist():
        key = keys_by_id.get(image_id) or str(image_id)
        uid = rows.get(image_id) or ""
        uids.append(derive_uid(meta={"uid": uid}, key=f"image:{image_id}")[0])
        keys.append(key)
    return process_embeddings(features=features, uids=uids, keys=keys, out_path=shard.out_path, heads=heads,
                              thresholds=thresholds, shard_name=shard.path)


def _maybe_finalize(job_id: int, *, inline: bool = False) -> bool:
    """Flip the job to finalizing exactly once, when no shard is queued or running."""
    with transaction.atomic():
        job = ApplyJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.RUNNING:
            return False
        if job.shards.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
            return False
        job.status = JobStatus.FINALIZING
        job.save(update_fields=["status"])

        def enqueue() -> None:
            from classifier.tasks.apply import apply_job_finalize as task

            task.delay(job_id)

        if not inline:
            transaction.on_commit(enqueue)
    if inline:
        apply_job_finalize(job_id=job_id)
    return True


def apply_job_finalize(*, job_id: int, again: bool = False) -> ApplyJob:
    """Counts at strict and default thresholds (Table 7) and subset id lists from the succeeded shards.

    Runs once per completion (status finalizing); ``again`` recomputes a finished job's summary.
    """
    job = ApplyJob.objects.get(pk=job_id)
    allowed = [JobStatus.FINALIZING] + ([JobStatus.SUCCEEDED, JobStatus.FAILED] if again else [])
    if job.status not in allowed:
        return job
    done = list(job.shards.filter(status=JobStatus.SUCCEEDED).order_by("index"))
    failed = list(job.shards.filter(status=JobStatus.FAILED).order_by("index"))
    out_dir = Path(job.out_dir)
    summary = summarize_scores([s.out_path for s in done], strict=Thresholds(**job.thresholds["strict"]),
                               default=Thresholds(**job.thresholds["default"]), subsets_dir=out_dir / "subsets")
    summary.update({
        "shards_done": len(done), "shards_failed": len(failed), "shards_total": job.shards_total,
        "skipped": sum(s.skipped for s in done),
        "failed_shards": [{"path": s.path, "error": s.error} for s in failed[:50]],
        "uid_sources": _merge_counts(s.uid_sources for s in done),
    })
    summary["table_markdown"] = table7_markdown(summary)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    for leftover in (out_dir / "scores").glob("*.tmp"):
        leftover.unlink(missing_ok=True)  # half-written by a killed worker
    error = (f"{len(failed)} of {job.shards_total} shards failed; the summary covers the "
             f"{len(done)} succeeded shards. First: {failed[0].path}: {failed[0].error}") if failed else ""
    job.mark_finished(JobStatus.FAILED if failed else JobStatus.SUCCEEDED, error=error, summary=summary)
    return job


def _merge_counts(dicts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in (d or {}).items():
            total[k] = total.get(k, 0) + int(v)
    return total


# ---------------------------------------------------------------- clean test sets


@transaction.atomic
def clean_testset_create(*, source: Any, spec: HeadSpec, result_name: str = "", created_by: Any = None,
                         rule: str = OWN_CLASSIFIER, enqueue: bool = True) -> CleanTestset:
    """Queue cleaning ``source`` (a test set claiming natural or rendition) into a new dataset.

    ``rule``: ``own_classifier`` (the paper's: a natural set keeps what the natural classifier
    fires on at its strict threshold, a rendition set what the rendition classifier fires on) or
    ``two_head`` (own fires and the other does not); see ``classifier.apply.clean``.
    """
    from labeling.models import Dataset

    if rule not in CLEAN_RULES:
        raise ApplyError(f"unknown cleaning rule {rule!r}; expected one of {', '.join(CLEAN_RULES)}")

    if source.expected_domain not in ("natural", "rendition"):
        raise ApplyError(f"dataset {source.name!r} claims no natural or rendition domain (expected_domain is "
                         f"{source.expected_domain!r}); set it before cleaning")
    if not source.images.exists():
        raise ApplyError(f"dataset {source.name!r} has no images")
    result_name = result_name or f"{source.name} (clean)"
    if Dataset.objects.filter(name=result_name).exists():
        raise ApplyError(f"a dataset named {result_name!r} already exists")
    clean = CleanTestset.objects.create(
        source=source, result_name=result_name, natural_run_id=spec.natural_run_id,
        rendition_run_id=spec.rendition_run_id, extractor=spec.extractor, natural_head_path=spec.natural_head_path,
        rendition_head_path=spec.rendition_head_path, thresholds=spec.strict, rule=rule, created_by=created_by)
    if enqueue:
        from classifier.tasks.apply import clean_testset_run as task

        transaction.on_commit(lambda: task.delay(clean.id))
    return clean


def clean_testset_run(*, clean_id: int, device: str = "auto", batch_size: int = 128,
                      progress: Callable[[int], None] | None = None) -> CleanTestset:
    """Score every image of the source set (frozen-extractor features for embedding-method heads, the
    fine-tuned tower for an FT head), keep its own domain at the strict thresholds.

    ``progress(n)`` is called with the number of images scored in each batch.
    """
    from labeling.models import Dataset, Image

    clean = CleanTestset.objects.select_related("source").get(pk=clean_id)
    if clean.status == JobStatus.SUCCEEDED:
        return clean
    clean.mark_running()
    try:
        images = list(clean.source.images.order_by("id"))
        fake_job = ApplyJob(extractor=clean.extractor, device=device, natural_head_path=clean.natural_head_path,
                            rendition_head_path=clean.rendition_head_path)
        heads, embed = _load_heads(fake_job), _embed_fn(fake_job)
        p_nat = np.full(len(images), -np.inf, np.float32)
        p_ren = np.full(len(images), -np.inf, np.float32)
        batch: list[Any] = []
        index: list[int] = []
        undecodable = 0

        def flush() -> None:
            if batch:
                n, r, _ = heads.score_images(list(batch), embed)
                p_nat[index], p_ren[index] = n, r
                if progress is not None:
                    progress(len(batch))
                batch.clear()
                index.clear()

        for i, image in enumerate(images):
            try:
                batch.append(decode_rgb((Path(settings.MEDIA_ROOT) / image.file).read_bytes()))
                index.append(i)
            except (OSError, ValueError, SyntaxError):
                undecodable += 1  # scored -inf: never kept, counted below
            if len(batch) >= batch_size:
                flush()
        flush()
        result = clean_testset_scores(p_natural=p_nat, p_rendition=p_ren,
                                      class_names=[im.class_name or "" for im in images],
                                      expected_domain=clean.source.expected_domain,
                                      thresholds=Thresholds(**clean.thresholds), rule=clean.rule)
        with transaction.atomic():
            target = Dataset.objects.create(
                name=clean.result_name, kind=Dataset.Kind.TESTSET, expected_domain=clean.source.expected_domain,
                description=f"{clean.source.name} cleaned ({clean.rule}): images assigned to "
                            f"{clean.source.expected_domain} at strict thresholds {clean.thresholds}",
                class_names=clean.source.class_names,
                created_by=clean.created_by)
            Image.objects.bulk_create([
                Image(dataset=target, sha256=im.sha256, file=im.file, thumb=im.thumb, width=im.width,
                      height=im.height, format=im.format, size_bytes=im.size_bytes, uid=im.uid, key=im.key,
                      source=im.source, caption=im.caption, class_name=im.class_name,
                      intended_domain=im.intended_domain, meta={**im.meta, "cleaned_from": im.id})
                for im, keep in zip(images, result.keep, strict=True) if keep
            ])
            scores_path = Path(settings.ARTIFACTS_ROOT) / "clean" / f"clean_{clean.id:06d}.parquet"
            scores_path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"image_id": [im.id for im in images], "uid": [im.uid for im in images],
                          "class_name": [im.class_name for im in images], "p_natural": p_nat,
                          "p_rendition": p_ren, "domain": result.domains.astype(str), "kept": result.keep,
                          }).to_parquet(scores_path)
            counts = {**result.table12_row(clean.source.name), "clean_name": clean.result_name, "rule": clean.rule,
                      "masked_classes": result.masked_classes, "kept_per_class": result.kept_per_class,
                      "domain_counts": result.domain_counts, "undecodable": undecodable}
            clean.mark_finished(result=target, counts=counts, scores_path=str(scores_path))
    except Exception as exc:
        clean.mark_finished(JobStatus.FAILED, error=str(exc))
        raise
    clean.refresh_from_db()
    return clean


__all__ = [
    "ApplyError", "HeadSpec", "apply_job_cancel", "apply_job_create", "apply_job_finalize", "apply_job_resume",
    "apply_job_watch", "apply_reap_stale", "apply_shard_run", "clean_testset_create", "clean_testset_run",
    "head_spec_from_runs",
]
