from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.ml.embed import embed_images, l2_normalize, load_embeddings, read_meta
from classifier.ml.extractors import build_extractor, tiny_extractor_string
from tests.classifier.ml.conftest import synthetic_images


def test_it_embeds_in_chunks_and_resumes_without_recomputing(tmp_path: Path) -> None:
    images, _ = synthetic_images(10)
    extractor = build_extractor(tiny_extractor_string(), seed=0)
    out = tmp_path / "emb"
    first = embed_images(extractor, images, out, ids=range(100, 110), batch_size=4, chunk_size=4)
    assert (first.chunks_written, first.chunks_skipped, first.count, first.dim) == (3, 0, 10, 32)
    ids, features = load_embeddings(out)
    assert ids.tolist() == list(range(100, 110)) and features.dtype == np.float16 and features.shape == (10, 32)
    # A crash after the first chunk: the rest is recomputed, the finished chunk is kept.
    for p in sorted(out.glob("chunk_*.npy"))[1:]:
        p.unlink()
    marker = np.load(out / "chunk_00000.npy")
    again = embed_images(extractor, images, out, ids=range(100, 110), batch_size=4, chunk_size=4)
    assert (again.chunks_written, again.chunks_skipped) == (2, 1)
    assert np.array_equal(np.load(out / "chunk_00000.npy"), marker)
    assert np.allclose(load_embeddings(out)[1], features, atol=1e-3)


def test_it_records_undecodable_images_as_failed_zero_rows(tmp_path: Path) -> None:
    images, _ = synthetic_images(3)
    images[1] = b"not an image"
    extractor = build_extractor(tiny_extractor_string())
    result = embed_images(extractor, images, tmp_path / "e", batch_size=2)
    _, features = load_embeddings(tmp_path / "e")
    assert result.failed == [1] and read_meta(tmp_path / "e")["failed"] == [1]
    assert not features[1].any() and features[0].any()
    assert np.allclose(np.linalg.norm(l2_normalize(features)[[0, 2]], axis=1), 1.0, atol=1e-3)


def test_it_refuses_to_mix_extractors_in_one_directory(tmp_path: Path) -> None:
    images, _ = synthetic_images(2)
    embed_images(build_extractor(tiny_extractor_string()), images, tmp_path / "e")
    other = build_extractor("timm:efficientnet_lite0/random", image_size=32)
    with pytest.raises(ValueError, match="another run"):
        embed_images(other, images, tmp_path / "e")
