"""Writers for the two layouts the demo set uses: img2dataset webdataset shards and ImageFolder.

Byte-for-byte reproducible: tar members carry fixed metadata (mtime 0, uid 0, mode 0644) in sorted
key order, JPEGs use a fixed quality, and nothing records the clock.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

JPEG_QUALITY = 90
URL_PREFIX = "https://demo.domainsieve.invalid/"

PARQUET_SCHEMA = pa.schema([
    ("key", pa.string()), ("url", pa.string()), ("caption", pa.string()), ("uid", pa.string()),
    ("status", pa.string()), ("error_message", pa.string()), ("width", pa.int64()), ("height", pa.int64()),
    ("original_width", pa.int64()), ("original_height", pa.int64()), ("sha256", pa.string()),
    ("domain", pa.string()), ("class", pa.string()), ("recipe", pa.string()),
])


@dataclass(frozen=True)
class DemoImage:
    """One rendered image with what the demo knows about it."""

    index: int  # position in its set (pool or test), also what its key and name derive from
    domain: str
    label: str  # the source photo's subject class
    recipe: str
    caption: str
    rgb: np.ndarray
    original_width: int
    original_height: int


def encode_jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def uid_for(url: str) -> str:
    return hashlib.md5(url.encode()).hexdigest()  # an id (img2dataset-style uid), not security


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


def write_shard(*, folder: Path, shard: int, images: Sequence[DemoImage]) -> list[dict]:
    """Write NNNNN.tar, NNNNN.parquet and NNNNN_stats.json as img2dataset does; return the rows.

    Keys are 9 digits: 5 for the shard, 4 for the sample's position inside it (img2dataset's
    default for shard counts below 100,000 and up to 10,000 samples a shard).
    """
    rows: list[dict] = []
    members: list[tuple[str, bytes, bytes, bytes]] = []
    for position, image in enumerate(images):
        key = f"{shard:05d}{position:04d}"
        jpeg = encode_jpeg(image.rgb)
        url = f"{URL_PREFIX}{key}.jpg"
        height, width = image.rgb.shape[:2]
        row = {
            "key": key, "url": url, "caption": image.caption, "uid": uid_for(url), "status": "success",
            "error_message": None, "width": width, "height": height, "original_width": image.original_width,
            "original_height": image.original_height, "sha256": hashlib.sha256(jpeg).hexdigest(),
            "domain": image.domain, "class": image.label, "recipe": image.recipe,
        }
        rows.append(row)
        members.append((key, jpeg, image.caption.encode(), json.dumps(row, sort_keys=True).encode()))
    with tarfile.open(folder / f"{shard:05d}.tar", "w", format=tarfile.USTAR_FORMAT) as tar:
        for key, jpeg, caption, meta in sorted(members):
            _add(tar, f"{key}.jpg", jpeg)
            _add(tar, f"{key}.txt", caption)
            _add(tar, f"{key}.json", meta)
    pq.write_table(pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA), folder / f"{shard:05d}.parquet")
    stats = {"count": len(rows), "successes": len(rows), "failed_to_download": 0, "failed_to_resize": 0,
             "status_dict": {"success": len(rows)}}
    (folder / f"{shard:05d}_stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    return rows


def write_testset(*, folder: Path, images: Sequence[DemoImage]) -> list[dict]:
    """ImageFolder tree images/<class>/<name>.jpg plus manifest.csv (paths relative to the csv)."""
    rows: list[dict] = []
    for image in images:
        name = f"{image.label}_{image.index:05d}_{image.recipe}.jpg"
        relative = f"images/{image.label}/{name}"
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode_jpeg(image.rgb))
        rows.append({"path": relative, "class": image.label, "domain": image.domain,
                     "uid": uid_for(f"{URL_PREFIX}test/{relative}"), "recipe": image.recipe})
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "class", "domain", "uid", "recipe"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows
