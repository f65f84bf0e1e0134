"""Reshard jobs: an apply job's subset (a sorted uid list) written as webdataset shards by a
``default`` worker, with progress in the row, so a researcher turns "LAION-Natural" into
``--train-data`` from the browser (the ``reshard`` command does the same from a shell)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.shortcuts import get_object_or_404

from classifier.apply.reshard import reshard_subset
from classifier.apply.shards import ShardPatternError, expand_shards
from classifier.apply.uids import UidError, load_uid_list
from classifier.models import ApplyJob, ReshardJob
from classifier.services.apply import ApplyError
from domainsieve.jobs import JobStatus

MAX_SHARD_SIZE = 1_000_000


@transaction.atomic
def reshard_job_create(*, apply_job: ApplyJob, subset: str, shard_size: int = 10_000,
                       created_by: Any = None) -> ReshardJob:
    """Queue the shards of one subset of a finished shard-input apply job. A subset already
    resharded (or being resharded) is returned as it is, not written twice; a failed one is
    retried. Raises ApplyError with the reason for anything that cannot work."""
    job = ApplyJob.objects.select_for_update().get(pk=apply_job.pk)
    if job.status != JobStatus.SUCCEEDED:
        raise ApplyError(f"apply job {job.id} is {job.status}; reshard a finished job")
    if job.source != ApplyJob.Source.SHARDS or not job.pattern:
        raise ApplyError(f"apply job {job.id} scored stored embeddings, not shards: there are no images to copy")
    subsets = (job.summary or {}).get("subsets") or {}
    if subset not in subsets:
        raise ApplyError(f"apply job {job.id} has no subset {subset!r}; it has {', '.join(sorted(subsets)) or 'none'}")
    if not 1 <= int(shard_size) <= MAX_SHARD_SIZE:
        raise ApplyError(f"shard size must be between 1 and {MAX_SHARD_SIZE:,}")
    existing = ReshardJob.objects.filter(apply_job=job, subset=subset).first()
    if existing is not None and existing.status != JobStatus.FAILED:
        return existing
    out_dir = Path(job.out_dir or Path(settings.ARTIFACTS_ROOT) / "apply" / f"job_{job.id:06d}") / "shards" / subset
    reshard, _ = ReshardJob.objects.update_or_create(
        apply_job=job, subset=subset,
        defaults={"shard_size": int(shard_size), "out_dir": str(out_dir), "status": JobStatus.QUEUED,
                  "done": 0, "total": 0, "samples": 0, "shards": 0, "pattern": "", "error": "",
                  "created_by": created_by, "started_at": None, "finished_at": None})
    transaction.on_commit(lambda: _enqueue(reshard.id))
    return reshard


def _enqueue(reshard_id: int) -> None:
    from classifier.tasks.apply import reshard_run

    # Disk work, no GPU: the default queue, whatever the classifier.tasks.* route says.
    reshard_run.apply_async((reshard_id,), queue="default")


def reshard_job_run(*, reshard_id: int) -> ReshardJob:
    """Write the shards. Idempotent: a finished job is left alone; a redelivered one starts over in
    its own folder (which only this job writes)."""
    reshard = ReshardJob.objects.select_related("apply_job").get(pk=reshard_id)
    if reshard.status == JobStatus.SUCCEEDED:
        return reshard
    job = reshard.apply_job
    try:
        ids = load_uid_list(job.summary["subsets"][reshard.subset]["path"])
        sources = expand_shards(job.pattern)
    except (UidError, ShardPatternError, KeyError, OSError) as exc:
        return _fail(reshard, f"cannot read the subset or the job's shards: {exc}")
    out = Path(reshard.out_dir)
    if out.exists():
        shutil.rmtree(out)
    reshard.mark_running(total=len(sources), done=0)

    def advance(n: int) -> None:
        ReshardJob.objects.filter(pk=reshard.pk).update(done=F("done") + n)

    try:
        result = reshard_subset(uid_list=ids, source_shards=sources, out_dir=out, shard_size=reshard.shard_size,
                                progress=advance)
    except (ValueError, OSError, FileExistsError) as exc:
        return _fail(reshard, str(exc))
    reshard.mark_finished(samples=result.samples, shards=result.shards, pattern=result.pattern)
    reshard.refresh_from_db()
    return reshard


def _fail(reshard: ReshardJob, error: str) -> ReshardJob:
    reshard.mark_finished(JobStatus.FAILED, error=error)
    reshard.refresh_from_db()
    return reshard


def reshard_get(*, reshard_id: int) -> ReshardJob:
    """A reshard job (lab-wide like apply jobs; callers check the researcher role), or Http404."""
    return get_object_or_404(ReshardJob.objects.select_related("apply_job"), pk=reshard_id)


def resharded_shard_sets() -> list[ReshardJob]:
    """Finished reshards that hold shards, newest first: what the Training form offers."""
    return list(ReshardJob.objects.filter(status=JobStatus.SUCCEEDED, shards__gt=0)
                .select_related("apply_job").order_by("-id")[:100])
