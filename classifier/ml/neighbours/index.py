"""Building and searching a FAISS index over a ``VectorStore``, shard by shard.

Index choice (``plan_index``), for ``n`` vectors of width ``d``:

- ``n <= flat_max`` (200,000): ``Flat``, exact inner product; memory ``4 * d`` bytes a vector.
- larger: ``IVF{nlist}_HNSW32,PQ{d/8}np``: ``nlist`` the power of two nearest ``sqrt(n) / 2``
  (>= 256), coarse assignment through an HNSW graph over the centroids (so adding is not
  ``n * nlist`` dot products), residuals product-quantized to ``d / 8`` bytes (64 for 512-d):
  about 72 bytes a vector with its id, i.e. 0.72 GB for 10M, 14.4 GB for 200M. HNSW over the
  vectors themselves is not offered: it keeps every raw vector in memory (20 GB for 10M x 512).

Approximate scores are never reported: ``NeighbourIndex.search`` takes ``rerank`` times more
candidates than asked and re-scores them with the exact cosine from the stored embeddings.

Layout of an index directory (``build_index``)::

    plan.json          extractor, plan, the parts it was made from (a resume must match)
    trained.faiss      the trained, empty index (IVF only)
    shard_00000.faiss  one per shard of ``shard_rows`` rows, written to a temp name and renamed
    build.json         seconds spent per step so far
    index.faiss        the merged index (shards are deleted once it exists)
    index.json         the result: ntotal, bytes, build seconds, peak memory

A rerun skips the shards that exist, so a killed build resumes where it stopped.
"""
from __future__ import annotations

import json
import math
import os
import re
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.ml.neighbours.store import VectorStore, normalize_rows

FLAT_MAX = 200_000
SHARD_ROWS = 1_000_000
# What a caller may ask for instead of the plan: exact, or IVF with a flat/HNSW coarse quantizer and
# flat, scalar or product-quantized codes. Anything else is refused before it reaches FAISS.
FACTORY_RE = re.compile(r"^(Flat|IVF\d{1,6}(_HNSW\d{1,3})?,(Flat|SQ8|SQfp16|PQ\d{1,3}(x4fs|x8|np)?))$")
Progress = Callable[[int, int], None] | None


class NeighbourInputError(ValueError):
    """Input a neighbour search cannot use; the message says what to change."""


class ExtractorMismatch(NeighbourInputError):
    """Query embeddings from another extractor than the index's."""


def _faiss() -> Any:
    """FAISS, imported on first use: Django imports this package at start-up (urls, admin) and most
    processes never search."""
    import faiss

    return faiss


