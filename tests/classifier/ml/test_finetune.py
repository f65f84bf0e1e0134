from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.ml.extractors import build_extractor, tiny_extractor_string
from classifier.ml.finetune import FT_PRESETS, finetune, finetune_scores, load_finetuned
from classifier.ml.methods import MethodError
from tests.classifier.ml.conftest import synthetic_images

CLASSES = ["natural", "rendition", "ambiguous"]


def test_it_fine_tunes_the_tower_keeps_the_best_val_checkpoint_and_reloads(tmp_path: Path) -> None:
    train, y = synthetic_images(24, seed=0)
    val, yv = synthetic_images(12, seed=1)
    extractor = build_extractor(tiny_extractor_string(), seed=0)
    before = next(extractor.model.parameters()).detach().clone()
    result = finetune(extractor, train, y, val, yv, CLASSES, method="ft-balanced", preset="released",
                      overrides={"epochs": 3, "batch_size": 8, "lr": 0.05}, max_steps=2)
    assert len(result.history) == 3
    assert result.best_epoch == int(np.argmin([h["val_loss"] for h in result.history]))
    assert not np.allclose(before.numpy(), next(result.net.tower.parameters()).detach().numpy())
    scores = finetune_scores(result, val, extractor)
    assert scores.shape == (12, 3) and np.allclose(scores.sum(1), 1, atol=1e-5)
    result.save(tmp_path / "ft.pt", tiny_extractor_string())
    loaded, extractor2 = load_finetuned(tmp_path / "ft.pt")
    assert np.allclose(finetune_scores(loaded, val, extractor2), scores, atol=1e-5)


def test_it_trains_binary_variants_scoring_one_class() -> None:
    train, y = synthetic_images(12, seed=0)
    extractor = build_extractor(tiny_extractor_string(), seed=0)
    result = finetune(extractor, train, y, train, y, CLASSES, method="ft-R", overrides={"epochs": 1, "batch_size": 6})
    assert result.classes == ["rendition"] and result.out_classes == ["rendition", "rest"]
    assert finetune_scores(result, train[:3], extractor).shape == (3, 1)


def test_it_carries_the_paper_and_released_presets_and_refuses_others() -> None:
    assert FT_PRESETS["paper"]["lr"] == 0.1 and FT_PRESETS["paper"]["step_size"] == 20
    assert FT_PRESETS["released"]["momentum"] == 0.9 and FT_PRESETS["released"]["step_size"] == 12
    train, y = synthetic_images(6)
    with pytest.raises(MethodError):
        finetune(build_extractor(tiny_extractor_string()), train, y, train, y, CLASSES, preset="adam")
