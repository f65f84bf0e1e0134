"""Small synthetic images for the library tests: noisy texture (natural) vs flat blocks (rendition)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(1)


def synthetic_images(n: int, *, seed: int = 0, size: int = 40) -> tuple[list[bytes], list[str]]:
    """JPEG bytes and labels cycling natural, rendition, ambiguous (half textured, half flat)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        label = ("natural", "rendition", "ambiguous")[i % 3]
        flat = np.zeros((size, size, 3), np.uint8)
        flat[:, : size // 2] = rng.integers(0, 255, 3)
        flat[:, size // 2 :] = rng.integers(0, 255, 3)
        noise = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        if label == "natural":
            array = noise
        elif label == "rendition":
            array = flat
        else:
            array = flat.copy()
            array[: size // 2] = noise[: size // 2]
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=90)
        images.append(buffer.getvalue())
        labels.append(label)
    return images, labels
