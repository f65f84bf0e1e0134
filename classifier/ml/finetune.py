"""FT: fine-tune the image tower with a linear readout on L2-normalized features.

Presets: ``paper`` (SGD lr 0.1, wd 5e-4, batch 256, 50 epochs, lr x0.1 every 20) and
``released`` (the released code: lr 0.01, momentum 0.9, step 12; the default). Both train with
open_clip's training transform (augmentation) and validate and score with the eval transform, as
the released code does (``train_transform: "eval"`` turns augmentation off). The checkpoint kept
is the one with the lowest validation loss. Variants: ``ft`` (ternary), ``ft-N`` / ``ft-R`` (the class
against the rest), ``-balanced`` (class-weighted cross-entropy), and ``dr-ft-N`` / ``dr-ft-R``, the
published density ratio on a fine-tuned backbone (``finetune_density_ratio``).
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from classifier.ml.density_ratio import DEFAULT_FOLDS, cross_fit, ratio_from_logits
from classifier.ml.embed import ImageListDataset, ImageSource
from classifier.ml.extractors import Extractor, build_extractor
from classifier.ml.finetune_presets import DEFAULT_FT_PRESET, FT_PRESET_NOTES, FT_PRESETS, TRAIN_TRANSFORMS
from classifier.ml.methods import BINARY_TARGET, MethodError, check_labels

__all__ = ["DEFAULT_FT_PRESET", "FT_PRESETS", "FT_PRESET_NOTES", "TRAIN_TRANSFORMS", "finetune",
           "finetune_density_ratio", "finetune_scores", "load_finetuned", "scores_from_probs", "train_preprocess"]
REST = "rest"


class FineTuneNet(nn.Module):
    def __init__(self, tower: nn.Module, dim: int, n_out: int) -> None:
        super().__init__()
        self.tower = tower
        self.head = nn.Linear(dim, n_out)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(F.normalize(self.tower(images).float(), dim=-1))


@dataclass
class FineTuneResult:
    method: str
    classes: list[str]  # the classes scored (one for binary variants)
    out_classes: list[str]  # the readout's outputs (binary: [target, "rest"])
    net: FineTuneNet
    hyperparameters: dict[str, Any]
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)

    def save(self, path: str | Path, extractor: str) -> None:
        torch.save({"state_dict": self.net.state_dict(), "method": self.method, "classes": self.classes,
                    "out_classes": self.out_classes, "hyperparameters": self.hyperparameters,
                    "extractor": extractor, "best_epoch": self.best_epoch, "history": self.history}, path)


def parse_ft_method(method: str, classes: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """``(scored classes, readout outputs, balanced)`` for an FT method name."""
    parts = method.split("-")
    if parts[0] != "ft" or any(p not in ("N", "R", "balanced") for p in parts[1:]):
        raise MethodError(f"unknown fine-tuning method {method!r}")
    balanced = "balanced" in parts
    targets = [BINARY_TARGET[p] for p in parts[1:] if p in BINARY_TARGET]
    if targets:
        return [targets[0]], [targets[0], REST], balanced
    return list(classes), list(classes), balanced


def finetune(extractor: Extractor, train: Sequence[ImageSource], y_train: Sequence[str], val: Sequence[ImageSource],
             y_val: Sequence[str], classes: Sequence[str], *, method: str = "ft", preset: str = "released",
             overrides: dict[str, Any] | None = None, num_workers: int = 0, max_steps: int | None = None,
             seed: int = 0, progress: Callable[[int, int], None] | None = None) -> FineTuneResult:
    """Fine-tune ``extractor.model`` in place (pass a fresh extractor). ``max_steps`` caps optimizer steps
    per epoch (tests, smoke runs). ``progress(epoch, epochs)`` after each epoch."""
    if preset not in FT_PRESETS:
        raise MethodError(f"unknown FT preset {preset!r}; expected one of {', '.join(FT_PRESETS)}")
    hp = {**FT_PRESETS[preset], **(overrides or {}), "preset": preset}
    if hp["train_transform"] not in TRAIN_TRANSFORMS:
        raise MethodError(f"unknown train_transform {hp['train_transform']!r}; expected one of "
                          f"{', '.join(TRAIN_TRANSFORMS)}")
    scored, outputs, balanced = parse_ft_method(method, classes)
    check_labels(y_train, classes)
    check_labels(y_val, classes, what="validation")
    yt, yv = _targets(y_train, outputs), _targets(y_val, outputs)
    torch.manual_seed(seed)
    device = extractor.device
    net = FineTuneNet(extractor.model.float(), extractor.dim, len(outputs)).to(device)
    weight = None
    if balanced:
        counts = np.bincount(yt, minlength=len(outputs)).astype(np.float64)
        weight = torch.tensor(counts.sum() / (len(outputs) * np.maximum(counts, 1)), dtype=torch.float32, device=device)
    optimizer = torch.optim.SGD(net.parameters(), lr=hp["lr"], momentum=hp["momentum"], weight_decay=hp["weight_decay"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=hp["step_size"], gamma=hp["gamma"])
    generator = torch.Generator().manual_seed(seed)
    train_transform = train_preprocess(extractor, hp["train_transform"])
    train_loader = DataLoader(_Labelled(ImageListDataset(train, train_transform, extractor.image_size), yt),
                              batch_size=hp["batch_size"], shuffle=True, num_workers=num_workers, generator=generator,
                              drop_last=False)
    use_amp = device.type == "cuda" and extractor.precision in ("amp", "fp16")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    best_loss, best_state, best_epoch, history = float("inf"), None, -1, []
    for epoch in range(hp["epochs"]):
        started = time.perf_counter()
        net.train()
        total, seen = 0.0, 0
        for step, (images, targets) in enumerate(train_loader):
            if max_steps is not None and step >= max_steps:
                break
            images, targets = images.to(device), targets.to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = F.cross_entropy(net(images), targets, weight=weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += float(loss.detach()) * len(targets)
            seen += len(targets)
        scheduler.step()
        val_loss = _loss(net, val, yv, extractor, weight, hp["batch_size"], num_workers)
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": val_loss,
                        "seconds": time.perf_counter() - started})
        if val_loss < best_loss:
            best_loss, best_state, best_epoch = val_loss, copy.deepcopy(net.state_dict()), epoch
        if progress is not None:
            progress(epoch + 1, hp["epochs"])
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return FineTuneResult(method, scored, outputs, net, hp, best_epoch, history)


def train_preprocess(extractor: Extractor, which: str = "train") -> Callable[[Any], torch.Tensor]:
    """The transform FT fits with: the extractor's training transform (open_clip's augmentation) for
    ``"train"``, its eval transform for ``"eval"``. Validation and scoring always use the eval one."""
    if which == "train" and extractor.preprocess_train is not None:
        return extractor.preprocess_train
    return extractor.preprocess


def finetune_scores(result_or_net: FineTuneResult, sources: Sequence[ImageSource], extractor: Extractor, *,
                    batch_size: int = 256, num_workers: int = 0) -> np.ndarray:
    """Scores ``(n, len(result.classes))`` for the scored classes: softmax probabilities, or density
    ratios for a ``dr-ft-*`` result (``scores_from_probs``)."""
    probs = _probs(result_or_net.net, sources, extractor, batch_size, num_workers)
    return scores_from_probs(result_or_net, probs)


def scores_from_probs(result: FineTuneResult, probs: np.ndarray) -> np.ndarray:
    """The readout's softmax -> the result's scores: the scored classes' probabilities, or for a
    density-ratio result ``p/(1-p) * n_reference/n_shifted`` with its cross-fitted temperature."""
    keep = [result.out_classes.index(c) for c in result.classes]
    scored = np.asarray(probs)[:, keep]
    dr = result.hyperparameters.get("density_ratio")
    if dr is None:
        return scored
    p = np.clip(scored.astype(np.float64), 1e-12, 1 - 1e-12)
    return ratio_from_logits(np.log(p / (1 - p)), dr["temperature"], dr["prior_correction"]).astype(np.float32)


def finetune_density_ratio(make_extractor: Callable[[], Extractor], train: Sequence[ImageSource],
                           y_train: Sequence[str], val: Sequence[ImageSource], y_val: Sequence[str], target: str, *,
                           folds: int = DEFAULT_FOLDS, preset: str = "released",
                           overrides: dict[str, Any] | None = None, num_workers: int = 0,
                           max_steps: int | None = None, seed: int = 0,
                           progress: Callable[[int, int], None] | None = None) -> FineTuneResult:
    """``dr-ft-N`` / ``dr-ft-R``: the published density ratio with a fine-tuned backbone
    (``classifier.ml.density_ratio``). ``folds`` fine-tunes, each on all training images but one
    fold, give every training image an out-of-fold logit; one temperature is fitted on them; a final
    fine-tune on all training images scores new ones. ``make_extractor()`` returns a fresh
    pretrained extractor each call. Cost: ``folds + 1`` fine-tunes (GPU).
    """
    y = np.asarray(y_train)
    positive = y == target
    check_labels(positive, [True, False], what=f"{target}-vs-rest", minimum=2)
    k = int(min(folds, positive.sum(), (~positive).sum()))
    binary = np.where(positive, target, REST)
    binary_val = np.where(np.asarray(y_val) == target, target, REST)
    method = f"ft-{'N' if target == 'natural' else 'R'}"
    sources = list(train)
    total = k + 1

    def fit_fold(train_idx: np.ndarray, held: np.ndarray, _candidate: object) -> np.ndarray:
        extractor = make_extractor()
        result = finetune(extractor, [sources[i] for i in train_idx], binary[train_idx], val, binary_val,
                          [target, REST], method=method, preset=preset, overrides=overrides,
                          num_workers=num_workers, max_steps=max_steps, seed=seed)
        p = np.clip(finetune_scores(result, [sources[i] for i in held], extractor)[:, 0].astype(np.float64),
                    1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    fit = cross_fit(len(sources), positive, fit_fold, k=k, seed=seed,
                    progress=None if progress is None else lambda done, _n: progress(done, total))
    final = finetune(make_extractor(), sources, binary, val, binary_val, [target, REST], method=method, preset=preset,
                     overrides=overrides, num_workers=num_workers, max_steps=max_steps, seed=seed)
    if progress is not None:
        progress(total, total)
    final.method = f"dr-{method}"
    final.hyperparameters["density_ratio"] = {
        "temperature": fit.temperature, "prior_correction": fit.prior_correction, "folds": k,
        "folds_requested": int(folds), "n_shifted": fit.n_shifted, "n_reference": fit.n_reference,
        "oof_auc": next(iter(fit.auc_by_param.values())),
        "oof_ratio": fit.ratio(fit.oof_logits).astype(np.float32).tolist()}
    return final


def load_finetuned(path: str | Path, *, device: str | torch.device = "cpu", precision: str = "fp32"
                   ) -> tuple[FineTuneResult, Extractor]:
    """Rebuild a saved FT model and the extractor (preprocessing) it was trained from."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    extractor = build_extractor(saved["extractor"], device="cpu", precision="fp32")
    net = FineTuneNet(extractor.model, extractor.dim, len(saved["out_classes"]))
    net.load_state_dict(saved["state_dict"])
    extractor.device = torch.device(device)
    extractor.precision = precision
    net.to(extractor.device).eval()
    result = FineTuneResult(saved["method"], saved["classes"], saved["out_classes"], net,
                            saved["hyperparameters"], saved["best_epoch"], saved["history"])
    return result, extractor


