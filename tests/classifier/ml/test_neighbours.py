"""The neighbour library alone (no Django): tiny random vectors with planted near-duplicates."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from classifier.ml.neighbours import (
    Edges,
    ExtractorMismatch,
    NeighbourIndex,
    NeighbourInputError,
    VectorStore,
    build_index,
    check_threshold,
    dedup_by_threshold,
    load_uid_list,
    near_duplicate_edges,
    plan_index,
    save_uid_list,
    subtract_uid_list,
    uids_from_array,
)


def planted(n: int, dim: int, pairs: int, seed: int = 0, cos: float = 0.97) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random unit vectors; rows ``(i, n - 1 - i)`` for ``i < pairs`` are near-duplicates at ~``cos``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    eps = np.sqrt((1 - cos) / cos)
    for i in range(pairs):
        noise = rng.standard_normal(dim).astype(np.float32)
        x[n - 1 - i] = x[i] + eps * noise / np.linalg.norm(noise)
    return x, np.array([(i, n - 1 - i) for i in range(pairs)], dtype=np.int64)


def write_parts(x: np.ndarray, folder: Path, rows: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, len(x), rows)):
        paths.append(folder / f"chunk_{k:05d}.npy")
        np.save(paths[-1], x[start:start + rows].astype(np.float16))
    return paths


@pytest.mark.parametrize("factory", [None, "IVF16,PQ8np", "IVF16_HNSW32,Flat"])
def test_it_finds_every_planted_pair_and_nothing_else(tmp_path: Path, factory: str | None) -> None:
    x, pairs = planted(3000, 32, 40)
    store = VectorStore(write_parts(x, tmp_path / "parts", 700))
    plan = plan_index(store.n, store.dim, factory=factory, shard_rows=1000)
    meta = build_index(store, tmp_path / "index", plan=plan, extractor="e")
    assert meta["ntotal"] == 3000 and meta["shards"] == 3 and meta["exact"] == (factory is None)
    index = NeighbourIndex.load(tmp_path / "index")
    edges = near_duplicate_edges(index, threshold=0.9, k=4)
    found = {(int(a), int(b)) for a, b in zip(edges.a, edges.b, strict=True)}
    assert found == {tuple(p) for p in pairs.tolist()}
    # Reported similarities are exact cosines (re-ranked from the stored float16 vectors), not PQ estimates.
    xs = store.gather(np.arange(store.n))
    assert np.allclose(edges.sim, np.einsum("ij,ij->i", xs[edges.a], xs[edges.b]), atol=1e-5)


def test_it_plans_exact_for_small_and_ivf_pq_for_millions() -> None:
    assert plan_index(50_000, 512).exact
    big = plan_index(10_000_000, 512)
    assert big.factory == "IVF2048_HNSW32,PQ64np" and big.nprobe == 16 and big.train_size <= 262_144
    assert big.bytes_per_vector(512) == 72
    assert plan_index(200_000_000, 512).factory.startswith("IVF8192_")


def test_it_refuses_index_types_outside_the_allowlist() -> None:
    for bad in ("HNSW32", "IVF16,PQ8;rm -rf /", "IDMap,Flat", "IVF16,PQ7"):
        with pytest.raises(NeighbourInputError):
            plan_index(1_000_000, 512, factory=bad)


def test_it_resumes_a_killed_build_without_redoing_finished_shards(tmp_path: Path) -> None:
    x, _ = planted(2000, 16, 10)
    store = VectorStore(write_parts(x, tmp_path / "parts", 250))
    plan = plan_index(store.n, store.dim, factory="IVF8,Flat", shard_rows=500)

    def die(done: int, total: int) -> None:
        if done >= 1500:
            raise KeyboardInterrupt("worker killed")

    with pytest.raises(KeyboardInterrupt):
        build_index(store, tmp_path / "index", plan=plan, extractor="e", progress=die)
    written = sorted((tmp_path / "index").glob("shard_*.faiss"))
    assert [p.name for p in written] == ["shard_00000.faiss", "shard_00001.faiss"]
    before = {p: os.stat(p).st_mtime_ns for p in written}
    seen: list[int] = []
    untouched: list[bool] = []

    def watch(done: int, total: int) -> None:
        seen.append(done)
        untouched.append(all(os.stat(p).st_mtime_ns == t for p, t in before.items()))

    meta = build_index(store, tmp_path / "index", plan=plan, extractor="e", progress=watch)
    assert meta["ntotal"] == 2000
    # The two finished shards are reported at once and kept as they were; only the rest is added.
    assert seen == [500, 1000, 1250, 1500, 1750, 2000] and all(untouched)
    assert not list((tmp_path / "index").glob("shard_*.faiss"))  # merged, then cleaned
    sims, rows = NeighbourIndex.load(tmp_path / "index").search(x[:5], 1)
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(NeighbourInputError, match="another index"):
        build_index(store, tmp_path / "index", plan=plan_index(store.n, store.dim), extractor="e")


def test_it_leaves_zero_vectors_out_and_keeps_them() -> None:
    edges = Edges(np.array([0, 2]), np.array([1, 3]), np.array([0.99, 0.8], np.float32))
    rank = np.array([3, 0, 1, 2])  # row 1 is the better representative of {0, 1}
    low, high = dedup_by_threshold(4, edges, [0.95, 0.5], rank)
    assert low.threshold == 0.5 and low.clusters == 2 and low.removed == 2
    assert low.keep.tolist() == [False, True, True, False]
    assert high.clusters == 1 and high.keep.tolist() == [False, True, True, True]


def test_it_joins_chains_of_copies_into_one_cluster() -> None:
    # 0-1, 1-2, 2-3 chained: one cluster of four even though 0 and 3 are not direct neighbours.
    edges = Edges(np.array([0, 1, 2]), np.array([1, 2, 3]), np.full(3, 0.97, np.float32))
    (result,) = dedup_by_threshold(5, edges, [0.9], np.arange(5))
    assert result.clusters == 1 and result.in_clusters == 4 and result.keep.tolist() == [True, False, False, False, True]


def test_it_refuses_thresholds_outside_zero_one() -> None:
    assert check_threshold("0.5") == 0.5
    for bad in (-0.1, 1.01, "nan", "x", None):
        with pytest.raises(NeighbourInputError):
            check_threshold(bad)


def test_it_refuses_queries_from_another_extractor(tmp_path: Path) -> None:
    x, _ = planted(100, 8, 2)
    store = VectorStore(write_parts(x, tmp_path / "p", 100))
    build_index(store, tmp_path / "i", plan=plan_index(100, 8), extractor="openclip:ViT-L-14/laion2b_s32b_b82k")
    index = NeighbourIndex.load(tmp_path / "i")
    with pytest.raises(ExtractorMismatch, match="timm:efficientnet_lite0/pypi"):
        index.check_extractor("timm:efficientnet_lite0/pypi")
    index.check_extractor("openclip:ViT-L-14/laion2b_s32b_b82k")


def test_it_gives_empty_results_for_an_empty_store(tmp_path: Path) -> None:
    store = VectorStore(write_parts(np.zeros((0, 8), np.float32), tmp_path / "p", 10) or [])
    meta = build_index(store, tmp_path / "i", plan=plan_index(0, 1), extractor="e")
    assert meta["ntotal"] == 0
    index = NeighbourIndex.load(tmp_path / "i")
    sims, rows = index.search(np.ones((3, 8), np.float32), 5)
    assert (rows == -1).all()
    assert len(near_duplicate_edges(index, threshold=0.9)) == 0


def test_it_writes_and_subtracts_datacomp_uid_lists(tmp_path: Path) -> None:
    uids = [f"{i:032x}" for i in (5, 1, 3, 1)]
    path = save_uid_list(tmp_path / "u.npy", uids)
    array = load_uid_list(path)
    assert array.dtype == np.dtype("u8,u8") and uids_from_array(array) == [f"{i:032x}" for i in (1, 3, 5)]
    high = "ffffffffffffffff0000000000000001"
    save_uid_list(tmp_path / "x.npy", [f"{3:032x}", high])
    kept = subtract_uid_list([*uids, high, "f" * 32], tmp_path / "x.npy")
    assert uids_from_array(kept) == [f"{1:032x}", f"{5:032x}", "f" * 32]
    with pytest.raises(ValueError):
        save_uid_list(tmp_path / "bad.npy", ["not-a-uid"])
