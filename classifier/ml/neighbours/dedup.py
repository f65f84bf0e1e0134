"""Near-duplicate clusters: k-NN edges above a cosine threshold, then connected components.

``near_duplicate_edges`` queries every stored vector against the index (its own row excluded)
and keeps the pairs at or above ``threshold``: with ``k`` neighbours per vector a group of more
than ``k + 1`` copies is still one cluster, because components follow chains. Clusters at any
higher threshold come from the same edges (``dedup_by_threshold``), so one pass over the pool
serves a whole sweep of thresholds.

Representative rule: each cluster keeps the member with the lowest ``rank`` (the caller's order
of preference; DomainSieve passes "most pixels first, then lowest uid"); every other member is
removed. Rows outside any cluster, and rows with no embedding (zero vectors), are kept.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from classifier.ml.neighbours.index import NeighbourIndex, check_threshold


@dataclass
class Edges:
    """Pairs ``a < b`` of global rows and their exact cosine."""

    a: np.ndarray
    b: np.ndarray
    sim: np.ndarray

    def __len__(self) -> int:
        return int(self.a.size)

    def above(self, threshold: float) -> Edges:
        keep = self.sim >= threshold
        return Edges(self.a[keep], self.b[keep], self.sim[keep])


def _unique_pairs(a: np.ndarray, b: np.ndarray, sim: np.ndarray, n: int) -> Edges:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * np.int64(n) + hi
    key, first = np.unique(key, return_index=True)
    return Edges(lo[first], hi[first], sim[first].astype(np.float32))


def near_duplicate_edges(index: NeighbourIndex, *, threshold: float, k: int = 16,
                         progress: Callable[[int, int], None] | None = None) -> Edges:
    """Every pair of stored vectors within each other's ``k`` nearest at cosine >= ``threshold``.

    Cost: one search of every stored vector (``n`` queries), one part in memory at a time; the
    edges themselves are ``16 + 4`` bytes each. ``progress(done_rows, total_rows)`` per part.
    """
    threshold = check_threshold(threshold)
    store = index.store
    parts_a, parts_b, parts_s = [], [], []
    for i, offset, vectors in store.iter_parts():
        valid = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
        if valid.size:
            sims, rows = index.search(vectors[valid], k + 1)
            query = (valid + offset)[:, None]
            hit = (rows >= 0) & (rows != query) & (sims >= threshold)
            q_rows = np.broadcast_to(query, rows.shape)
            parts_a.append(q_rows[hit])
            parts_b.append(rows[hit])
            parts_s.append(sims[hit])
        if progress is not None:
            progress(int(store.offsets[i + 1]), store.n)
    if not parts_a:
        return Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    return _unique_pairs(np.concatenate(parts_a), np.concatenate(parts_b), np.concatenate(parts_s), store.n)


def cluster_labels(n: int, edges: Edges) -> np.ndarray:
    """Component label of each of ``n`` rows over ``edges`` (a row alone is its own component)."""
    graph = coo_matrix((np.ones(len(edges), np.int8), (edges.a, edges.b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


@dataclass
class DedupResult:
    threshold: float
    keep: np.ndarray  # bool per row
    clusters: int  # clusters of two or more rows
    in_clusters: int  # rows in such clusters
    removed: int

    @property
    def kept(self) -> int:
        return int(self.keep.sum())

    def counts(self) -> dict[str, float | int]:
        return {"threshold": self.threshold, "total": int(self.keep.size), "clusters": self.clusters,
                "in_clusters": self.in_clusters, "removed": self.removed, "kept": self.kept}


def dedup_by_threshold(n: int, edges: Edges, thresholds: Sequence[float], rank: np.ndarray) -> list[DedupResult]:
    """One ``DedupResult`` per threshold (each >= the edges' own threshold to be meaningful).

    ``rank``: one number per row, lower is the better representative; ties go to the lower row.
    """
    rank = np.asarray(rank)
    if rank.shape != (n,):
        raise ValueError(f"rank has shape {rank.shape}; expected ({n},)")
    results = []
    for t in sorted({check_threshold(t) for t in thresholds}):
        labels = cluster_labels(n, edges.above(t))
        sizes = np.bincount(labels)
        order = np.lexsort((np.arange(n), rank, labels))
        sorted_labels = labels[order]
        first = np.ones(n, dtype=bool)
        first[1:] = sorted_labels[1:] != sorted_labels[:-1]
        keep = np.zeros(n, dtype=bool)
        keep[order[first]] = True
        multi = sizes > 1
        results.append(DedupResult(threshold=t, keep=keep, clusters=int(multi.sum()),
                                   in_clusters=int(sizes[multi].sum()), removed=int(n - keep.sum())))
    return results
