"""Builders of small import sources (folders, shards, manifests) shared by the import tests."""
from __future__ import annotations

import io
import json
import struct
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from labeling.models import Dataset, ImportJob
from labeling.services.datasets import dataset_create, import_create, import_run
from tests.factories import jpeg_bytes


def write_images(folder: Path, seeds: range | list[int], *, size: tuple[int, int] = (48, 32)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"img{seed:04d}.jpg"
        path.write_bytes(jpeg_bytes(seed=seed, size=size))
        paths.append(path)
    return paths


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shard(path: Path, samples: list[dict[str, Any]], *, parquet: bool = True) -> Path:
    """An img2dataset-style shard: KEY.jpg, KEY.txt, KEY.json per sample, and NNNNN.parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for sample in samples:
            key = sample["key"]
            add_member(tar, f"{key}.jpg", sample.get("jpg", jpeg_bytes(seed=sample.get("seed", 0))))
            if "caption" in sample:
                add_member(tar, f"{key}.txt", sample["caption"].encode())
            meta = {"key": key, "url": f"https://example.org/{key}.jpg", "status": "success", **sample.get("json", {})}
            add_member(tar, f"{key}.json", json.dumps(meta).encode())
    if parquet:
        table = pa.table({
            "key": [s["key"] for s in samples],
            "url": [f"https://example.org/{s['key']}.jpg" for s in samples],
            "caption": [s.get("caption", "") for s in samples],
            "status": ["success"] * len(samples),
        })
        pq.write_table(table, path.with_suffix(".parquet"))
    return path


def png_header_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims a huge canvas: must be refused before any decoding."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def run_import(source: Path | str, *, dataset: Dataset | None = None, name: str = "ds", fmt: str = "auto",
               sample: int | None = None, seed: int = 0, kind: str = "pool") -> ImportJob:
    if dataset is None:
        dataset = Dataset.objects.filter(name=name).first() or dataset_create(name=name, kind=kind)
    job = import_create(dataset=dataset, source=str(source), format=fmt, sample=sample, seed=seed, enqueue=False)
    return import_run(job=job)


def rejects(job: ImportJob) -> dict[str, str]:
    """source -> reason from the job's rejects CSV."""
    import csv

    with open(job.rejects_path, newline="") as handle:
        return {row["source"]: row["reason"] for row in csv.DictReader(handle)}
