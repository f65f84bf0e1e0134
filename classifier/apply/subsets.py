"""Fixed-size subsets: a seeded random draw of N uids from a uid list (PAPER.md, "Experiments as run").

The paper trains every model on a fixed subset: a uid list shuffled with a seed and cut to N,
resharded into its own tars, then read once per epoch. The draw here is canonical: the pool is
de-duplicated and sorted before the seeded permutation, so the same pool, N and seed give the
same subset whatever order the pool's list came in. Output lists are sorted (DataComp style).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from classifier.apply.uids import UID_DTYPE, uids_to_array

SUFFIXES = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}


class SubsetError(ValueError):
    """A subset that cannot be drawn (N larger than the pool, a bad size)."""


def parse_count(text: str) -> int:
    """``57000000``, ``57M``, ``2.5K`` -> a positive sample count."""
    raw = str(text).strip().upper().replace("_", "").replace(",", "")
    factor = SUFFIXES.get(raw[-1:], 1)
    number = raw[:-1] if raw[-1:] in SUFFIXES else raw
    try:
        value = float(number) * factor
    except ValueError:
        raise SubsetError(f"{text!r} is not a count (e.g. 57000000 or 57M)") from None
    if value < 1 or value != int(value):
        raise SubsetError(f"{text!r} is not a positive whole number of samples")
    return int(value)


def without(pool: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
    """``pool`` (unique, sorted) minus the uids of ``exclude``."""
    if exclude is None or len(exclude) == 0 or len(pool) == 0:
        return pool
    ex = np.unique(exclude)
    index = np.minimum(np.searchsorted(ex, pool), len(ex) - 1)
    return pool[ex[index] != pool]


def draw_subset(pool: np.ndarray, n: int, *, seed: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """A sorted ``u8,u8`` array of ``n`` uids drawn without replacement from ``pool`` after
    removing ``exclude`` (e.g. test-set near-duplicates). Raises SubsetError when too few remain."""
    if pool.dtype != UID_DTYPE:
        raise SubsetError(f"a uid pool has dtype {UID_DTYPE}, got {pool.dtype}")
    candidates = without(np.unique(pool), exclude)
    if n > len(candidates):
        raise SubsetError(f"asked for {n:,} uids but the pool holds {len(candidates):,}"
                          f"{' after exclusion' if exclude is not None and len(exclude) else ''}")
    order = np.random.default_rng(seed).permutation(len(candidates))[:n]
    return np.sort(candidates[order], order=["f0", "f1"])


def uids_of_scores(parquet_paths: Iterable[str | Path]) -> np.ndarray:
    """Every uid an apply job scored (the whole pool), from its per-shard parquet files."""
    parts = [uids_to_array(pq.read_table(p, columns=["uid"]).column("uid").to_pylist()) for p in parquet_paths]
    return np.concatenate(parts) if parts else np.zeros(0, UID_DTYPE)