def check_threshold(value: Any, *, name: str = "threshold") -> float:
    """``value`` as a float in [0, 1] (a cosine similarity), else NeighbourInputError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NeighbourInputError(f"{name} must be a number in [0, 1], not {value!r}") from None
    if not 0.0 <= number <= 1.0 or math.isnan(number):
        raise NeighbourInputError(f"{name} must lie in [0, 1] (a cosine similarity), not {number}")
    return number


@dataclass(frozen=True)
class IndexPlan:
    factory: str
    nlist: int = 0
    nprobe: int = 0
    train_size: int = 0
    shard_rows: int = SHARD_ROWS
    rerank: int = 4

    @property
    def exact(self) -> bool:
        return self.factory == "Flat"

    def bytes_per_vector(self, dim: int) -> int:
        """Index memory a vector costs (codes plus its 8-byte id), from the factory string."""
        codes = self.factory.split(",")[-1]
        if codes == "Flat":
            return 4 * dim + 8
        if codes == "SQ8":
            return dim + 8
        if codes == "SQfp16":
            return 2 * dim + 8
        m = int(re.findall(r"PQ(\d+)", codes)[0])
        return (m // 2 if codes.endswith("x4fs") else m) + 8


def plan_index(n: int, dim: int, *, flat_max: int = FLAT_MAX, factory: str | None = None,
               nprobe: int | None = None, shard_rows: int = SHARD_ROWS) -> IndexPlan:
    """The index for ``n`` vectors of width ``dim`` (see module doc); ``factory`` overrides the
    choice but must match the allowlist ``FACTORY_RE``."""
    if dim <= 0:
        raise NeighbourInputError("the embeddings have no width (no rows?)")
    if shard_rows < 1:
        raise NeighbourInputError("shard_rows must be at least 1")
    if factory is None:
        if n <= flat_max:
            return IndexPlan("Flat", shard_rows=shard_rows)
        nlist = max(256, 2 ** round(math.log2(max(1.0, math.sqrt(n) / 2))))
        m = dim // 8 if dim % 8 == 0 else dim // 4 if dim % 4 == 0 else dim
        # "np": no polysemous training, which FAISS otherwise runs for PQ codes and which takes
        # minutes for 64 sub-quantizers while search here never uses Hamming filtering.
        factory = f"IVF{nlist}_HNSW32,PQ{m}np"
    if not FACTORY_RE.match(factory):
        raise NeighbourInputError(f"index type {factory!r} is not allowed; use Flat or IVF<n>[_HNSW<m>],"
                                  "Flat|SQ8|SQfp16|PQ<m>[np|x4fs]")
    if factory == "Flat":
        return IndexPlan("Flat", shard_rows=shard_rows)
    nlist = int(re.match(r"IVF(\d+)", factory).group(1))  # type: ignore[union-attr]
    pq = re.findall(r"PQ(\d+)", factory)
    if pq and dim % int(pq[0]):
        raise NeighbourInputError(f"PQ{pq[0]} needs a width divisible by {pq[0]}; the embeddings have {dim}")
    if n < nlist:
        raise NeighbourInputError(f"{factory} needs at least {nlist} vectors to train; there are {n}")
    # FAISS wants ~30-40 points per centroid; more only slows k-means on this class of machine.
    train_size = min(n, max(30 * nlist, 16_384), 262_144)
    return IndexPlan(factory, nlist=nlist, nprobe=nprobe or max(8, min(64, nlist // 128)),
                     train_size=train_size, shard_rows=shard_rows)


def _atomic_write_index(index: Any, path: Path) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    _faiss().write_index(index, str(tmp))
    os.replace(tmp, path)


def _atomic_write_json(data: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _shards(store: VectorStore, shard_rows: int) -> list[list[int]]:
    shards: list[list[int]] = []
    current: list[int] = []
    rows = 0
    for i, count in enumerate(store.rows.tolist()):
        current.append(i)
        rows += count
        if rows >= shard_rows:
            shards.append(current)
            current, rows = [], 0
    if current:
        shards.append(current)
    return shards


def _training_sample(store: VectorStore, size: int, seed: int) -> np.ndarray:
    """``size`` valid rows drawn evenly from every part (one part in memory at a time)."""
    rng = np.random.default_rng(seed)
    share = size / max(1, store.n)
    picks = []
    for _, _, vectors in store.iter_parts():
        vectors = vectors[np.linalg.norm(vectors, axis=1) > 0]
        take = min(len(vectors), max(1, round(share * len(vectors)))) if len(vectors) else 0
        if take:
            picks.append(vectors[np.sort(rng.choice(len(vectors), size=take, replace=False))])
    sample = np.concatenate(picks) if picks else np.zeros((0, store.dim), np.float32)
    return sample[:size]


def _new_index(plan: IndexPlan, dim: int) -> Any:
    if plan.exact:
        return _faiss().IndexIDMap2(_faiss().IndexFlatIP(dim))
    return _faiss().index_factory(dim, plan.factory, _faiss().METRIC_INNER_PRODUCT)


def build_index(store: VectorStore, out_dir: str | Path, *, plan: IndexPlan, extractor: str,
                progress: Progress = None, seed: int = 0) -> dict[str, Any]:
    """Build (or resume) the index of ``store`` in ``out_dir``; returns ``index.json``'s content.

    Memory: the training sample (``plan.train_size`` x dim float32), one part, one shard's index
    and, while merging, the growing merged index (``plan.bytes_per_vector`` a vector). Vectors with
    zero norm (images that failed to embed) are left out; ids are global store rows.
    ``progress(done_rows, total_rows)`` after each part.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if store.n == 0:
        # An empty dataset gives an empty index (every search finds nothing), not an error.
        result = {"extractor": extractor, "factory": "Flat", "exact": True, "dim": 0, "rows": 0, "ntotal": 0,
                  "nlist": 0, "nprobe": 0, "rerank": 1, "train_size": 0, "shards": 0, "bytes": 0,
                  "build_seconds": 0.0, "peak_rss_bytes": peak_rss_bytes()}
        _atomic_write_json({"extractor": extractor, "dim": 0, "plan": asdict(plan), "sources": store.signature()},
                           out / "plan.json")
        _atomic_write_json(result, out / "index.json")
        return result
    wanted = {"extractor": extractor, "dim": store.dim, "plan": asdict(plan), "sources": store.signature()}
    plan_path = out / "plan.json"
    if plan_path.exists():
        if json.loads(plan_path.read_text()) != wanted:
            raise NeighbourInputError(f"{out} holds another index (other sources or plan); use a fresh directory")
    else:
        _atomic_write_json(wanted, plan_path)
    if (out / "index.json").exists() and (out / "index.faiss").exists():
        return json.loads((out / "index.json").read_text())
    log_path = out / "build.json"
    log: dict[str, Any] = json.loads(log_path.read_text()) if log_path.exists() else {"shards": {}}

    trained = _trained_index(store, plan, out, log, seed)
    shards = _shards(store, plan.shard_rows)
    _index_shards(store, trained, shards, out, log, progress)

    started = time.monotonic()
    merged = _faiss().read_index(str(out / "shard_00000.faiss"))
    for k in range(1, len(shards)):
        part = _faiss().read_index(str(out / f"shard_{k:05d}.faiss"))
        merged.merge_from(part, 0)
        del part
    _atomic_write_index(merged, out / "index.faiss")
    merge_seconds = time.monotonic() - started
    result = {
        "extractor": extractor, "factory": plan.factory, "exact": plan.exact, "dim": store.dim,
        "rows": store.n, "ntotal": int(merged.ntotal), "nlist": plan.nlist, "nprobe": plan.nprobe,
        "rerank": plan.rerank, "train_size": plan.train_size if not plan.exact else 0, "shards": len(shards),
        "bytes": (out / "index.faiss").stat().st_size,
        "build_seconds": round(log.get("train_seconds", 0.0) + sum(log["shards"].values()) + merge_seconds, 3),
        "peak_rss_bytes": peak_rss_bytes(),
    }
    _atomic_write_json(result, out / "index.json")
    for k in range(len(shards)):
        (out / f"shard_{k:05d}.faiss").unlink(missing_ok=True)
    (out / "trained.faiss").unlink(missing_ok=True)
    return result


