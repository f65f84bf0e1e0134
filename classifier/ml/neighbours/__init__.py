"""Nearest neighbours over stored embeddings, on FAISS (no Django).

- ``store``: a ``VectorStore`` reads embeddings as a list of ``.npy`` parts (the embedding
  directories' ``chunk_*.npy``), one part at a time, and gathers single rows by memory map.
- ``index``: ``plan_index`` picks the FAISS index for a size (exact ``Flat`` for small sets,
  ``IVF..._HNSW32,PQ..np`` for millions); ``build_index`` trains on a sample, adds the parts in
  shards (one shard file each, so a rerun resumes) and merges them; ``NeighbourIndex`` loads it
  and searches with exact re-ranking of the candidates.
- ``dedup``: near-duplicate edges (k-NN above a cosine threshold), clusters per threshold by
  connected components, one representative per cluster.
- ``uidlists``: DataComp uid lists (sorted ``u8,u8`` ``.npy``) and subtracting an exclusion list.

Similarities are cosines of L2-normalized float32 vectors: the index uses inner product.
"""
from __future__ import annotations

from classifier.ml.neighbours.dedup import (
    DedupResult,
    Edges,
    cluster_labels,
    dedup_by_threshold,
    near_duplicate_edges,
)
from classifier.ml.neighbours.index import (
    ExtractorMismatch,
    IndexPlan,
    NeighbourIndex,
    NeighbourInputError,
    build_index,
    check_threshold,
    plan_index,
)
from classifier.ml.neighbours.store import VectorStore
from classifier.ml.neighbours.uidlists import (
    load_uid_list,
    save_uid_list,
    subtract_uid_list,
    uids_from_array,
    uids_to_sorted_array,
)

__all__ = [
    "DedupResult", "Edges", "ExtractorMismatch", "IndexPlan", "NeighbourIndex", "NeighbourInputError",
    "VectorStore", "build_index", "check_threshold", "cluster_labels", "dedup_by_threshold", "load_uid_list",
    "near_duplicate_edges", "plan_index", "save_uid_list", "subtract_uid_list", "uids_from_array",
    "uids_to_sorted_array",
]
