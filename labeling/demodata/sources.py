"""The real photographs the installed packages ship, loaded without any network access.

scikit-image keeps only a subset of its gallery inside the wheel (the rest is fetched by pooch on
first use); a loader that would need a download is skipped with a warning rather than failing the
build, so the demo set works on a machine that never reaches the internet.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class SourcePhoto:
    """One sample photograph: `label` is the ImageNet-style class its subject gives the test set."""

    label: str
    subject: str  # words for captions ("a photo of {subject}")
    origin: str  # where it came from, for the README
    rgb: np.ndarray  # H x W x 3 uint8


def _rgb(array: np.ndarray) -> np.ndarray:
    """Grey photos (the cameraman, the coins) stay photos: repeat the channel rather than drop them."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[:, :, :3])


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        result = getattr(skimage.data, name)()
        return result[0] if isinstance(result, tuple) else result  # stereo_motorcycle -> left view

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook

        with Image.open(matplotlib.cbook.get_sample_data(filename, asfileobj=False)) as image:
            return np.asarray(image.convert("RGB"))

    return load


# (label, subject, origin, loader). Only real photographs: the microscopy, telescope and synthetic
# images scikit-image also ships would make odd "natural" examples for a web-image classifier.
CATALOGUE: tuple[tuple[str, str, str, Callable[[], np.ndarray]], ...] = (
    ("astronaut", "an astronaut", "skimage.data.astronaut", _skimage("astronaut")),
    ("coffee", "a cup of coffee", "skimage.data.coffee", _skimage("coffee")),
    ("cat", "a cat", "skimage.data.chelsea", _skimage("chelsea")),
    ("rocket", "a rocket", "skimage.data.rocket", _skimage("rocket")),
    ("motorcycle", "a motorcycle", "skimage.data.stereo_motorcycle", _skimage("stereo_motorcycle")),
    ("cameraman", "a cameraman", "skimage.data.camera", _skimage("camera")),
    ("coins", "old coins", "skimage.data.coins", _skimage("coins")),
    ("temple", "a chinese temple", "sklearn china.jpg", _sklearn("china.jpg")),
    ("flower", "a flower", "sklearn flower.jpg", _sklearn("flower.jpg")),
    ("grace_hopper", "grace hopper", "matplotlib grace_hopper.jpg", _matplotlib("grace_hopper.jpg")),
)

_cache: list[SourcePhoto] | None = None


def load_source_photos() -> list[SourcePhoto]:
    """Every catalogue photo that loads offline, in catalogue order (cached per process).

    Raises RuntimeError when fewer than two load: the demo needs several subjects to be a demo.
    """
    global _cache
    if _cache is None:
        photos = []
        for label, subject, origin, loader in CATALOGUE:
            try:
                rgb = _rgb(loader())
            except Exception as error:  # noqa: BLE001 - any loader failure (pooch, missing file) means "skip"
                warnings.warn(f"demo data: skipping {origin}: {type(error).__name__}: {error}", stacklevel=2)
                continue
            photos.append(SourcePhoto(label=label, subject=subject, origin=origin, rgb=rgb))
        if len(photos) < 2:
            raise RuntimeError("fewer than two sample photos load offline; cannot build a demo set")
        _cache = photos
    return list(_cache)
