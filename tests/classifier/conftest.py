"""Fixtures for the classifier app: labelled datasets of real small JPEGs (textured vs flat)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from classifier.ml.extractors import tiny_extractor_string
from labeling.models import Dataset
from tests.factories import make_dataset, make_image

TINY = tiny_extractor_string()


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def labelled_pool(db: None, media_root: Path) -> Dataset:
    """45 images, 15 per intended domain: natural noisy, rendition flat, ambiguous noisy. Fixed seeds:
    the same pixels whatever ran before (the factories' counter is global)."""
    dataset = make_dataset(name="pool")
    for i in range(45):
        make_image(dataset=dataset, domain=("natural", "rendition", "ambiguous")[i % 3], seed=10_000 + i)
    return dataset
