"""Pools and test sets with hand-planted embeddings, written in the embedding-directory layout
(``classifier.ml.embed``) without running an extractor: tiny, seeded, exact about who twins whom."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.conf import settings

from classifier.models import EmbeddingSet
from domainsieve.jobs import JobStatus
from labeling.models import Dataset, Image
from tests.factories import make_dataset, make_image

EXTRACTOR = "timm:efficientnet_lite0/pypi"
DIM = 16


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def near(v: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at cosine ~``cos`` from unit ``v``."""
    noise = rng.standard_normal(DIM).astype(np.float32)
    noise -= noise @ v * v
    noise /= np.linalg.norm(noise)
    return (cos * v + np.sqrt(1 - cos**2) * noise).astype(np.float32)


def write_embeddings(dataset: Dataset, images: list[Image], vectors: np.ndarray, *, extractor: str = EXTRACTOR,
                     chunk_size: int = 4) -> EmbeddingSet:
    path = f"embeddings/{dataset.id}/{abs(hash(extractor)) % 10**8}"
    out = Path(settings.ARTIFACTS_ROOT) / path
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "ids.npy", np.array([i.id for i in images], dtype=np.int64))
    for k, start in enumerate(range(0, len(images), chunk_size)):
        np.save(out / f"chunk_{k:05d}.npy", vectors[start:start + chunk_size].astype(np.float16))
    (out / "meta.json").write_text(json.dumps({"extractor": extractor, "dim": DIM, "count": len(images),
                                               "chunk_size": chunk_size, "dtype": "float16", "failed": []}))
    return EmbeddingSet.objects.create(dataset=dataset, extractor=extractor, path=path, dim=DIM, count=len(images),
                                       done=len(images), status=JobStatus.SUCCEEDED)


class World:
    """pool: 12 images; {p0, p1, p2} are near-duplicates (p2 has the most pixels), {p3, p4} too.
    testset: 4 images; t0 twins p5 (0.99), t1 twins p6 (0.93), t2 and t3 have no twin.
    empty: a test set with no images."""

    def __init__(self) -> None:
        rng = np.random.default_rng(7)
        self.pool = make_dataset(name="pool")
        self.p = [make_image(dataset=self.pool, seed=500 + i) for i in range(12)]
        Image.objects.filter(pk=self.p[2].pk).update(width=800, height=600)
        v = unit(rng, 12)
        v[1], v[2], v[4] = near(v[0], 0.98, rng), near(v[0], 0.97, rng), near(v[3], 0.96, rng)
        self.pool_vectors = v
        self.pool_set = write_embeddings(self.pool, self.p, v)
        self.testset = make_dataset(name="testset", kind=Dataset.Kind.TESTSET)
        self.t = [make_image(dataset=self.testset, seed=600 + i) for i in range(4)]
        tv = unit(rng, 4)
        tv[0], tv[1] = near(v[5], 0.99, rng), near(v[6], 0.93, rng)
        self.test_set = write_embeddings(self.testset, self.t, tv)
        self.empty = make_dataset(name="empty-testset", kind=Dataset.Kind.TESTSET)
