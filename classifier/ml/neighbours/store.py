"""Embeddings as a list of ``.npy`` parts, read one part at a time.

A part is a 2-D array file (float16 or float32, raw features). Row ``r`` of the store is row
``r - offset[i]`` of part ``i``. Nothing here holds more than one part in memory; single rows
(re-ranking) are gathered through memory maps, kept open for at most ``MAX_OPEN`` parts.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

MAX_OPEN = 64


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length; all-zero rows (failed decodes) stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class VectorStore:
    """Read-only view of parts ``paths`` (each ``(rows, dim)``); shapes are read from headers only."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [str(p) for p in paths]
        rows, dims = [], set()
        for path in self.paths:
            array = np.load(path, mmap_mode="r")
            if array.ndim != 2:
                raise ValueError(f"{path} is not a 2-D array of embeddings")
            rows.append(array.shape[0])
            if array.shape[0]:
                dims.add(array.shape[1])
        if len(dims) > 1:
            raise ValueError(f"parts of different widths: {sorted(dims)}")
        self.dim = dims.pop() if dims else 0
        self.rows = np.asarray(rows, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.rows)]).astype(np.int64)
        self.n = int(self.offsets[-1])
        self._open: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return self.n

    def signature(self) -> list[list[object]]:
        """What a built index was made from: ``[[path, rows], ...]`` (a resume must match it)."""
        return [[p, int(r)] for p, r in zip(self.paths, self.rows, strict=True)]

    def part(self, i: int) -> np.ndarray:
        """Part ``i``, normalized float32 (rows, dim)."""
        return normalize_rows(np.load(self.paths[i]))

    def iter_parts(self, start: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(part index, first global row, normalized vectors)`` for each part from ``start``."""
        for i in range(start, len(self.paths)):
            yield i, int(self.offsets[i]), self.part(i)

    def _mapped(self, i: int) -> np.ndarray:
        if i in self._open:
            self._open.move_to_end(i)
            return self._open[i]
        array = np.load(self.paths[i], mmap_mode="r")
        self._open[i] = array
        if len(self._open) > MAX_OPEN:
            self._open.popitem(last=False)
        return array

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Normalized float32 vectors of global ``rows`` (any order; -1 gives a zero row)."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        out = np.zeros((rows.size, self.dim), dtype=np.float32)
        valid = rows >= 0
        if not valid.any():
            return out
        part_of = np.searchsorted(self.offsets, rows, side="right") - 1
        for part in np.unique(part_of[valid]):
            where = np.flatnonzero(valid & (part_of == part))
            local = rows[where] - self.offsets[part]
            order = np.argsort(local)  # sorted reads are kinder to the page cache
            out[where[order]] = self._mapped(int(part))[local[order]]
        return normalize_rows(out)
