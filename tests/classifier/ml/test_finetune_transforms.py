"""FT fits with open_clip's training transform (augmentation) and scores with the eval transform,
as the released code; both presets selectable, released the default."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from classifier.ml.embed import load_rgb
from classifier.ml.extractors import build_extractor, tiny_extractor_string
from classifier.ml.finetune import FT_PRESETS, finetune, train_preprocess
from classifier.ml.methods import MethodError
from tests.classifier.ml.conftest import synthetic_images

CLASSES = ["natural", "rendition", "ambiguous"]


class Counting:
    def __init__(self, transform: Any) -> None:
        self.transform, self.calls = transform, 0

    def __call__(self, image: Any) -> torch.Tensor:
        self.calls += 1
        return self.transform(image)


@pytest.mark.parametrize("name", [tiny_extractor_string(), "timm:efficientnet_lite0/random"])
def test_it_augments_for_training_and_not_for_evaluation(name: str) -> None:
    extractor = build_extractor(name, image_size=64 if name.startswith("timm") else None)
    image = load_rgb(synthetic_images(1, size=96)[0][0])
    torch.manual_seed(0)
    augmented = [train_preprocess(extractor)(image) for _ in range(4)]
    assert any(not torch.equal(augmented[0], a) for a in augmented[1:])  # random crops differ
    assert torch.equal(extractor.preprocess(image), extractor.preprocess(image))
    assert train_preprocess(extractor, "eval") is extractor.preprocess
    assert augmented[0].shape == extractor.preprocess(image).shape


@pytest.mark.parametrize("which,train_calls", [("train", 12), ("eval", 0)])
def test_it_fits_with_the_training_transform_and_validates_with_the_eval_one(which: str, train_calls: int) -> None:
    train, y = synthetic_images(12, seed=0)
    val, yv = synthetic_images(6, seed=1)
    extractor = build_extractor(tiny_extractor_string(), seed=0)
    extractor.preprocess_train = Counting(extractor.preprocess_train)
    extractor.preprocess = Counting(extractor.preprocess)
    result = finetune(extractor, train, y, val, yv, CLASSES, overrides={"epochs": 1, "batch_size": 6,
                                                                         "train_transform": which})
    assert extractor.preprocess_train.calls == train_calls
    # Validation (once per epoch) always reads the eval transform; without augmentation training does too.
    assert extractor.preprocess.calls == 6 + (12 if which == "eval" else 0)
    assert result.hyperparameters["train_transform"] == which and result.hyperparameters["preset"] == "released"


def test_it_keeps_both_presets_training_with_augmentation() -> None:
    assert {p["train_transform"] for p in FT_PRESETS.values()} == {"train"}
    assert (FT_PRESETS["released"]["lr"], FT_PRESETS["paper"]["lr"]) == (0.01, 0.1)
    train, y = synthetic_images(6)
    with pytest.raises(MethodError, match="unknown train_transform"):
        finetune(build_extractor(tiny_extractor_string()), train, y, train, y, CLASSES,
                 overrides={"train_transform": "jitter"})
    assert np.isclose(FT_PRESETS["paper"]["weight_decay"], 5e-4)
