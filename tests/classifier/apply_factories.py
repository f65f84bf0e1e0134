"""Small img2dataset-style shards written with tarfile, and cheap deterministic scorers."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from classifier.apply.scoring import HeadPair, LinearHead
from tests.factories import jpeg_bytes


def write_shard(path: Path, *, shard: int, n: int = 8, with_uid: bool = True, with_url: bool = True,
                corrupt: tuple[int, ...] = (), no_image: tuple[int, ...] = ()) -> list[dict]:
    """Write ``n`` samples KEY.jpg/.txt/.json; returns the json of each sample (with its key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metas = []
    with tarfile.open(path, "w") as tar:
        for i in range(n):
            key = f"{shard:05d}{i:04d}"
            url = f"http://example.com/{shard}/{i}.jpg"
            meta: dict = {"key": key, "caption": f"image {i}", "status": "success"}
            if with_url:
                meta["url"] = url
            if with_uid:
                meta["uid"] = hashlib.md5(f"uid-{shard}-{i}".encode()).hexdigest()
            image = b"\xff\xd8\xff\xe0 not really a jpeg" if i in corrupt else jpeg_bytes(
                seed=shard * 1000 + i, size=(40, 32), flat=i % 2 == 1)
            members = {"txt": f"image {i}".encode(), "json": json.dumps(meta).encode()}
            if i not in no_image:
                members = {"jpg": image, **members}
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            metas.append(meta)
    return metas


def write_shards(folder: Path, count: int, **kwargs: object) -> list[Path]:
    paths = []
    for s in range(count):
        path = folder / f"{s:05d}.tar"
        write_shard(path, shard=s, **kwargs)  # type: ignore[arg-type]
        paths.append(path)
    return paths


def cheap_embed(images: list[PILImage.Image]) -> np.ndarray:
    """Deterministic 8-d features: per-channel mean and std, plus two texture measures."""
    rows = []
    for image in images:
        a = np.asarray(image, dtype=np.float32) / 255.0
        dx = np.abs(np.diff(a, axis=1)).mean()
        dy = np.abs(np.diff(a, axis=0)).mean()
        rows.append(np.concatenate([a.mean(axis=(0, 1)), a.std(axis=(0, 1)), [dx, dy]]))
    return np.asarray(rows, dtype=np.float32)


def cheap_heads(dim: int = 8) -> HeadPair:
    return HeadPair(natural=LinearHead.random(dim=dim, classes=["natural", "rendition", "ambiguous"], seed=1),
                    rendition=LinearHead.random(dim=dim, classes=["rendition"] + ["rest"], seed=2))


def write_centroid_heads(folder: Path, *, dim: int = 32, seed: int = 0) -> tuple[Path, Path]:
    """Two ternary nearest-centroid models (``classifier.ml.methods.FittedModel``) saved as pickles."""
    from classifier.ml.methods import FittedModel

    rng = np.random.default_rng(seed)
    paths = []
    for name in ("natural", "rendition"):
        centroids = rng.normal(size=(3, dim)).astype(np.float32)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        model = FittedModel("centroid", ["natural", "rendition", "ambiguous"], {"temperature": 0.05},
                            {"centroids": centroids})
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.pkl"
        model.save(path)
        paths.append(path)
    return paths[0], paths[1]


def tiny_spec(folder: Path, *, strict: float = 0.6, default: float = 0.4) -> object:
    from classifier.ml.extractors import tiny_extractor_string
    from classifier.services.apply import HeadSpec

    nat, ren = write_centroid_heads(folder)
    return HeadSpec(extractor=tiny_extractor_string(), natural_head_path=str(nat), rendition_head_path=str(ren),
                    strict={"natural": strict, "rendition": strict}, default={"natural": default, "rendition": default})


def make_run_pair(artifacts_root: Path, *, extractor: str | None = None) -> tuple[object, object]:
    """Two succeeded ClassifierRuns (natural, rendition) whose model pickles exist under ARTIFACTS_ROOT."""
    from classifier.ml.extractors import tiny_extractor_string
    from classifier.models import ClassifierRun

    write_centroid_heads(artifacts_root / "runs")
    common = dict(labels_source="intended_domain", method="centroid", classes=["natural", "rendition", "ambiguous"],
                  status="succeeded", extractor=extractor or tiny_extractor_string())
    natural = ClassifierRun.objects.create(name="nat", artifacts={"model": "runs/natural.pkl"},
                                           thresholds={"natural": 0.6, "rendition": 0.9}, **common)
    rendition = ClassifierRun.objects.create(name="ren", artifacts={"model": "runs/rendition.pkl"},
                                             thresholds={"natural": 0.9, "rendition": 0.6}, **common)
    return natural, rendition