def _trained_index(store: VectorStore, plan: IndexPlan, out: Path, log: dict[str, Any], seed: int) -> Any:
    """The empty index, trained on a sample of ``store`` unless exact; kept in ``trained.faiss`` so a
    resumed build does not train again."""
    trained_path = out / "trained.faiss"
    if plan.exact:
        trained = _new_index(plan, store.dim)
    elif trained_path.exists():
        trained = _faiss().read_index(str(trained_path))
    else:
        started = time.monotonic()
        sample = _training_sample(store, plan.train_size, seed)
        if len(sample) < plan.nlist:
            raise NeighbourInputError(f"{plan.factory} needs at least {plan.nlist} non-empty vectors to train; "
                                      f"there are {len(sample)}")
        trained = _new_index(plan, store.dim)
        trained.train(sample)
        del sample
        _atomic_write_index(trained, trained_path)
        log["train_seconds"] = time.monotonic() - started
        _atomic_write_json(log, out / "build.json")
    return trained


def _index_shards(store: VectorStore, trained: Any, shards: list[list[int]], out: Path, log: dict[str, Any],
                  progress: Progress) -> None:
    """One index file per shard of parts (``shard_K.faiss``), each a copy of ``trained`` holding the
    shard's non-empty vectors; shards written before (a resumed build) are skipped."""
    for k, parts in enumerate(shards):
        shard_path = out / f"shard_{k:05d}.faiss"
        if shard_path.exists():
            if progress is not None:
                progress(int(store.offsets[parts[-1] + 1]), store.n)
            continue
        started = time.monotonic()
        index = _faiss().clone_index(trained)
        for i in parts:
            vectors = store.part(i)
            valid = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
            if valid.size:
                index.add_with_ids(np.ascontiguousarray(vectors[valid]), valid.astype(np.int64) + store.offsets[i])
            del vectors
            if progress is not None:
                progress(int(store.offsets[i + 1]), store.n)
        _atomic_write_index(index, shard_path)
        del index
        log["shards"][str(k)] = time.monotonic() - started
        _atomic_write_json(log, out / "build.json")


