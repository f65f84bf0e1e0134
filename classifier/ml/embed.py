"""Batched, resumable embedding of image files or bytes into ``.npy`` chunks.

Layout of an embedding directory::

    meta.json            extractor, dim, count, chunk_size, dtype, failed rows
    ids.npy              int64 row index: the caller's id of each row, in order
    chunk_00000.npy      float16 (chunk_size, dim) raw features (not normalized)
    ...

Each chunk is written to a temp name and renamed, so a crash leaves whole chunks only and a
rerun skips those that exist. Features are stored raw in float16; methods L2-normalize.
"""
from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from torch.utils.data import DataLoader, Dataset

from classifier.ml.arrays import l2_normalize  # noqa: F401 - re-exported for callers
from classifier.ml.extractors import Extractor

ImageSource = str | Path | bytes


class ImageListDataset(Dataset):
    """Decodes and preprocesses images; a file that will not decode yields a zero image and ok=False."""

    def __init__(self, sources: Sequence[ImageSource], preprocess: Callable[[Any], torch.Tensor], image_size: int) -> None:
        self.sources = sources
        self.preprocess = preprocess
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, bool]:
        try:
            return self.preprocess(load_rgb(self.sources[index])), True
        except (OSError, ValueError, PILImage.DecompressionBombError):
            return torch.zeros(3, self.image_size, self.image_size), False


def load_rgb(source: ImageSource) -> PILImage.Image:
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    with PILImage.open(handle) as image:
        image.draft("RGB", (512, 512))  # JPEG: decode at reduced scale when the image is large
        return image.convert("RGB")


@dataclass
class EmbeddingResult:
    path: Path
    dim: int
    count: int
    failed: list[int]
    chunks_written: int
    chunks_skipped: int


def embed_images(extractor: Extractor, sources: Sequence[ImageSource], out_dir: str | Path, *,
                 ids: Sequence[int] | None = None, batch_size: int = 64, num_workers: int = 0,
                 chunk_size: int = 4096, progress: Callable[[int, int], None] | None = None) -> EmbeddingResult:
    """Embed ``sources`` into ``out_dir`` chunk by chunk, skipping chunks already written.

    ``ids`` (default 0..n-1) are stored as the row index. ``progress(done, total)`` is called
    after each chunk. A rerun with different ids or extractor over the same directory is refused.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = len(sources)
    row_ids = np.asarray(ids if ids is not None else np.arange(n), dtype=np.int64)
    if len(row_ids) != n:
        raise ValueError(f"{len(row_ids)} ids for {n} images")
    meta_path = out / "meta.json"
    old = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if old is not None and (old["extractor"] != str(extractor.spec) or old["count"] != n
                            or old["chunk_size"] != chunk_size):
        raise ValueError(f"{out} holds embeddings of another run ({old['extractor']}, {old['count']} rows); "
                         "use a fresh directory")
    ids_path = out / "ids.npy"
    if ids_path.exists() and not np.array_equal(np.load(ids_path), row_ids):
        raise ValueError(f"{out} holds embeddings of other ids; use a fresh directory")
    _atomic_save(ids_path, row_ids)
    failed: list[int] = list(old.get("failed", [])) if old else []
    written = skipped = 0
    n_chunks = (n + chunk_size - 1) // chunk_size
    for chunk in range(n_chunks):
        start, stop = chunk * chunk_size, min(n, (chunk + 1) * chunk_size)
        path = out / f"chunk_{chunk:05d}.npy"
        if path.exists():
            skipped += 1
        else:
            features, ok = _embed_range(extractor, sources[start:stop], batch_size, num_workers)
            failed.extend(start + i for i in np.flatnonzero(~ok).tolist())
            _atomic_save(path, features.astype(np.float16))
            written += 1
        if progress is not None:
            progress(stop, n)
    meta = {"extractor": str(extractor.spec), "dim": extractor.dim, "count": n, "chunk_size": chunk_size,
            "dtype": "float16", "failed": sorted(set(failed))}
    tmp = meta_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_path)
    return EmbeddingResult(out, extractor.dim, n, meta["failed"], written, skipped)


def _embed_range(extractor: Extractor, sources: Sequence[ImageSource], batch_size: int,
                 num_workers: int) -> tuple[np.ndarray, np.ndarray]:
    dataset = ImageListDataset(sources, extractor.preprocess, extractor.image_size)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False,
                        pin_memory=extractor.device.type == "cuda", persistent_workers=False)
    parts, oks = [], []
    for images, ok in loader:
        features = extractor.encode(images).cpu().numpy()
        features[~ok.numpy()] = 0.0
        parts.append(features)
        oks.append(ok.numpy())
    if not parts:
        return np.zeros((0, extractor.dim), np.float32), np.zeros(0, bool)
    return np.concatenate(parts), np.concatenate(oks)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def read_meta(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / "meta.json"
    if not path.exists():
        raise FileNotFoundError(f"{out_dir} is not a finished embedding directory (no meta.json)")
    return json.loads(path.read_text())


def load_embeddings(out_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, features)`` of a finished directory; features float16 (n, dim) raw."""
    meta = read_meta(out_dir)
    out = Path(out_dir)
    n_chunks = (meta["count"] + meta["chunk_size"] - 1) // meta["chunk_size"]
    chunks = [np.load(out / f"chunk_{i:05d}.npy") for i in range(n_chunks)]
    features = np.concatenate(chunks) if chunks else np.zeros((0, meta["dim"]), np.float16)
    return np.load(out / "ids.npy"), features
