"""Zero-shot classification with a CLIP model: prompt-ensembled class weights, masked top-k.

Pure torch/open_clip (no Django). Inference runs under ``torch.no_grad``; the device is explicit.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATES_FILE = Path(__file__).resolve().parent / "openai_imagenet_templates.json"


def load_templates(path: str | Path | None = None) -> list[str]:
    """Prompt templates with one ``{}`` for the class name; the 80 OpenAI ImageNet ones by default."""
    templates = json.loads(Path(path or TEMPLATES_FILE).read_text())
    if not templates or not all(isinstance(t, str) and "{}" in t for t in templates):
        raise ValueError("templates must be a non-empty JSON list of strings containing '{}'")
    return templates


def load_model(model_name: str, checkpoint: str, *, device: str = "cpu",
               config_dirs: Sequence[Path] = ()) -> tuple[Any, Any, Any]:
    """(model, preprocess, tokenizer) through open_clip's real loading path. ``checkpoint`` is a
    local file (an OpenCLIP training checkpoint or weights) or a pretrained tag."""
    import open_clip

    for directory in config_dirs:
        config = Path(directory) / f"{model_name}.json"
        if config.exists():
            open_clip.add_model_config(config)
    pretrained = checkpoint or None
    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained, device=device)
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(model_name)


def class_weights(model: Any, tokenizer: Any, classnames: Sequence[str], templates: Sequence[str], *,
                  device: str = "cpu", classes_per_batch: int = 16) -> Any:
    """(embed_dim, n_classes) weights: each column the normalized mean of the normalized text
    embeddings of the class name in every template."""
    import torch

    columns = []
    with torch.no_grad():
        for start in range(0, len(classnames), classes_per_batch):
            batch = list(classnames[start:start + classes_per_batch])
            texts = tokenizer([t.format(c) for c in batch for t in templates]).to(device)
            emb = model.encode_text(texts, normalize=True).reshape(len(batch), len(templates), -1).mean(dim=1)
            columns.append(emb / emb.norm(dim=1, keepdim=True))
    return torch.cat(columns, dim=0).T


@dataclass
class ZeroShotScore:
    top1: float
    top5: float
    n: int
    n_classes: int


def evaluate(model: Any, preprocess: Any, weights: Any, samples: Sequence[tuple[str, int]], *,
             class_mask: Sequence[bool] | None = None, device: str = "cpu", batch_size: int = 64) -> ZeroShotScore:
    """Top-1/top-5 accuracy over (image path, class index) samples. Masked-out classes (False in
    ``class_mask``: classes with no images in this test set) can never be predicted."""
    import torch
    from PIL import Image

    if not samples:
        raise ValueError("no images to evaluate")
    n_classes = weights.shape[1]
    mask = torch.ones(n_classes, dtype=torch.bool) if class_mask is None else torch.tensor(list(class_mask))
    k = min(5, int(mask.sum()))
    correct1 = correct5 = 0
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start:start + batch_size]
            pixels = torch.stack([preprocess(Image.open(path).convert("RGB")) for path, _ in chunk]).to(device)
            feats = model.encode_image(pixels, normalize=True)
            logits = (feats @ weights).float().cpu()
            logits[:, ~mask] = float("-inf")
            target = torch.tensor([label for _, label in chunk])
            topk = logits.topk(k, dim=1).indices
            hits = topk == target[:, None]
            correct1 += int(hits[:, 0].sum())
            correct5 += int(hits.any(dim=1).sum())
    n = len(samples)
    return ZeroShotScore(top1=correct1 / n, top5=correct5 / n, n=n, n_classes=int(mask.sum()))