class NeighbourIndex:
    """A built index plus the store it was built from (for exact re-ranking)."""

    def __init__(self, index: Any, meta: dict[str, Any], store: VectorStore) -> None:
        self.index = index  # None for an empty index
        self.meta = meta
        self.store = store
        if index is not None and not self.exact:
            _faiss().extract_index_ivf(index).nprobe = int(meta.get("nprobe") or 16)

    @classmethod
    def load(cls, out_dir: str | Path) -> NeighbourIndex:
        out = Path(out_dir)
        if not (out / "index.json").exists():
            raise NeighbourInputError(f"{out} holds no finished index")
        meta = json.loads((out / "index.json").read_text())
        sources = json.loads((out / "plan.json").read_text())["sources"]
        index = _faiss().read_index(str(out / "index.faiss")) if meta["ntotal"] else None
        return cls(index, meta, VectorStore([p for p, _ in sources]))

    @property
    def extractor(self) -> str:
        return str(self.meta["extractor"])

    @property
    def exact(self) -> bool:
        return bool(self.meta.get("exact"))

    def check_extractor(self, extractor: str) -> None:
        """Refuse queries embedded by another extractor: their cosine to the index means nothing."""
        if extractor != self.extractor:
            raise ExtractorMismatch(
                f"extractor mismatch: the index holds {self.extractor} embeddings, the query embeddings come "
                f"from {extractor}; embed the query images with {self.extractor} or build an index from "
                f"{extractor} embeddings")

    def search(self, queries: np.ndarray, k: int, *, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """``(similarities, rows)`` of the ``k`` nearest stored vectors of each query, best first.

        ``queries`` are raw or normalized features (normalized here). Rows are global store rows,
        -1 where fewer than ``k`` exist. Similarities are exact cosines: an approximate index's
        candidates (``rerank * k`` of them) are re-scored from the stored embeddings.
        """
        queries = normalize_rows(queries)
        k = max(1, int(k))
        sims = np.full((len(queries), k), -1.0, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        if self.index is None:
            return sims, rows
        if queries.shape[1:] != (self.store.dim,):
            raise NeighbourInputError(f"queries of width {queries.shape[1:]}; the index holds width {self.store.dim}")
        wide = k if self.exact else k * int(self.meta.get("rerank", 4))
        for start in range(0, len(queries), batch):
            q = np.ascontiguousarray(queries[start:start + batch])
            d, i = self.index.search(q, min(wide, max(1, self.index.ntotal)))
            if not self.exact:
                candidates = self.store.gather(i)
                d = np.einsum("qd,qkd->qk", q, candidates.reshape(len(q), i.shape[1], -1))
                d[i < 0] = -1.0
                order = np.argsort(-d, axis=1, kind="stable")
                d, i = np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)
            take = min(k, i.shape[1])
            sims[start:start + len(q), :take] = d[:, :take]
            rows[start:start + len(q), :take] = i[:, :take]
        sims[rows < 0] = -1.0
        return sims, rows
