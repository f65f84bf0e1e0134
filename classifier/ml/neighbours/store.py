"""Embeddings as a list of ``.npy`` parts, read one part at a time.

A part is a 2-D array file (float16 or float32, raw features). Row ``r`` of the store is row
``r - offset[i]`` of part ``i``. Nothing here holds more than one part in memory; single rows
(re-ranking) are read with ``os.pread`` at their offset in the ``.npy`` file, through at most
``MAX_OPEN`` open files. Not memory maps: pages a map touches count in the process's resident
memory (random re-rank reads over a 10 GB pool touched ~8 GB of them in the 10M benchmark), while
``pread`` leaves them in the page cache, which the kernel can drop.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_OPEN = 64


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length; all-zero rows (failed decodes) stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


@dataclass
class _OpenPart:
    fd: int
    data_offset: int
    dtype: np.dtype
    row_bytes: int
    fortran: bool


def _open_part(path: str) -> _OpenPart:
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
    return _OpenPart(os.open(path, os.O_RDONLY), offset, dtype, dtype.itemsize * (shape[1] if len(shape) > 1 else 1),
                     fortran)


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
        self._open: OrderedDict[int, _OpenPart] = OrderedDict()

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

    def _part_file(self, i: int) -> _OpenPart:
        if i in self._open:
            self._open.move_to_end(i)
            return self._open[i]
        part = _open_part(self.paths[i])
        self._open[i] = part
        if len(self._open) > MAX_OPEN:
            os.close(self._open.popitem(last=False)[1].fd)
        return part

    def _read_rows(self, i: int, local: np.ndarray) -> np.ndarray:
        """Rows ``local`` (sorted) of part ``i``, read with one ``pread`` per row."""
        part = self._part_file(i)
        if part.fortran:  # never written by np.save of a C array; read it whole rather than wrongly
            return np.load(self.paths[i])[local]
        size = part.row_bytes
        raw = b"".join(os.pread(part.fd, size, part.data_offset + int(r) * size) for r in local.tolist())
        return np.frombuffer(raw, dtype=part.dtype).reshape(len(local), -1)

    def close(self) -> None:
        while self._open:
            os.close(self._open.popitem()[1].fd)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

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
            out[where[order]] = self._read_rows(int(part), local[order])
        return normalize_rows(out)
