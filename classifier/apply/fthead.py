"""A fine-tuned (FT) classifier as an apply head: it scores decoded images, not stored features.

An FT run's checkpoint (``ft.pt``, ``classifier.ml.finetune``) holds the whole fine-tuned image
tower plus its linear readout, and names the base extractor it was trained from. Its eval
preprocessing is that base extractor's, so when the other head is an embedding method over the
same extractor both read one preprocessed pixel batch (``PixelBatch``): each shard batch is decoded
and preprocessed once, then run through the frozen tower (features) and the fine-tuned tower.

Pure (no Django). torch is imported where used: web processes import ``is_finetuned_artifact``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def is_finetuned_artifact(path: str | Path) -> bool:
    """FT runs save a torch checkpoint (``ft.pt``); embedding methods a pickle (``model.pkl``)."""
    return Path(path).suffix in (".pt", ".pth")


class PixelBatch:
    """Preprocess a decoded batch once for every consumer of the same images.

    The memo holds the images it saw (strong references, so identities cannot be reused) and
    recomputes when called with any other batch.
    """

    def __init__(self, preprocess: Callable[[Any], torch.Tensor]) -> None:
        self.preprocess = preprocess
        self._images: list[Any] = []
        self._pixels: torch.Tensor | None = None
        self.computed = 0  # batches actually preprocessed (tests check the sharing)

    def __call__(self, images: Sequence[Any]) -> torch.Tensor:
        same = self._pixels is not None and len(images) == len(self._images) and all(
            a is b for a, b in zip(images, self._images, strict=True))
        if not same:
            import torch

            self._pixels = torch.stack([self.preprocess(image) for image in images])
            self._images = list(images)
            self.computed += 1
        assert self._pixels is not None
        return self._pixels


class FineTunedHead:
    """``predict_proba_images(images) -> (n, len(classes))``: softmax of the FT readout, scored classes only,
    or density ratios for a ``dr-ft`` run (the same numbers as ``finetune_scores`` on the same images)."""

    def __init__(self, result: Any, extractor: Any, pixels: PixelBatch) -> None:
        self.result = result
        self.extractor = extractor
        self.pixels = pixels
        self.classes: list[str] = list(result.classes)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu", precision: str = "fp32",
             expected_extractor: str | None = None,
             pixels_for: Callable[[Callable[[Any], torch.Tensor]], PixelBatch] | None = None) -> FineTunedHead:
        """Load ``ft.pt`` onto ``device``. ``expected_extractor``: refuse a checkpoint trained from another base
        extractor (its preprocessing and the other head's features would not match). ``pixels_for(preprocess)``
        returns the shared pixel memo (default: a private one)."""
        from classifier.ml.extractors import parse_extractor
        from classifier.ml.finetune import load_finetuned

        result, extractor = load_finetuned(path, device=device, precision=precision)
        if expected_extractor is not None and str(extractor.spec) != str(parse_extractor(expected_extractor)):
            raise ValueError(f"the fine-tuned model {path} was trained from {extractor.spec}, not {expected_extractor}")
        pixels = pixels_for(extractor.preprocess) if pixels_for is not None else PixelBatch(extractor.preprocess)
        return cls(result, extractor, pixels)

    def predict_proba_images(self, images: list[Any]) -> np.ndarray:
        import torch

        if not images:
            return np.zeros((0, len(self.classes)), np.float32)
        device = self.extractor.device
        use_amp = device.type == "cuda" and self.extractor.precision in ("amp", "fp16")
        batch = self.pixels(images).to(device, non_blocking=True)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            probs = torch.softmax(self.result.net(batch).float(), dim=-1)
        from classifier.ml.finetune import scores_from_probs

        # Softmax of the scored classes, or density ratios for a dr-ft run.
        return scores_from_probs(self.result, probs.cpu().numpy()).astype(np.float32)
