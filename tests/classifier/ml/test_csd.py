"""csd:PATH: the CSD style model (CLIP tower + learned style projection) from a checkpoint file,
tested with randomly initialized checkpoints of the released layout (no download)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from classifier.ml.embed import load_rgb
from classifier.ml.extractors import ExtractorError, build_extractor, parse_extractor, register_tiny_openclip
from classifier.ml.methods import fit_method
from tests.classifier.ml.conftest import synthetic_images


def write_csd_checkpoint(path: Path, arch: str, *, seed: int = 0, drop: str = "") -> dict[str, torch.Tensor]:
    """The released layout: {"model_state_dict": {"module.backbone.*", "module.last_layer_style", ...}}."""
    import open_clip

    register_tiny_openclip()
    torch.manual_seed(seed)
    visual = open_clip.create_model(arch, pretrained=None).visual
    state = {f"backbone.{k}": v for k, v in visual.state_dict().items() if k != "proj"}
    state["last_layer_style"] = torch.randn_like(visual.proj)
    state["last_layer_content"] = torch.randn_like(visual.proj)
    state.pop(drop, None)
    torch.save({"model_state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    return state


def test_it_gives_unit_style_descriptors_from_the_checkpoint(tmp_path: Path) -> None:
    state = write_csd_checkpoint(tmp_path / "csd.pth", "ds-tiny-vit")
    spec = parse_extractor(f"csd:ds-tiny-vit/{tmp_path / 'csd.pth'}")
    assert parse_extractor(str(spec)) == spec and spec.family == "csd"
    extractor = build_extractor(str(spec))
    images, labels = synthetic_images(6, seed=2)
    batch = torch.stack([extractor.preprocess(load_rgb(b)) for b in images])
    descriptors = extractor.encode(batch).numpy()
    assert descriptors.shape == (6, state["last_layer_style"].shape[1])
    assert np.allclose(np.linalg.norm(descriptors, axis=1), 1, atol=1e-5)
    # By hand: the tower without its projection, times the style projection, normalized.
    import open_clip

    visual = open_clip.create_model("ds-tiny-vit", pretrained=None).visual
    visual.load_state_dict({**{k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")},
                            "proj": visual.proj.detach()})
    visual.proj = None
    with torch.no_grad():
        expected = torch.nn.functional.normalize(visual.eval()(batch) @ state["last_layer_style"], dim=-1)
    assert np.allclose(descriptors, expected.numpy(), atol=1e-5)
    # The content projection is not what k-NN sees.
    with torch.no_grad():
        content = torch.nn.functional.normalize(visual(batch) @ state["last_layer_content"], dim=-1)
    assert not np.allclose(descriptors, content.numpy(), atol=1e-3)
    # And the k-NN method runs over them.
    model = fit_method("knn-R", descriptors, np.array(labels), ["natural", "rendition", "ambiguous"],
                       x_val=descriptors, y_val=np.array(labels), hyperparameters={"ks": [1]})
    assert model.scores(descriptors).shape == (6, 1)


def test_it_refuses_files_that_are_not_csd_checkpoints(tmp_path: Path) -> None:
    write_csd_checkpoint(tmp_path / "nostyle.pth", "ds-tiny-vit", drop="last_layer_style")
    with pytest.raises(ExtractorError, match="no last_layer_style"):
        build_extractor(f"csd:ds-tiny-vit/{tmp_path / 'nostyle.pth'}")
    write_csd_checkpoint(tmp_path / "tiny.pth", "ds-tiny-vit")
    with pytest.raises(ExtractorError, match="does not fit ViT-B-32"):
        build_extractor(f"csd:ViT-B-32/{tmp_path / 'tiny.pth'}")
    with pytest.raises(ExtractorError, match="not found"):
        build_extractor(f"csd:{tmp_path / 'missing.pth'}")
    with pytest.raises(ExtractorError, match="needs a checkpoint path"):
        parse_extractor("csd:ViT-L-14-quickgelu")
    assert parse_extractor("csd:/x/checkpoint.pth").arch == "ViT-L-14-quickgelu"


@pytest.mark.slow  # a random 300M-parameter ViT-L/14 written to disk and read back: ~1 min, 3 GB RAM
def test_it_loads_a_random_checkpoint_of_the_published_vit_l_architecture(tmp_path: Path) -> None:
    write_csd_checkpoint(tmp_path / "csd_vitl.pth", "ViT-L-14-quickgelu")
    extractor = build_extractor(f"csd:{tmp_path / 'csd_vitl.pth'}")
    assert (extractor.dim, extractor.image_size) == (768, 224)
    batch = torch.stack([extractor.preprocess(load_rgb(b)) for b in synthetic_images(2)[0]])
    out = extractor.encode(batch).numpy()
    assert out.shape == (2, 768) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-4)


class _RunsCode:
    """A pickle that would create a file when loaded (what a crafted checkpoint can do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_it_refuses_a_checkpoint_that_would_run_code(tmp_path: Path) -> None:
    from classifier.ml.csd import CSDCheckpointError, csd_state

    marker = tmp_path / "ran"
    torch.save({"model_state_dict": {}, "trap": _RunsCode(marker)}, tmp_path / "evil.pth")
    with pytest.raises(CSDCheckpointError, match="objects other than tensors"):
        csd_state(tmp_path / "evil.pth")
    assert not marker.exists()


def test_it_reads_a_checkpoint_with_its_training_options(tmp_path: Path) -> None:
    import argparse

    from classifier.ml.csd import csd_state

    torch.save({"model_state_dict": {"module.w": torch.ones(2)}, "args": argparse.Namespace(lr=0.1)},
               tmp_path / "csd.pth")
    assert list(csd_state(tmp_path / "csd.pth")) == ["w"]
