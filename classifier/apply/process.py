"""``process_shard``: one webdataset shard in, one parquet of domain scores out.

Pure (no Django): the caller passes an ``embed_fn`` (list of RGB PIL images -> (n, d) features),
the two heads (feature heads, or a fine-tuned image head, see ``scoring``), thresholds and a
``should_cancel`` callable polled between batches.

Idempotence: the parquet is written to a unique temp name beside ``out_path`` and renamed with
``os.replace``, so readers only ever see whole files; if ``out_path`` exists the shard is skipped
and its existing row count returned. A cancelled or failed shard leaves no output.
"""
from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image as PILImage

from classifier.apply.scoring import FT_NEEDS_IMAGES, HeadPair, Thresholds, assign_domains
from classifier.apply.shards import Sample, iter_samples
from classifier.apply.uids import derive_uid

SCHEMA = pa.schema([
    ("uid", pa.string()), ("key", pa.string()), ("shard", pa.string()),
    ("p_natural", pa.float32()), ("p_rendition", pa.float32()), ("p_ambiguous", pa.float32()),
    ("domain", pa.string()),
])
EmbedFn = Callable[[list[PILImage.Image]], np.ndarray]


class ShardCancelled(Exception):
    """The job's cancel flag was seen between batches; nothing was written."""


@dataclass
class ShardResult:
    shard: str
    rows: int = 0
    skipped: int = 0  # samples without a decodable image
    skipped_keys: list[str] = field(default_factory=list)
    uid_sources: dict[str, int] = field(default_factory=dict)  # json / url / key
    already_done: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["skipped_keys"] = self.skipped_keys[:100]
        return data


def decode_rgb(data: bytes, *, max_pixels: int = 89_478_485) -> PILImage.Image:
    """Fully decode (``load``) so truncated files fail here, not later in a batch."""
    with PILImage.open(io.BytesIO(data)) as image:
        if image.width * image.height > max_pixels:
            raise ValueError(f"image of {image.width}x{image.height} pixels exceeds the limit")
        image.draft("RGB", (512, 512))
        rgb = image.convert("RGB")
        rgb.load()
        return rgb


def process_shard(*, shard_path: str | Path, out_path: str | Path, embed_fn: EmbedFn, heads: HeadPair,
                  thresholds: Thresholds, batch_size: int = 256,
                  should_cancel: Callable[[], bool] = lambda: False,
                  on_batch: Callable[[int], None] | None = None, shard_name: str | None = None,
                  decode_threads: int = 1) -> ShardResult:
    """Score every sample of ``shard_path`` into ``out_path`` (parquet, ``SCHEMA``).

    ``domain`` uses ``thresholds``. Corrupt or missing images are skipped and counted.
    ``decode_threads`` > 1 decodes each batch in a thread pool. Raises
    ``CorruptShardError`` for a broken tar and ``ShardCancelled`` when ``should_cancel()`` turns
    true; in both cases nothing is written. ``on_batch(rows_so_far)`` is called after each batch
    (the caller's heartbeat).
    """
    import time

    started = time.monotonic()
    out = Path(out_path)
    name = shard_name or Path(shard_path).name
    if out.exists():
        rows = pq.read_metadata(out).num_rows
        return ShardResult(shard=name, rows=rows, already_done=True)
    if should_cancel():
        raise ShardCancelled(name)
    result = ShardResult(shard=name)
    uids: list[str] = []
    keys: list[str] = []
    p_nat: list[np.ndarray] = []
    p_ren: list[np.ndarray] = []
    p_amb: list[np.ndarray] = []
    pending: list[Sample] = []
    # Pillow releases the GIL while decoding: threads keep a GPU fed from one worker process.
    pool = ThreadPoolExecutor(decode_threads) if decode_threads > 1 else None

    def flush() -> None:
        if not pending:
            return
        decoded = list(pool.map(_try_decode, pending) if pool else map(_try_decode, pending))
        images = []
        for sample, image in zip(pending, decoded, strict=True):
            if image is None:
                result.skipped += 1
                result.skipped_keys.append(sample.key)
                continue
            uid, source = derive_uid(meta=sample.meta, key=sample.key)
            result.uid_sources[source] = result.uid_sources.get(source, 0) + 1
            uids.append(uid)
            keys.append(sample.key)
            images.append(image)
        pending.clear()
        if images:
            # One decode per batch serves both heads: a fine-tuned head scores the images itself,
            # embed_fn runs only when a feature head needs the frozen extractor's features.
            n, r, a = heads.score_images(images, embed_fn)
            p_nat.append(n)
            p_ren.append(r)
            p_amb.append(a)
        if on_batch is not None:
            on_batch(len(uids))
        if should_cancel():
            raise ShardCancelled(name)

    try:
        for sample in iter_samples(shard_path):
            pending.append(sample)
            if len(pending) >= batch_size:
                flush()
        flush()
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    result.rows = len(uids)
    write_scores(out, uids=uids, keys=keys, shard=name, p_natural=_cat(p_nat), p_rendition=_cat(p_ren),
                 p_ambiguous=_cat(p_amb), thresholds=thresholds)
    result.seconds = time.monotonic() - started
    return result


def process_embeddings(*, features: np.ndarray, uids: Sequence[str], keys: Sequence[str], out_path: str | Path,
                       heads: HeadPair, thresholds: Thresholds, shard_name: str) -> ShardResult:
    """The "classify stored embeddings" path: score precomputed features of one chunk."""
    if heads.needs_images:
        raise ValueError(FT_NEEDS_IMAGES)
    out = Path(out_path)
    if out.exists():
        return ShardResult(shard=shard_name, rows=pq.read_metadata(out).num_rows, already_done=True)
    features = np.asarray(features, dtype=np.float32)
    valid = np.linalg.norm(features, axis=1) > 0  # all-zero rows are images that failed to embed
    n, r, a = heads.score(features[valid]) if valid.any() else (np.zeros(0, np.float32),) * 3
    kept_uids = [u for u, ok in zip(uids, valid, strict=True) if ok]
    kept_keys = [k for k, ok in zip(keys, valid, strict=True) if ok]
    write_scores(out, uids=kept_uids, keys=kept_keys, shard=shard_name, p_natural=n, p_rendition=r,
                 p_ambiguous=a, thresholds=thresholds)
    skipped = [k for k, ok in zip(keys, valid, strict=True) if not ok]
    return ShardResult(shard=shard_name, rows=len(kept_uids), skipped=len(skipped), skipped_keys=skipped)


def _try_decode(sample: Sample) -> PILImage.Image | None:
    if sample.image is None:
        return None
    try:
        return decode_rgb(sample.image)
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError):
        return None


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def write_scores(out: Path, *, uids: Sequence[str], keys: Sequence[str], shard: str, p_natural: np.ndarray,
                 p_rendition: np.ndarray, p_ambiguous: np.ndarray, thresholds: Thresholds) -> None:
    domains = assign_domains(p_natural, p_rendition, thresholds)
    table = pa.Table.from_arrays([
        pa.array(list(uids), pa.string()), pa.array(list(keys), pa.string()),
        pa.array([shard] * len(uids), pa.string()),
        pa.array(p_natural, pa.float32()), pa.array(p_rendition, pa.float32()),
        pa.array(p_ambiguous, pa.float32()), pa.array(list(domains), pa.string()),
    ], schema=SCHEMA)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Unique temp name: a redelivered task racing a slow original never clobbers its half-written file.
    tmp = out.with_name(f"{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
