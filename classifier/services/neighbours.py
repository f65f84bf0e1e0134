"""Services (writes) for nearest-neighbour work: indexes, dedup runs, contamination reports, and
campaigns built from neighbours. The math lives in ``classifier.ml.neighbours`` (no Django).

Jobs are created in the web process or a command, validated at once (a bad threshold, embedding
sets of two extractors, a test set embedded by another extractor than the index: a
``NeighbourInputError`` with the reason, so a 400 or a CLI error, never a failed job), and run on
the ``gpu`` queue (FAISS uses a GPU where the worker has one; on CPU it is the same queue, sized
as in docs/operations.md). Each execute service is idempotent: an index build resumes from its
shard files, and a rerun of a dedup or report replaces its outputs.

Row identities: an index directory holds ``rows.npz`` beside the FAISS files, aligned with the
index's global rows: ``image_ids`` (labeling Image ids), ``uids`` (DataComp ``u8,u8``) and
``pixels`` (width x height, for the representative rule).
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from classifier.apply.uids import derive_uid, uids_to_array
from classifier.ml.neighbours import (
    NeighbourIndex,
    NeighbourInputError,
    VectorStore,
    build_index,
    check_threshold,
    dedup_by_threshold,
    near_duplicate_edges,
    plan_index,
    save_uid_list,
    uids_from_array,
)
from classifier.models import ApplyJob, EmbeddingSet
from classifier.models.neighbours import ContaminationMatch, ContaminationReport, DedupRun, VectorIndex
from domainsieve.jobs import JobStatus
from labeling.models import Dataset, Image

Progress = Callable[[int, int], None] | None
MAX_K = 256
REPRESENTATIVE_RULE = "most pixels, then lowest uid"

__all__ = [
    "NeighbourInputError", "campaign_create_from_neighbours", "contamination_report_create",
    "contamination_report_execute", "dedup_run_create", "dedup_run_execute", "image_embedding",
    "vector_index_build", "vector_index_create", "vector_index_resume",
]


def _artifacts() -> Path:
    return Path(settings.ARTIFACTS_ROOT)


def _abs(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else _artifacts() / p


def _check_k(k: Any) -> int:
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise NeighbourInputError(f"k must be a whole number, not {k!r}") from None
    if not 1 <= value <= MAX_K:
        raise NeighbourInputError(f"k must lie in [1, {MAX_K}], not {value}")
    return value


def _chunk_paths(embedding_set: EmbeddingSet) -> list[Path]:
    from classifier.ml.embed import read_meta

    base = _abs(embedding_set.path)
    try:
        meta = read_meta(base)
    except FileNotFoundError as exc:
        raise NeighbourInputError(str(exc)) from exc
    n_chunks = (meta["count"] + meta["chunk_size"] - 1) // meta["chunk_size"]
    return [base / f"chunk_{i:05d}.npy" for i in range(n_chunks)]


# ---------------------------------------------------------------- indexes


def _index_embedding_sets(index: VectorIndex) -> list[EmbeddingSet]:
    if index.source == VectorIndex.Source.APPLY_JOB:
        return list(EmbeddingSet.objects.filter(pk=index.apply_job.embedding_set_id)) if index.apply_job else []
    return list(index.embedding_sets.order_by("id"))


@transaction.atomic
def vector_index_create(*, name: str = "", embedding_sets: Sequence[EmbeddingSet] = (), apply_job: ApplyJob | None = None,
                        factory: str = "", created_by: Any = None, enqueue: bool = True) -> VectorIndex:
    """Record an index over ``embedding_sets`` (or ``apply_job``'s embeddings) and queue its build.

    Refused: no source or both; a set not yet embedded; sets of different extractors (their
    cosines are not comparable); an apply job that scored webdataset shards (it keeps scores,
    not features: embed the images, or apply the job to an embedding set); an index type outside
    the allowlist.
    """
    embedding_sets = list(embedding_sets)
    if bool(embedding_sets) == bool(apply_job):
        raise NeighbourInputError("give exactly one source: embedding sets or an apply job")
    if apply_job is not None:
        if apply_job.source != ApplyJob.Source.EMBEDDINGS or not apply_job.embedding_set_id:
            raise NeighbourInputError(f"apply job {apply_job.id} scored webdataset shards and stored no features; "
                                      "index an embedding set instead (or an apply job run on one)")
        embedding_sets = list(EmbeddingSet.objects.filter(pk=apply_job.embedding_set_id))
        if not embedding_sets:
            raise NeighbourInputError(f"apply job {apply_job.id}'s embedding set no longer exists")
    not_ready = [s for s in embedding_sets if s.status != JobStatus.SUCCEEDED]
    if not_ready:
        raise NeighbourInputError(f"embedding set {not_ready[0].id} is {not_ready[0].status}; wait until it succeeds")
    extractors = sorted({s.extractor for s in embedding_sets})
    if len(extractors) > 1:
        raise NeighbourInputError(f"the embedding sets come from different extractors ({', '.join(extractors)}); "
                                  "an index holds one extractor's embeddings")
    rows = sum(s.count for s in embedding_sets)
    if factory:
        plan_index(max(rows, 1 << 20), max(s.dim for s in embedding_sets) or 512, factory=factory)  # allowlist
    index = VectorIndex.objects.create(
        name=name or f"index of {', '.join(s.dataset.name for s in embedding_sets)}"[:200],
        extractor=extractors[0], factory=factory, created_by=created_by, total=rows,
        source=VectorIndex.Source.APPLY_JOB if apply_job else VectorIndex.Source.EMBEDDING_SETS, apply_job=apply_job)
    index.path = f"neighbours/index_{index.id:06d}"
    index.save(update_fields=["path"])
    if apply_job is None:
        index.embedding_sets.set(embedding_sets)
    if enqueue:
        transaction.on_commit(lambda: _enqueue_build(index.id))
    return index


def vector_index_for_datasets(*, datasets: Sequence[Dataset], extractor: str, factory: str = "",
                              created_by: Any = None, enqueue: bool = True) -> VectorIndex:
    """The newest index (not failed) over exactly these datasets' ``extractor`` embeddings, else a new
    one. Refuses a dataset with no finished embeddings under ``extractor``, naming what it has."""
    datasets = list(datasets)
    if not datasets:
        raise NeighbourInputError("choose at least one pool dataset")
    sets = []
    for dataset in datasets:
        found = EmbeddingSet.objects.filter(dataset=dataset, extractor=extractor, status=JobStatus.SUCCEEDED).first()
        if found is None:
            others = sorted(EmbeddingSet.objects.filter(dataset=dataset, status=JobStatus.SUCCEEDED)
                            .values_list("extractor", flat=True))
            have = f"it has {', '.join(others)} embeddings" if others else "it has none"
            raise NeighbourInputError(f"dataset {dataset.name} has no finished {extractor} embeddings ({have}); "
                                      f"run `manage.py embed` first")
        sets.append(found)
    wanted = sorted(s.id for s in sets)
    candidates = VectorIndex.objects.filter(source=VectorIndex.Source.EMBEDDING_SETS, extractor=extractor)
    if factory:
        candidates = candidates.filter(factory=factory)
    for index in candidates.exclude(status=JobStatus.FAILED).prefetch_related("embedding_sets"):
        if sorted(s.id for s in index.embedding_sets.all()) == wanted:
            return index
    return vector_index_create(embedding_sets=sets, factory=factory, created_by=created_by, enqueue=enqueue)


def _enqueue_build(index_id: int) -> None:
    from classifier.tasks.neighbours import vector_index_build_task

    vector_index_build_task.delay(index_id)


def vector_index_resume(*, index: VectorIndex) -> VectorIndex:
    """Queue a failed (or stuck) build again; finished shards are kept."""
    if index.status == JobStatus.SUCCEEDED:
        return index
    VectorIndex.objects.filter(pk=index.pk).update(status=JobStatus.QUEUED, error="")
    transaction.on_commit(lambda: _enqueue_build(index.id))
    index.refresh_from_db()
    return index


def _image_uid(image_id: int, uid: str) -> str:
    return derive_uid(meta={"uid": uid}, key=f"image:{image_id}")[0]


def _write_row_table(index: VectorIndex, sets: list[EmbeddingSet], out: Path) -> None:
    path = out / "rows.npz"
    if path.exists():
        return
    image_ids = np.concatenate([np.load(_abs(s.path) / "ids.npy") for s in sets]) if sets else np.zeros(0, np.int64)
    info = {i: (uid, w * h) for i, uid, w, h in
            Image.objects.filter(pk__in=image_ids.tolist()).values_list("id", "uid", "width", "height")}
    uids = [_image_uid(int(i), info.get(int(i), ("", 0))[0]) for i in image_ids.tolist()]
    pixels = np.array([info.get(int(i), ("", 0))[1] for i in image_ids.tolist()], dtype=np.int64)
    tmp = out / "rows.tmp.npz"
    np.savez(tmp, image_ids=image_ids.astype(np.int64), uids=uids_to_array(uids), pixels=pixels)
    tmp.replace(path)


def load_row_table(index: VectorIndex) -> dict[str, np.ndarray]:
    with np.load(_abs(index.path) / "rows.npz") as table:
        return {k: table[k] for k in table.files}


def vector_index_build(*, index_id: int, progress: Progress = None) -> VectorIndex:
    """Build (or resume) the index's FAISS files; records plan, size, memory and build time.

    Cost: one pass over the embeddings to train (a sample) and one to add, one part in memory at
    a time; see ``classifier.ml.neighbours.index`` for memory per vector.
    """
    index = VectorIndex.objects.get(pk=index_id)
    if index.status == JobStatus.SUCCEEDED:
        return index
    index.mark_running()
    out = _abs(index.path)
    out.mkdir(parents=True, exist_ok=True)

    def report(done: int, total: int) -> None:
        VectorIndex.objects.filter(pk=index.pk).update(done=done, total=total)
        if progress is not None:
            progress(done, total)

    try:
        sets = _index_embedding_sets(index)
        paths = [p for s in sets for p in _chunk_paths(s)]
        store = VectorStore(paths)
        _write_row_table(index, sets, out)
        plan = plan_index(store.n, store.dim or 1, factory=index.factory or None) if store.n else plan_index(0, 1)
        result = build_index(store, out, plan=plan, extractor=index.extractor, progress=report)
    except Exception as exc:
        index.mark_finished(JobStatus.FAILED, error=str(exc))
        raise
    index.mark_finished(
        done=store.n, total=store.n, rows=store.n,
        size=result["ntotal"], factory=result["factory"], index_bytes=result["bytes"],
        peak_memory_bytes=result["peak_rss_bytes"], build_seconds=result["build_seconds"],
        parameters={k: result[k] for k in ("nlist", "nprobe", "rerank", "train_size", "shards", "dim")})
    index.refresh_from_db()
    return index


def open_index(index: VectorIndex) -> NeighbourIndex:
    if index.status != JobStatus.SUCCEEDED:
        raise NeighbourInputError(f"index {index.id} is {index.status}; wait until its build succeeds")
    return NeighbourIndex.load(_abs(index.path))


# ---------------------------------------------------------------- dedup


@transaction.atomic
def dedup_run_create(*, index: VectorIndex, thresholds: Sequence[Any], k: Any = 16, created_by: Any = None,
                     enqueue: bool = True) -> DedupRun:
    """Queue near-duplicate removal over ``index``'s rows at each cosine threshold in [0, 1]."""
    values = sorted({check_threshold(t) for t in thresholds})
    if not values:
        raise NeighbourInputError("give at least one threshold")
    if index.status != JobStatus.SUCCEEDED:
        raise NeighbourInputError(f"index {index.id} is {index.status}; wait until its build succeeds")
    run = DedupRun.objects.create(index=index, thresholds=values, k=_check_k(k), rule=REPRESENTATIVE_RULE,
                                  created_by=created_by, total=index.rows)
    run.out_dir = f"neighbours/dedup_{run.id:06d}"
    run.save(update_fields=["out_dir"])
    if enqueue:
        from classifier.tasks.neighbours import dedup_run_task

        transaction.on_commit(lambda: dedup_run_task.delay(run.id))
    return run


def representative_rank(table: dict[str, np.ndarray]) -> np.ndarray:
    """Rank of each row as its cluster's representative (0 is best): most pixels, then lowest uid."""
    uids = table["uids"]
    order = np.lexsort((uids["f1"], uids["f0"], -table["pixels"]))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank


def dedup_run_execute(*, run_id: int, progress: Progress = None) -> DedupRun:
    """Cluster and keep one representative per cluster; writes per threshold ``keep_t<t>.npy`` (the
    kept uids, sorted, DataComp style) and ``removed_t<t>.npy``, plus ``counts.json``.

    Cost: one k-NN search of every row (the index's q/s, docs/benchmarks.md) and edges in memory.
    """
    run = DedupRun.objects.select_related("index").get(pk=run_id)
    run.mark_running(done=0)

    def report(done: int, total: int) -> None:
        DedupRun.objects.filter(pk=run.pk).update(done=done, total=total)
        if progress is not None:
            progress(done, total)

    try:
        neighbours = open_index(run.index)
        table = load_row_table(run.index)
        n = len(table["image_ids"])
        edges = near_duplicate_edges(neighbours, threshold=min(run.thresholds), k=run.k, progress=report)
        results = dedup_by_threshold(n, edges, run.thresholds, representative_rank(table))
        out = _abs(run.out_dir)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        counts = []
        for result in results:
            tag = f"{result.threshold:.4f}".rstrip("0").rstrip(".")
            keep_path = save_uid_list(out / f"keep_t{tag}.npy", table["uids"][result.keep])
            removed_path = save_uid_list(out / f"removed_t{tag}.npy", table["uids"][~result.keep])
            counts.append({**result.counts(), "keep_path": str(keep_path.relative_to(_artifacts())),
                           "removed_path": str(removed_path.relative_to(_artifacts()))})
        (out / "counts.json").write_text(json.dumps({"rule": run.rule, "k": run.k, "counts": counts}, indent=1))
    except Exception as exc:
        run.mark_finished(JobStatus.FAILED, error=str(exc))
        raise
    run.mark_finished(counts=counts, done=n, total=n)
    run.refresh_from_db()
    return run


# ---------------------------------------------------------------- contamination


def _testset_embedding(dataset: Dataset, extractor: str) -> EmbeddingSet | None:
    """The dataset's finished embeddings under ``extractor``; None for an empty dataset.

    Refuses a dataset with images but no embeddings under ``extractor``, naming what it has.
    """
    found = EmbeddingSet.objects.filter(dataset=dataset, extractor=extractor, status=JobStatus.SUCCEEDED).first()
    if found is not None or not Image.objects.filter(dataset=dataset).exists():
        return found
    others = sorted(EmbeddingSet.objects.filter(dataset=dataset, status=JobStatus.SUCCEEDED)
                    .values_list("extractor", flat=True))
    if others:
        raise NeighbourInputError(f"extractor mismatch: test set {dataset.name} is embedded with {', '.join(others)}; "
                                  f"the index holds {extractor} embeddings; embed it with {extractor}")
    raise NeighbourInputError(f"test set {dataset.name} has no embeddings; embed it with {extractor} first")


@transaction.atomic
def contamination_report_create(*, index: VectorIndex, testsets: Sequence[Dataset], threshold: Any, k: Any = 5,
                                extractor: str = "", created_by: Any = None, enqueue: bool = True) -> ContaminationReport:
    """Queue a report of the test sets' near twins in ``index``'s pool.

    ``extractor``, when given, names the embeddings to query with; another extractor than the
    index's is refused with the reason, as is a test set embedded only by another extractor.
    """
    threshold = check_threshold(threshold)
    k = _check_k(k)
    testsets = list(testsets)
    if not testsets:
        raise NeighbourInputError("choose at least one test set")
    if index.status != JobStatus.SUCCEEDED:
        raise NeighbourInputError(f"index {index.id} is {index.status}; wait until its build succeeds")
    if extractor and extractor != index.extractor:
        raise NeighbourInputError(f"extractor mismatch: the index holds {index.extractor} embeddings, the query "
                                  f"asks for {extractor}; build an index from {extractor} embeddings")
    for dataset in testsets:
        _testset_embedding(dataset, index.extractor)
    report = ContaminationReport.objects.create(index=index, threshold=threshold, k=k, created_by=created_by,
                                                total=Image.objects.filter(dataset__in=testsets).count())
    report.testsets.set(testsets)
    if enqueue:
        from classifier.tasks.neighbours import contamination_report_task

        transaction.on_commit(lambda: contamination_report_task.delay(report.id))
    return report


def _twin_summary(dataset: Dataset, images: int, best: np.ndarray, threshold: float) -> dict[str, Any]:
    twins = best[best >= threshold]
    edges = np.linspace(threshold, 1.0, 6)
    hist = np.histogram(twins, bins=edges)[0].tolist() if twins.size else [0] * 5
    return {
        "dataset": dataset.id, "name": dataset.name, "images": images, "embedded": int(best.size),
        "with_twin": int(twins.size), "fraction": round(twins.size / images, 4) if images else 0.0,
        "similarity": ({"min": round(float(twins.min()), 4), "median": round(float(np.median(twins)), 4),
                        "max": round(float(twins.max()), 4)} if twins.size else None),
        "histogram": {"edges": [round(float(e), 4) for e in edges], "counts": hist},
    }


def contamination_report_execute(*, report_id: int, progress: Progress = None) -> ContaminationReport:
    """Search every test image in the index; store matches >= threshold (the test image itself, when
    it is in the pool too, excluded), one summary per test set, and the exclusion uid list."""
    report = ContaminationReport.objects.select_related("index").get(pk=report_id)
    report.mark_running(done=0)
    try:
        neighbours = open_index(report.index)
        table = load_row_table(report.index)
        summary, excluded, done = [], [], 0
        report.matches.all().delete()
        for dataset in report.testsets.order_by("name"):
            images = Image.objects.filter(dataset=dataset).count()
            embedding_set = _testset_embedding(dataset, report.index.extractor)
            best = np.zeros(0, np.float32)
            if embedding_set is not None:
                from classifier.ml.embed import load_embeddings

                ids, features = load_embeddings(_abs(embedding_set.path))
                valid = np.linalg.norm(features.astype(np.float32), axis=1) > 0
                ids, features = ids[valid], features[valid]
                sims, rows = neighbours.search(features, report.k + 1)
                pool_images = np.where(rows >= 0, table["image_ids"][np.maximum(rows, 0)], -1)
                sims = np.where(pool_images == ids[:, None], -1.0, sims)  # the test image itself
                best = sims.max(axis=1) if sims.size else best
                hit = (sims >= report.threshold) & (rows >= 0)
                # Images deleted since the index or the embeddings were built keep their uid, not a link.
                alive = set(Image.objects.filter(id__in=[*ids[hit.any(axis=1)].tolist(),
                                                         *pool_images[hit].tolist()]).values_list("id", flat=True))
                matches = []
                for q, r in zip(*np.nonzero(hit), strict=True):
                    rank = int(np.count_nonzero(hit[q, :r])) + 1
                    if rank > report.k or int(ids[q]) not in alive:
                        continue
                    row = int(rows[q, r])
                    pool_image = int(pool_images[q, r])
                    matches.append(ContaminationMatch(
                        report=report, test_image_id=int(ids[q]),
                        pool_image_id=pool_image if pool_image in alive else None,
                        pool_row=row, pool_uid=uids_from_array(table["uids"][row:row + 1])[0],
                        similarity=float(sims[q, r]), rank=rank))
                    excluded.append(row)
                ContaminationMatch.objects.bulk_create(matches, batch_size=2000)
            summary.append(_twin_summary(dataset, images, best, report.threshold))
            done += images
            ContaminationReport.objects.filter(pk=report.pk).update(done=done)
            if progress is not None:
                progress(done, report.total)
        path = f"neighbours/contamination_{report.id:06d}/exclude_uids.npy"
        excluded_uids = np.unique(table["uids"][np.asarray(sorted(set(excluded)), dtype=np.int64)])
        save_uid_list(_abs(path), excluded_uids)
    except Exception as exc:
        report.mark_finished(JobStatus.FAILED, error=str(exc))
        raise
    report.mark_finished(summary=summary, exclusion_path=path, exclusion_count=int(excluded_uids.size))
    report.refresh_from_db()
    return report


def contamination_exclusion_path(*, report: ContaminationReport) -> Path:
    """Absolute path of a finished report's exclusion uid list, for ``subtract_uid_list``."""
    if report.status != JobStatus.SUCCEEDED or not report.exclusion_path:
        raise NeighbourInputError(f"contamination report {report.id} is {report.status}")
    return _abs(report.exclusion_path)


# ---------------------------------------------------------------- find more like this


def image_embedding(*, image: Image, extractor: str) -> np.ndarray:
    """The stored embedding (raw float16 row) of ``image`` under ``extractor``.

    Refuses, with the reason, an image whose dataset has no finished embeddings under that
    extractor (another extractor's vector would be compared with the index's: meaningless).
    """
    embedding_set = EmbeddingSet.objects.filter(dataset_id=image.dataset_id, extractor=extractor,
                                                status=JobStatus.SUCCEEDED).first()
    if embedding_set is None:
        others = sorted(EmbeddingSet.objects.filter(dataset_id=image.dataset_id, status=JobStatus.SUCCEEDED)
                        .values_list("extractor", flat=True))
        have = f"it has {', '.join(others)} embeddings" if others else "it has no embeddings"
        raise NeighbourInputError(f"extractor mismatch: the index holds {extractor} embeddings; image {image.id}'s "
                                  f"dataset is not embedded with it ({have})")
    base = _abs(embedding_set.path)
    ids = np.load(base / "ids.npy")
    position = np.flatnonzero(ids == image.id)
    if position.size == 0:
        raise NeighbourInputError(f"image {image.id} is newer than its dataset's embeddings; embed the dataset again")
    meta = json.loads((base / "meta.json").read_text())
    chunk, row = divmod(int(position[0]), meta["chunk_size"])
    return np.load(base / f"chunk_{chunk:05d}.npy", mmap_mode="r")[row:row + 1].copy()


def default_index_for(*, image: Image) -> VectorIndex | None:
    """The newest finished index whose extractor embeds ``image``'s dataset."""
    extractors = EmbeddingSet.objects.filter(dataset_id=image.dataset_id, status=JobStatus.SUCCEEDED).values(
        "extractor")
    return VectorIndex.objects.filter(status=JobStatus.SUCCEEDED, extractor__in=extractors).order_by("-id").first()


def similar_unlabeled(*, image: Image, index: VectorIndex, k: int) -> list[tuple[int, float]]:
    """``(image id, cosine)`` of the ``k`` nearest pool images that no one has labeled in any campaign
    (the image itself and its byte-identical copies excluded), best first."""
    from labeling.models import CampaignItem

    k = _check_k(k)
    neighbours = open_index(index)
    query = image_embedding(image=image, extractor=index.extractor)
    table = load_row_table(index)
    found: list[tuple[int, float]] = []
    wanted = 4 * k + 8
    while True:
        sims, rows = neighbours.search(query, wanted)
        ids = [(int(table["image_ids"][r]), float(s)) for r, s in zip(rows[0], sims[0], strict=True) if r >= 0]
        candidates = [i for i, _ in ids]
        labeled = set(CampaignItem.objects.filter(image_id__in=candidates, labels_count__gt=0)
                      .values_list("image_id", flat=True))
        same = set(Image.objects.filter(id__in=candidates, sha256=image.sha256).values_list("id", flat=True))
        found = [(i, s) for i, s in ids if i != image.id and i not in labeled and i not in same]
        if len(found) >= k or wanted >= neighbours.meta["ntotal"] or wanted >= 4096:
            return found[:k]
        wanted *= 4


def campaign_create_from_neighbours(*, name: str, seeds: Sequence[Image], index: VectorIndex, k: Any = 10,
                                    include_seeds: bool = True, labels_per_item: int = 1, user: Any = None,
                                    **campaign: Any) -> Any:
    """A campaign over the ``k`` nearest unlabeled pool images of each seed (and the seeds).

    Every seed must be embedded under the index's extractor. ``labels_per_item`` is the campaign's
    ``k``; other keyword arguments go to ``labeling.services.campaigns.campaign_create``.
    """
    from labeling.services.campaigns import CampaignError, campaign_create

    seeds = list(seeds)
    if not seeds:
        raise NeighbourInputError("choose at least one seed image")
    chosen: dict[int, None] = {}
    for seed in seeds:
        if include_seeds:
            chosen[seed.id] = None
        for image_id, _ in similar_unlabeled(image=seed, index=index, k=k):
            chosen.setdefault(image_id, None)
    image_ids = list(chosen)
    datasets = Dataset.objects.filter(images__id__in=image_ids).distinct()
    try:
        return campaign_create(name=name, datasets=datasets, user=user, image_ids=image_ids, k=labels_per_item,
                               **campaign)
    except CampaignError as exc:
        raise NeighbourInputError(str(exc)) from exc
