"""Fixed training subsets (PAPER.md, "Experiments as run"): draw, write, reshard.

Shared by ``manage.py make_subset`` (any uid list, synchronous) and the subsets page (an apply
job's output, queued on the default queue: drawing from 200M uids and resharding are CPU and disk
work, minutes to hours, never in a web request).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from classifier.apply.reshard import reshard_subset
from classifier.apply.shards import expand_shards
from classifier.apply.subsets import SubsetError, draw_subset, parse_count, uids_of_scores
from classifier.apply.uids import load_uid_list, save_uid_list
from classifier.models import ApplyJob, SubsetJob
from domainsieve.jobs import JobStatus
from labeling.ingest.paths import inside_roots, resolved_roots

POOL_SUBSETS = ("all", "natural_strict", "rendition_strict", "natural_default", "rendition_default")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def subset_pool(*, apply_job: ApplyJob, subset: str = "all") -> np.ndarray:
    """The uids to draw from: every uid the job scored (``all``: the whole pool) or one of its
    domain lists. Memory: 16 bytes a uid (3.2 GB for LAION-200M)."""
    if subset not in POOL_SUBSETS:
        raise SubsetError(f"unknown pool {subset!r}; expected one of {', '.join(POOL_SUBSETS)}")
    if subset == "all":
        return uids_of_scores(sorted((Path(apply_job.out_dir) / "scores").glob("*.parquet")))
    return load_uid_list(Path(apply_job.out_dir) / "subsets" / f"{subset}.npy")


def subsets_dir() -> Path:
    return Path(settings.ARTIFACTS_ROOT) / "subsets"


def _allowed_exclusion(path: str) -> Path:
    roots = resolved_roots([*settings.IMPORT_ROOTS, settings.ARTIFACTS_ROOT])
    resolved = inside_roots(path, roots)
    if resolved is None or resolved.suffix != ".npy" or not resolved.is_file():
        raise SubsetError(f"exclusion list {path!r} must be an existing .npy uid list inside the import roots or "
                          "ARTIFACTS_ROOT")
    return resolved


@transaction.atomic
def subset_job_create(*, name: str, apply_job: ApplyJob, n: str | int, seed: int = 0, subset: str = "all",
                      exclude_path: str = "", reshard: bool = True, created_by: Any = None,
                      enqueue: bool = True) -> SubsetJob:
    """Validate and queue a subset of ``n`` uids of ``apply_job``'s pool. Raises SubsetError with a
    message for the user. Outputs go to ``ARTIFACTS_ROOT/subsets/<name>.npy`` and ``.../<name>/``."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise SubsetError("a subset name is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if SubsetJob.objects.filter(name=name).exists():
        raise SubsetError(f"a subset named {name!r} exists already")
    if apply_job.status != JobStatus.SUCCEEDED:
        raise SubsetError(f"apply job {apply_job.id} is {apply_job.status}; draw from a finished job")
    if subset not in POOL_SUBSETS:
        raise SubsetError(f"unknown pool {subset!r}; expected one of {', '.join(POOL_SUBSETS)}")
    count = parse_count(str(n))
    if reshard and not apply_job.pattern:
        raise SubsetError(f"apply job {apply_job.id} scored stored embeddings, not shards: nothing to reshard")
    exclude = str(_allowed_exclusion(exclude_path)) if exclude_path.strip() else ""
    job = SubsetJob.objects.create(name=name, apply_job=apply_job, subset=subset, n=count, seed=int(seed),
                                   exclude_path=exclude, reshard=reshard, created_by=created_by)
    if enqueue:
        from classifier.tasks.subsets import subset_job_run as task

        transaction.on_commit(lambda: task.delay(job.id))
    return job


def subset_job_run(*, job_id: int) -> SubsetJob:
    """Draw, write and reshard. Idempotent: a finished job returns at once; a rerun after a crash
    starts its outputs afresh."""
    job = SubsetJob.objects.select_related("apply_job").get(pk=job_id)
    if job.status == JobStatus.SUCCEEDED:
        return job
    job.mark_running()
    out_list, out_dir = subsets_dir() / f"{job.name}.npy", subsets_dir() / job.name
    try:
        pool = subset_pool(apply_job=job.apply_job, subset=job.subset)
        exclude = load_uid_list(job.exclude_path) if job.exclude_path else None
        drawn = draw_subset(pool, int(job.n), seed=job.seed, exclude=exclude)
        save_uid_list(out_list, drawn)
        result: dict[str, Any] = {"pool": int(len(pool)), "drawn": int(len(drawn)), "uid_list": str(out_list)}
        if job.reshard:
            shutil.rmtree(out_dir, ignore_errors=True)
            resharded = reshard_subset(uid_list=drawn, source_shards=expand_shards(job.apply_job.pattern),
                                       out_dir=out_dir, shard_size=job.shard_size)
            result.update(resharded=resharded.samples, shards=resharded.shards, pattern=resharded.pattern)
    except Exception as exc:
        job.mark_finished(JobStatus.FAILED, error=str(exc))
        raise
    job.mark_finished(result=result)
    job.refresh_from_db()
    return job
