"""Services (writes): datasets and image imports.

An import is listed, sampled and deduplicated here; decoding, validation and file writes happen
in ``labeling.ingest`` worker processes. Rows are inserted in bulk only for items whose file and
thumbnail are already in place, so a row never exists without both.

``uid`` rule: the source's uid where it gives one (shard json, parquet, manifest column); else
``labeling.ingest.uids.derive_uid``: md5 of the url, else of the webdataset key, else of the
source path, the same rule apply jobs use, so ids from an import and from an apply job agree.
"""
from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from domainsieve.jobs import JobStatus
from labeling.classnames import CLASS_SET_CHOICES, ClassNameError, ClassSpace, recognize
from labeling.domains import domain_from_any
from labeling.ingest import (
    FORMATS,
    DecodeConfig,
    ImportSourceError,
    Item,
    Result,
    check_source,
    list_source,
    resolved_roots,
    run_items,
    sample_items,
)
from labeling.ingest.paths import inside_roots
from labeling.ingest.uids import derive_uid
from labeling.models import Dataset, Image, ImportJob

logger = logging.getLogger(__name__)

FLUSH_ROWS = 500  # rows per bulk insert
FLUSH_SECONDS = 1.0  # and at least this often, so polled progress moves


def dataset_create(*, name: str, kind: str = Dataset.Kind.POOL, expected_domain: str = "",
                   description: str = "", user: Any = None) -> Dataset:
    """Create a dataset. Raises ValidationError on a taken name, unknown kind or domain."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A dataset needs a name."})
    if kind not in Dataset.Kind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; expected pool or testset."})
    if expected_domain:
        try:
            expected_domain = domain_from_any(expected_domain)
        except ValueError as exc:
            raise ValidationError({"expected_domain": str(exc)}) from None
    if Dataset.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A dataset named {name!r} exists already."})
    return Dataset.objects.create(name=name, kind=kind, expected_domain=expected_domain,
                                  description=description, created_by=user)


def import_create(*, dataset: Dataset, source: str, format: str = "auto", sample: int | None = None,
                  seed: int = 0, class_names: str = "auto", user: Any = None, enqueue: bool = True) -> ImportJob:
    """Record an import job after checking the source lies inside settings.IMPORT_ROOTS.

    ``class_names`` picks the class-name set that maps folder keys to prompt names
    (``labeling.classnames``): ``auto`` recognizes WordNet ids, ImageNet-V2 numbers, ObjectNet
    and DomainNet; ``none`` keeps folder names as names. With ``enqueue`` the Celery task runs it
    once this transaction commits.
    """
    if class_names not in CLASS_SET_CHOICES:
        raise ValidationError({"class_names": f"Unknown class-name set {class_names!r}; expected one of "
                                              f"{', '.join(CLASS_SET_CHOICES)}."})
    if format not in FORMATS:
        raise ValidationError({"format": f"Unknown format {format!r}; expected one of {', '.join(FORMATS)}."})
    if sample is not None and sample < 1:
        raise ValidationError({"sample": "sample must be a positive number of images."})
    try:
        check_source(source, resolved_roots(settings.IMPORT_ROOTS))
    except ImportSourceError as exc:
        raise ValidationError({"source": str(exc)}) from None
    job = ImportJob.objects.create(dataset=dataset, source=source.strip(), format=format,
                                   options={"sample": sample, "seed": seed, "class_names": class_names},
                                   created_by=user)
    if enqueue:
        from labeling.tasks.datasets import import_images_task

        transaction.on_commit(lambda: import_images_task.delay(job.id))
    return job


class _Run:
    """Counters and output files of one import run."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.folder = Path(settings.ARTIFACTS_ROOT) / "imports" / str(job.id)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rejects_file = (self.folder / "rejects.csv").open("w", newline="")
        self.rejects = csv.writer(self.rejects_file)
        self.rejects.writerow(["source", "reason"])
        self.dups_file = (self.folder / "duplicates.csv").open("w", newline="")
        self.dups = csv.writer(self.dups_file)
        self.dups.writerow(["source", "sha256", "duplicate_of"])

    def reject(self, source: str, reason: str) -> None:
        self.rejects.writerow([source, reason])
        self.job.rejected += 1

    def close(self) -> None:
        self.rejects_file.close()
        self.dups_file.close()


