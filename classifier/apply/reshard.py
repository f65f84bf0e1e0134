"""Build webdataset shards of a subset (e.g. LAION-Natural) from its sorted uid list.

Output: ``{00000..}.tar`` of ``shard_size`` samples each (the last may be shorter), every sample
with its original members (jpg/txt/json...), a ``sizes.json`` that OpenCLIP's
``get_dataset_size`` reads (so ``--train-num-samples`` is optional), and ``manifest.json`` with
counts, source shards and the brace pattern to pass as ``--train-data``.
Sample uids are derived exactly as in apply (``classifier.apply.uids.derive_uid``).
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.apply.shards import Sample, iter_samples
from classifier.apply.uids import derive_uid, uid_membership


@dataclass
class ReshardResult:
    out_dir: Path
    shards: int
    samples: int
    pattern: str
    manifest: dict[str, Any]


class _ShardWriter:
    def __init__(self, out_dir: Path, shard_size: int) -> None:
        self.out_dir = out_dir
        self.shard_size = shard_size
        self.index = -1
        self.count = 0
        self.sizes: dict[str, int] = {}
        self.tar: tarfile.TarFile | None = None
        self.tmp: Path | None = None

    def _open(self) -> None:
        self.index += 1
        self.tmp = self.out_dir / f"{self.index:05d}.tar.tmp"
        self.tar = tarfile.open(self.tmp, "w")
        self.count = 0

    def close(self) -> None:
        if self.tar is not None and self.tmp is not None:
            self.tar.close()
            final = self.out_dir / f"{self.index:05d}.tar"
            os.replace(self.tmp, final)
            self.sizes[final.name] = self.count
            self.tar = None

    def write(self, key: str, members: dict[str, bytes]) -> None:
        if self.tar is None or self.count >= self.shard_size:
            self.close()
            self._open()
        for ext, data in members.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size = len(data)
            info.mtime = 0
            self.tar.addfile(info, io.BytesIO(data))  # type: ignore[union-attr]
        self.count += 1


def _copy_block(samples: list[Sample], uid_list: np.ndarray, writer: _ShardWriter, seen_keys: set[str]) -> int:
    uids = [derive_uid(meta=s.meta, key=s.key)[0] for s in samples]
    copied = 0
    for sample, uid, keep in zip(samples, uids, uid_membership(uid_list, uids), strict=True):
        if not keep or sample.image is None:
            continue
        key = sample.key
        suffix = 1
        while key in seen_keys:
            key = f"{sample.key}_{suffix}"
            suffix += 1
        seen_keys.add(key)
        members = dict(sample.raw)
        meta = dict(sample.meta)
        meta.setdefault("uid", uid)
        members["json"] = json.dumps(meta).encode()
        writer.write(key, members)
        copied += 1
    return copied


def reshard_subset(*, uid_list: np.ndarray, source_shards: Sequence[str | Path], out_dir: str | Path,
                   shard_size: int = 10_000, progress: Callable[[int], None] | None = None) -> ReshardResult:
    """Copy the samples whose uid is in ``uid_list`` (sorted ``u8,u8``) into new shards.

    Samples keep their key unless two sources collide, then the key gets a ``_N`` suffix. Refuses a
    non-empty ``out_dir`` holding tars (no silent mixing of two subsets).
    """
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("*.tar")):
        raise FileExistsError(f"{out} already holds shards; give an empty folder")
    writer = _ShardWriter(out, shard_size)
    seen_keys: set[str] = set()
    matched = scanned = 0
    for shard in source_shards:
        # Stream in blocks: an img2dataset shard of 10k images does not have to sit in memory.
        block: list[Sample] = []
        for sample in iter_samples(shard):
            block.append(sample)
            if len(block) >= 1024:
                matched += _copy_block(block, uid_list, writer, seen_keys)
                scanned += len(block)
                block = []
        matched += _copy_block(block, uid_list, writer, seen_keys)
        scanned += len(block)
        if progress is not None:
            progress(1)
    writer.close()
    n_shards = writer.index + 1
    (out / "sizes.json").write_text(json.dumps(writer.sizes, indent=1))
    if n_shards == 0:
        pattern = ""
    else:
        pattern = str(out / (f"{{00000..{n_shards - 1:05d}}}.tar" if n_shards > 1 else "00000.tar"))
    manifest = {
        "samples": matched, "shards": n_shards, "shard_size": shard_size, "pattern": pattern,
        "requested_uids": int(len(uid_list)), "scanned_samples": scanned,
        "missing_uids": int(len(uid_list)) - matched if matched <= len(uid_list) else 0,
        "source_shards": [str(s) for s in source_shards], "sizes": writer.sizes,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return ReshardResult(out, n_shards, matched, pattern, manifest)
