"""CSD style descriptors (Somepalli et al., "Measuring Style Similarity in Diffusion Models").

PAPER.md, "Methods as published": the CSD k-NN runs over the descriptors of the CSD style model, a
CLIP ViT-L/14 image tower (OpenAI layout, QuickGELU) whose output projection is replaced by a
learned style projection; a descriptor is ``normalize(tower(x) @ last_layer_style)``.

The released checkpoint (``checkpoint.pth``) holds ``model_state_dict`` with ``backbone.*`` (the
tower without ``proj``), ``last_layer_style`` and ``last_layer_content`` (each ``width x 768``),
keys possibly prefixed ``module.`` (DDP). open_clip's ``ViT-L-14-quickgelu`` tower has the same
parameter names, so the backbone loads into it by name; nothing is downloaded.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

CSD_DEFAULT_ARCH = "ViT-L-14-quickgelu"


class CSDCheckpointError(ValueError):
    """A file that is not a CSD checkpoint of the expected architecture."""


def csd_state(path: str | Path) -> dict[str, Any]:
    """The checkpoint's state dict with ``module.`` prefixes removed."""
    # A research checkpoint (dicts of tensors plus training metadata, its argparse options among
    # them): loaded with weights_only, so a crafted file cannot run code (unpickling is code).
    import argparse

    import torch

    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            raw = torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CSDCheckpointError(f"{path} holds objects other than tensors and plain data: {exc}") from exc
    state = raw.get("model_state_dict") or raw.get("state_dict") or raw if isinstance(raw, dict) else None
    if not isinstance(state, dict):
        raise CSDCheckpointError(f"{path} holds no state dict")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def build_csd_tower(path: str | Path, arch: str = CSD_DEFAULT_ARCH) -> tuple[nn.Module, int, Any]:
    """``(tower, descriptor dim, open_clip visual)``: the CSD style model from a checkpoint file.

    Raises CSDCheckpointError when the backbone does not match ``arch`` parameter for parameter or
    the style projection is missing.
    """
    import open_clip
    import torch
    from torch import nn

    state = csd_state(path)
    if "last_layer_style" not in state:
        raise CSDCheckpointError(f"{path} has no last_layer_style: not a CSD checkpoint")
    model = open_clip.create_model(arch, pretrained=None)
    visual = model.visual
    backbone = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    expected = {k for k in visual.state_dict() if k != "proj"}
    missing, unexpected = sorted(expected - set(backbone)), sorted(set(backbone) - expected - {"proj"})
    if missing or unexpected:
        raise CSDCheckpointError(f"{path} does not fit {arch}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    try:
        visual.load_state_dict({**backbone, "proj": visual.proj.detach()}, strict=True)
    except RuntimeError as exc:
        raise CSDCheckpointError(f"{path} does not fit {arch}: {exc}") from exc
    style = state["last_layer_style"].float()
    width = visual.proj.shape[0]
    if style.ndim != 2 or style.shape[0] != width:
        raise CSDCheckpointError(f"last_layer_style has shape {tuple(style.shape)}; {arch} needs ({width}, d)")
    visual.proj = None  # the tower's own projection is replaced by the style projection

    class CSDStyleTower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = visual
            self.style = nn.Parameter(style, requires_grad=False)

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            features = self.backbone(images)
            return torch.nn.functional.normalize(features @ self.style.to(features.dtype), dim=-1)

    return CSDStyleTower(), int(style.shape[1]), visual
