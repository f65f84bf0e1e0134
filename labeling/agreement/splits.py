"""Deterministic, seeded, stratified train/val/test splits of labelled images.

Every image gets a rank from a keyed hash of (seed, its stable key), so the split depends only on
the seed and the set of (key, label) pairs, never on row order, and adding images to a snapshot
does not reshuffle the ones already placed. Within each class, images are taken in rank order,
with two priorities for the test subset:

1. ``locked_test``: images that were in the test subset of the previous version of this split
   stay in test (a test image keeps its test-set identity across versions);
2. ``test_only``: images that must never be trained on (e.g. images of an evaluation test set)
   are offered to test next; those not needed become ``unused``, never train or val.

Presets: ``paper`` (test and val: a fixed number per class, balanced; train: a fixed total, drawn
stratified from what is left; the rest unused) and ``ratio`` (per-class fractions).
"""
from __future__ import annotations

import numpy as np

TRAIN, VAL, TEST, UNUSED = 0, 1, 2, 3
SUBSET_NAMES = ("train", "val", "test", "unused")
PAPER_DEFAULTS = {"train": 13_000, "val_per_class": 1_000, "test_per_class": 1_000}


def hash_rank(keys: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (key xor seed-derived constant): a fast, platform-independent keyed hash."""
    with np.errstate(over="ignore"):
        z = np.asarray(keys, dtype=np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total`` (Hamilton's method, ties by index)."""
    weights = np.asarray(weights, dtype=float)
    if total == 0 or weights.sum() == 0:
        return np.zeros(weights.size, dtype=np.int64)
    exact = weights / weights.sum() * total
    floor = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - floor), kind="stable")
    floor[order[: total - int(floor.sum())]] += 1
    return floor


def assign_splits(*, keys: np.ndarray, labels: np.ndarray, n_classes: int, seed: int, preset: str,
                  train: int | None = None, val_per_class: int | None = None, test_per_class: int | None = None,
                  ratios: tuple[float, float, float] | None = None, locked_test: np.ndarray | None = None,
                  test_only: np.ndarray | None = None, class_names: list[str] | None = None) -> np.ndarray:
    """Subset code (TRAIN/VAL/TEST/UNUSED) per image. Raises ValueError when a quota cannot be met."""
    keys = np.asarray(keys)
    labels = np.asarray(labels, dtype=np.int64)
    n = keys.size
    if labels.shape != (n,):
        raise ValueError("keys and labels must have the same length")
    if np.unique(keys).size != n:
        raise ValueError("split keys must be unique")
    locked = np.zeros(n, bool) if locked_test is None else np.asarray(locked_test, bool)
    only_test = np.zeros(n, bool) if test_only is None else np.asarray(test_only, bool)
    names = class_names or [str(c) for c in range(n_classes)]
    rank = hash_rank(keys, seed)
    out = np.full(n, UNUSED, dtype=np.int64)
    if preset == "paper":
        params = {**PAPER_DEFAULTS, **{k: v for k, v in
                                       {"train": train, "val_per_class": val_per_class,
                                        "test_per_class": test_per_class}.items() if v is not None}}
        test_quota = np.full(n_classes, params["test_per_class"])
        val_quota = np.full(n_classes, params["val_per_class"])
    elif preset == "ratio":
        if ratios is None or len(ratios) != 3 or min(ratios) < 0 or not 0 < sum(ratios) <= 1 + 1e-9:
            raise ValueError("ratio splits need three non-negative fractions (train, val, test) summing to at most 1")
        eligible = np.bincount(labels[~only_test | locked], minlength=n_classes)
        test_quota = np.round(eligible * ratios[2]).astype(np.int64)
        val_quota = np.round(eligible * ratios[1]).astype(np.int64)
    else:
        raise ValueError(f"unknown split preset {preset!r}; expected 'paper' or 'ratio'")
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        # Priority: locked test first, then test-only images, then everything else by rank.
        priority = np.where(locked[members], 0, np.where(only_test[members], 1, 2))
        members = members[np.lexsort((rank[members], priority))]
        n_locked = int(locked[members].sum())
        quota = max(int(test_quota[c]), n_locked)
        if quota > members.size:
            raise ValueError(f"class {names[c]!r} has {members.size} images; the test subset needs {quota}")
        out[members[:quota]] = TEST
        rest = members[quota:]
        rest = rest[~only_test[rest]]
        rest = rest[np.argsort(rank[rest], kind="stable")]
        if val_quota[c] > rest.size:
            raise ValueError(f"class {names[c]!r} has {rest.size} images left after test; val needs {val_quota[c]}")
        out[rest[: val_quota[c]]] = VAL
        if preset == "ratio":
            n_train = int(round(eligible[c] * ratios[0])) if sum(ratios) < 1 - 1e-9 else rest.size - val_quota[c]
            out[rest[val_quota[c]: val_quota[c] + n_train]] = TRAIN
    if preset == "paper":
        left = (out == UNUSED) & ~only_test
        available = np.bincount(labels[left], minlength=n_classes)
        wanted = int(available.sum()) if params["train"] is None else int(params["train"])
        if wanted > available.sum():
            raise ValueError(f"only {int(available.sum())} images are left for train; the preset needs {wanted}")
        per_class = _largest_remainder(wanted, available)
        for c in range(n_classes):
            pool = np.flatnonzero(left & (labels == c))
            pool = pool[np.argsort(rank[pool], kind="stable")]
            out[pool[: per_class[c]]] = TRAIN
    return out