class _Labelled(torch.utils.data.Dataset):
    def __init__(self, images: ImageListDataset, targets: np.ndarray) -> None:
        self.images, self.targets = images, targets

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index][0], int(self.targets[index])


def _targets(y: Sequence[str], outputs: Sequence[str]) -> np.ndarray:
    if outputs[-1] == REST:
        return np.array([0 if v == outputs[0] else 1 for v in y], dtype=np.int64)
    lookup = {c: i for i, c in enumerate(outputs)}
    return np.array([lookup[v] for v in y], dtype=np.int64)


def _probs(net: FineTuneNet, sources: Sequence[ImageSource], extractor: Extractor, batch_size: int,
           num_workers: int) -> np.ndarray:
    loader = DataLoader(ImageListDataset(sources, extractor.preprocess, extractor.image_size),
                        batch_size=batch_size, num_workers=num_workers)
    net.eval()
    parts = []
    use_amp = extractor.device.type == "cuda" and extractor.precision in ("amp", "fp16")
    with torch.no_grad(), torch.autocast(extractor.device.type, dtype=torch.float16, enabled=use_amp):
        for images, _ok in loader:
            parts.append(torch.softmax(net(images.to(extractor.device)).float(), dim=-1).cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, net.head.out_features), np.float32)


def _loss(net: FineTuneNet, sources: Sequence[ImageSource], targets: np.ndarray, extractor: Extractor,
          weight: torch.Tensor | None, batch_size: int, num_workers: int) -> float:
    probs = torch.from_numpy(_probs(net, sources, extractor, batch_size, num_workers))
    w = weight.cpu() if weight is not None else None
    return float(F.nll_loss(torch.log(probs.clamp_min(1e-12)), torch.from_numpy(targets), weight=w))
