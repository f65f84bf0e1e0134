"""Tiny webdataset shards (img2dataset layout) for training tests."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_shards(folder: Path, *, shards: int, per_shard: int, seed: int = 0, flat: bool = False,
                 start: int = 0) -> list[Path]:
    """``NNNNN.tar`` files with ``KEY.jpg``, ``KEY.txt``, ``KEY.json`` per sample."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for s in range(start, start + shards):
        path = folder / f"{s:05d}.tar"
        with tarfile.open(path, "w") as tar:
            for i in range(per_shard):
                key = f"{s:05d}{i:04d}"
                if flat:
                    array = np.zeros((32, 32, 3), dtype=np.uint8) + rng.integers(0, 255, 3).astype(np.uint8)
                else:
                    array = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
                buffer = io.BytesIO()
                Image.fromarray(array).save(buffer, format="JPEG")
                caption = f"a {'drawing' if flat else 'photo'} of thing {i}"
                for ext, data in (("jpg", buffer.getvalue()), ("txt", caption.encode()),
                                  ("json", json.dumps({"key": key, "caption": caption}).encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        paths.append(path)
    return paths


@pytest.fixture
def shard_sets(tmp_path: Path) -> dict[str, Path]:
    """natural: 3 shards x 8 samples; rendition: 1 shard x 8 samples."""
    natural = tmp_path / "natural"
    rendition = tmp_path / "rendition"
    write_shards(natural, shards=3, per_shard=8, seed=1)
    write_shards(rendition, shards=1, per_shard=8, seed=2, flat=True)
    return {"natural": natural, "rendition": rendition}


@pytest.fixture
def gpu_host(db: None, settings: pytest.FixtureRequest) -> object:
    """This process's own train host, registered with 8 declared GPUs (no CUDA needed), so local
    runs can be placed here and launched by calling the service directly."""
    from training.hostinfo import declared_gpus
    from training.services.placement import train_host_register

    return train_host_register(name=settings.TRAIN_HOST_NAME, gpus=declared_gpus("8", model="Test GPU"),
                               source="declared")