def import_run(*, job: ImportJob, progress: Callable[[int, int], None] | None = None) -> ImportJob:
    """Run an import synchronously in this process (plus a pool of settings.IMPORT_WORKERS).

    Idempotent: a succeeded job returns at once; items whose source is already in the dataset
    are counted as duplicates without being read, so a re-run adds nothing and is fast. Progress
    and counts are saved on the job as it goes. A wholly unusable source (nothing listed, or
    every item rejected) ends FAILED with ``error`` set; per-item problems go to rejects.csv.
    """
    if job.status == JobStatus.SUCCEEDED:
        return job
    run = _Run(job)
    job.status, job.started_at, job.finished_at, job.error = JobStatus.RUNNING, timezone.now(), None, ""
    job.total = job.done = job.imported = job.duplicates = job.rejected = job.cross_dataset_duplicates = 0
    job.rejects_path = str(run.folder / "rejects.csv")
    job.save()
    try:
        _import(job, run, progress)
    except ImportSourceError as exc:
        job.status, job.error = JobStatus.FAILED, str(exc)
    except Exception as exc:
        job.status, job.error = JobStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        job.finished_at = timezone.now()
        job.save()
        raise
    finally:
        run.close()
    job.finished_at = timezone.now()
    job.save()
    logger.info("import %s of %s: %s", job.id, job.source, job.summary())
    return job


def _import(job: ImportJob, run: _Run, progress: Callable[[int, int], None] | None) -> None:
    options = job.options or {}
    listing = list_source(job.source, job.format, resolved_roots(settings.IMPORT_ROOTS))
    items = sample_items(listing.items, options.get("sample"), int(options.get("seed") or 0))
    job.total = len(items) + len(listing.problems)
    if job.total == 0:
        raise ImportSourceError(f"nothing to import: no items found in {job.source} (format {listing.format})")
    job.options = {**options, "detected_format": listing.format,
                   "class_names_applied": _apply_class_names(job, listing.format, listing.items)}
    for source, reason in listing.problems:
        run.reject(source, reason)
    present = _sources_present(job.dataset, items)
    todo = [item for item in items if item.source not in present]
    job.duplicates += len(items) - len(todo)
    job.done = job.total - len(todo)
    job.save()
    if progress:
        progress(job.done, job.total)

    cfg = DecodeConfig(media_root=str(settings.MEDIA_ROOT), thumbnail_size=settings.THUMBNAIL_SIZE,
                       max_image_pixels=settings.MAX_IMAGE_PIXELS, max_bytes=settings.IMPORT_MAX_BYTES,
                       roots=tuple(str(root) for root in resolved_roots(settings.IMPORT_ROOTS)))
    pending: list[Result] = []
    last_flush = time.monotonic()
    for result in run_items(todo, cfg, workers=settings.IMPORT_WORKERS):
        if result.ok:
            pending.append(result)
        else:
            run.reject(result.item.source, result.reason)
        job.done += 1
        if len(pending) >= FLUSH_ROWS or time.monotonic() - last_flush > FLUSH_SECONDS:
            _flush(job, run, pending)
            pending, last_flush = [], time.monotonic()
        if progress:
            progress(job.done, job.total)
    _flush(job, run, pending)
    if job.imported + job.duplicates == 0:
        raise ImportSourceError(f"every item was rejected ({job.rejected}); see {job.rejects_path}")
    job.status = JobStatus.SUCCEEDED


def _apply_class_names(job: ImportJob, format: str, items: Sequence[Item]) -> str:
    """Recognize the class-name set of the listed folders and record it on the dataset; returns
    the set's name ("" when folder names are names already). A dataset keeps the first set it got;
    a later import naming a different one fails rather than mixing label spaces."""
    keys = {item.class_name for item in items if item.class_name}
    labels = {item.class_name: int(item.meta["label"]) for item in items
              if item.class_name and isinstance(item.meta.get("label"), int)}
    root = Path(job.source.split("{")[0])
    root = root if root.is_dir() else root.parent
    # ObjectNet's mappings/ sit next to its images/ folder: look there and one level up, inside the roots only.
    roots = resolved_roots(settings.IMPORT_ROOTS)
    search = [d for d in (root, root.parent) if inside_roots(d, roots) is not None]
    try:
        space = recognize(keys, requested=(job.options or {}).get("class_names", "auto"), hint=job.dataset.name,
                          format=format, search=search, labels=labels)
    except ClassNameError as exc:
        raise ImportSourceError(str(exc)) from None
    if space is None:
        return ""
    dataset = job.dataset
    current = ClassSpace.from_json(dataset.class_names) if dataset.class_names else None
    if current is not None and current.name != space.name:
        raise ImportSourceError(f"dataset {dataset.name} is named with class set {current.name}; "
                                f"these folders fit {space.name}")
    if current is not None and space.name == "domainnet":
        space = ClassSpace("domainnet", *_merged(current, space))
    if current != space:
        dataset.class_names = space.as_json()
        dataset.save(update_fields=["class_names"])
    return space.name


def _merged(a: ClassSpace, b: ClassSpace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names = {**a.name_of(), **b.name_of()}
    keys = tuple(dict.fromkeys([*a.keys, *b.keys]))
    return keys, tuple(names[k] for k in keys)


def _sources_present(dataset: Dataset, items: Sequence[Item]) -> set[str]:
    """Sources of ``items`` that already have a row in ``dataset``: one streamed scan."""
    wanted = {item.source for item in items}
    rows = Image.objects.filter(dataset=dataset).values_list("source", flat=True).iterator(chunk_size=5000)
    return {source for source in rows if source in wanted}


def _flush(job: ImportJob, run: _Run, results: Iterable[Result]) -> None:
    """Insert rows for stored results (dedup by sha256 in the dataset) and save progress."""
    results = list(results)
    if results:
        shas = {r.sha256 for r in results}
        taken = set(Image.objects.filter(dataset=job.dataset, sha256__in=shas).values_list("sha256", flat=True))
        rows = []
        for result in results:
            if result.sha256 in taken:
                job.duplicates += 1
                run.dups.writerow([result.item.source, result.sha256, "this dataset"])
                continue
            taken.add(result.sha256)
            rows.append(_row(job.dataset, result))
        # ignore_conflicts: a concurrent import of the same dataset may have won the race.
        Image.objects.bulk_create(rows, ignore_conflicts=True, batch_size=FLUSH_ROWS)
        job.imported += len(rows)
        _note_cross_dataset(job, run, rows)
    ImportJob.objects.filter(pk=job.pk).update(
        total=job.total, done=job.done, imported=job.imported, duplicates=job.duplicates,
        rejected=job.rejected, cross_dataset_duplicates=job.cross_dataset_duplicates)


def _note_cross_dataset(job: ImportJob, run: _Run, rows: Sequence[Image]) -> None:
    if not rows:
        return
    by_sha = {row.sha256: row.source for row in rows}
    others: dict[str, list[str]] = {}
    pairs = (Image.objects.filter(sha256__in=by_sha).exclude(dataset=job.dataset)
             .values_list("sha256", "dataset__name").distinct())
    for sha, name in pairs:
        others.setdefault(sha, []).append(name)
    job.cross_dataset_duplicates += len(others)
    for sha, names in others.items():
        run.dups.writerow([by_sha[sha], sha, "dataset " + ", ".join(sorted(names))])


def _text(value: str) -> str:
    """Web data carries NUL bytes and undecodable file names; PostgreSQL text takes neither."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def _row(dataset: Dataset, result: Result) -> Image:
    item = result.item
    meta = dict(item.meta)
    if item.url:
        meta["url"] = item.url
    meta = json.loads(_text(json.dumps(meta, default=str)).replace("\\u0000", ""))
    return Image(
        dataset=dataset, sha256=result.sha256, file=result.file, thumb=result.thumb,
        width=result.width, height=result.height, format=result.format, size_bytes=result.size_bytes,
        uid=_text(item.uid or derived_uid(item))[:64], key=_text(item.key)[:200], source=_text(item.source),
        caption=_text(item.caption), class_name=_text(item.class_name)[:200], intended_domain=item.domain,
        meta=meta,
    )


def derived_uid(item: Item) -> str:
    """uid for items whose source gives none (labeling.ingest.uids: md5 of url, else key, else source)."""
    return derive_uid(url=item.url or "", key=item.key or "", source=item.source)
