"""Small factories: real files on disk and real rows, no JSON fixtures."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image as PILImage

from labeling.models import Dataset, Image

_counter = iter(range(1, 10**9))


def jpeg_bytes(*, seed: int, size: tuple[int, int] = (96, 64), flat: bool = False) -> bytes:
    """A small JPEG: noisy texture (photo-like) or flat colour blocks (rendition-like)."""
    rng = np.random.default_rng(seed)
    if flat:
        array = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        array[:, : size[0] // 2] = rng.integers(0, 255, 3)
        array[:, size[0] // 2 :] = rng.integers(0, 255, 3)
    else:
        array = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def make_dataset(*, name: str | None = None, kind: str = Dataset.Kind.POOL, expected_domain: str = "") -> Dataset:
    return Dataset.objects.create(name=name or f"dataset-{next(_counter)}", kind=kind, expected_domain=expected_domain)


def make_image(*, dataset: Dataset, domain: str = "", seed: int | None = None, class_name: str = "") -> Image:
    """An Image row whose file and thumbnail really exist under MEDIA_ROOT."""
    seed = next(_counter) if seed is None else seed
    data = jpeg_bytes(seed=seed, flat=domain == "rendition")
    sha = hashlib.sha256(data).hexdigest()
    rel = f"images/{sha[:2]}/{sha}.jpg"
    thumb_rel = f"thumbs/{sha[:2]}/{sha}.jpg"
    for relative in (rel, thumb_rel):
        path = Path(settings.MEDIA_ROOT) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return Image.objects.create(
        dataset=dataset, sha256=sha, file=rel, thumb=thumb_rel, width=96, height=64, format="JPEG",
        size_bytes=len(data), uid=sha[:32], key=f"{seed:09d}", source=f"factory:{seed}",
        class_name=class_name, intended_domain=domain,
    )


def make_images(*, dataset: Dataset, n: int, domains: tuple[str, ...] = ("natural", "rendition", "ambiguous")) -> list[Image]:
    return [make_image(dataset=dataset, domain=domains[i % len(domains)]) for i in range(n)]
