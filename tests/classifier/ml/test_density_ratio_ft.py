"""dr-ft: the published density ratio with a fine-tuned backbone (K fine-tunes + a final one).

The real setting is ViT-L-14 on a GPU (K = 10); here a tiny random ViT on CPU with 3 folds checks
the machinery: out-of-fold logits from K fine-tunes, one temperature, ratio scores that survive a
save and reload, and the apply head scoring the same numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.ml.extractors import build_extractor, tiny_extractor_string
from classifier.ml.finetune import finetune_density_ratio, finetune_scores, load_finetuned
from tests.classifier.ml.conftest import synthetic_images

pytestmark = pytest.mark.slow  # 4 fine-tunes of a tiny ViT: ~30 s on two CPU cores


def test_it_cross_fits_a_fine_tuned_density_ratio_and_reloads_it(tmp_path: Path) -> None:
    train, y = synthetic_images(24, seed=0)
    val, yv = synthetic_images(9, seed=1)
    calls = []

    def fresh() -> object:
        calls.append(1)
        return build_extractor(tiny_extractor_string(), seed=0)

    result = finetune_density_ratio(fresh, train, y, val, yv, "rendition", folds=3,
                                    overrides={"epochs": 1, "batch_size": 8, "lr": 0.05}, max_steps=2)
    assert len(calls) == 4  # 3 fold models + the final one
    dr = result.hyperparameters["density_ratio"]
    n_rendition = int((np.asarray(y) == "rendition").sum())
    assert dr["folds"] == 3 and dr["prior_correction"] == pytest.approx((len(y) - n_rendition) / n_rendition)
    assert dr["temperature"] > 0 and len(dr["oof_ratio"]) == len(train)
    assert result.method == "dr-ft-R" and result.classes == ["rendition"]
    extractor = build_extractor(tiny_extractor_string(), seed=0)
    ratios = finetune_scores(result, val, extractor)
    assert ratios.shape == (9, 1) and (ratios > 0).all() and not np.allclose(ratios.sum(1), 1)
    result.save(tmp_path / "dr.pt", tiny_extractor_string())
    loaded, extractor2 = load_finetuned(tmp_path / "dr.pt")
    assert np.allclose(finetune_scores(loaded, val, extractor2), ratios, rtol=1e-4)

    from classifier.apply.fthead import FineTunedHead
    from classifier.apply.process import decode_rgb

    head = FineTunedHead.load(tmp_path / "dr.pt")
    images = [decode_rgb(b) for b in val]
    assert np.allclose(head.predict_proba_images(images), ratios, rtol=1e-3)
