"""The domain rule: two heads scored separately, combined per PAPER.md.

- ``p_natural``: the natural classifier's probability of its ``natural`` class.
- ``p_rendition``: the rendition classifier's probability of its ``rendition`` class.
- ``p_ambiguous``: the ``ambiguous`` column of a ternary head (the natural head's if it has one,
  else the rendition head's); with two binary heads, ``1 - max(p_natural, p_rendition)``.
- ``domain``: natural if only the natural head fires (``p_natural >= t_natural``), rendition if
  only the rendition head fires, ambiguous when both or neither fire.

Strict thresholds are the classifier runs' 98%-precision ones; default thresholds are the runs'
own default (0.5 unless the run says otherwise).

A head is either a feature head (``predict_proba(features)``: an embedding method over the frozen
extractor) or an image head (``predict_proba_images(images)``: a fine-tuned tower that scores the
decoded images itself). ``HeadPair.score_images`` computes the extractor's features only when a
feature head needs them; ``HeadPair.score`` (stored embeddings) refuses a pair with an image head.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

NATURAL, RENDITION, AMBIGUOUS = "natural", "rendition", "ambiguous"
DOMAINS = (NATURAL, RENDITION, AMBIGUOUS)
FT_NEEDS_IMAGES = "FT runs need images; use shard input (a fine-tuned tower cannot score stored embeddings)"


class Head(Protocol):
    """Anything that scores (n, d) float32 features into (n, C) probabilities in ``classes`` order."""

    classes: Sequence[str]

    def predict_proba(self, features: np.ndarray) -> np.ndarray: ...


class ImageHead(Protocol):
    """A head that scores decoded RGB images itself (a fine-tuned tower): (n, C) in ``classes`` order."""

    classes: Sequence[str]

    def predict_proba_images(self, images: list[Any]) -> np.ndarray: ...


def is_image_head(head: object) -> bool:
    return callable(getattr(head, "predict_proba_images", None))


@dataclass(frozen=True)
class Thresholds:
    natural: float
    rendition: float

    def as_dict(self) -> dict[str, float]:
        return {NATURAL: self.natural, RENDITION: self.rendition}


@dataclass
class HeadPair:
    natural: Head | ImageHead
    rendition: Head | ImageHead

    @property
    def needs_images(self) -> bool:
        return is_image_head(self.natural) or is_image_head(self.rendition)

    def score(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(p_natural, p_rendition, p_ambiguous)`` float32 arrays of length n, from features."""
        if self.needs_images:
            raise ValueError(FT_NEEDS_IMAGES)
        features = np.asarray(features, dtype=np.float32)
        return self._combine(self.natural.predict_proba(features), self.rendition.predict_proba(features))

    def score_images(self, images: list[Any], embed_fn: Callable[[list[Any]], np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score one decoded batch: image heads see ``images``; ``embed_fn(images)`` is called at most
        once, and only when a feature head needs the extractor's features."""
        features: np.ndarray | None = None

        def probs(head: Head | ImageHead) -> np.ndarray:
            nonlocal features
            if is_image_head(head):
                out = np.asarray(head.predict_proba_images(images), dtype=np.float32)  # type: ignore[union-attr]
                if out.shape[0] != len(images):
                    raise ValueError(f"a fine-tuned head returned {out.shape[0]} rows for {len(images)} images")
                return out
            if features is None:
                features = np.asarray(embed_fn(images), dtype=np.float32)
                if features.shape[0] != len(images):
                    raise ValueError(f"embed_fn returned {features.shape[0]} rows for {len(images)} images")
            return head.predict_proba(features)  # type: ignore[union-attr]

        return self._combine(probs(self.natural), probs(self.rendition))

    def _combine(self, nat: np.ndarray, ren: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nat = np.asarray(nat, dtype=np.float32)
        ren = np.asarray(ren, dtype=np.float32)
        p_nat = nat[:, _column(self.natural, NATURAL)]
        p_ren = ren[:, _column(self.rendition, RENDITION)]
        if AMBIGUOUS in self.natural.classes:
            p_amb = nat[:, list(self.natural.classes).index(AMBIGUOUS)]
        elif AMBIGUOUS in self.rendition.classes:
            p_amb = ren[:, list(self.rendition.classes).index(AMBIGUOUS)]
        else:
            p_amb = 1.0 - np.maximum(p_nat, p_ren)
        return p_nat, p_ren, p_amb.astype(np.float32)


def _column(head: Head | ImageHead, name: str) -> int:
    classes = list(head.classes)
    if name not in classes:
        raise ValueError(f"the {name} classifier has classes {classes}; it needs a {name!r} class")
    return classes.index(name)


def assign_domains(p_natural: np.ndarray, p_rendition: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """Object array of domain names under the two-head rule (module doc). The rule itself lives in one
    place, ``classifier.ml.calibration.combine``; this only thresholds the two heads' scores."""
    from classifier.ml.calibration import combine

    fires_n = np.asarray(p_natural) >= thresholds.natural
    fires_r = np.asarray(p_rendition) >= thresholds.rendition
    return combine(fires_n, fires_r).astype(object)


def domain_counts(domains: np.ndarray) -> dict[str, int]:
    return {d: int(np.count_nonzero(domains == d)) for d in DOMAINS}


@dataclass
class LinearHead:
    """A softmax readout over L2-normalized features: a self-contained head for tests and benches."""

    weight: np.ndarray  # (C, d)
    bias: np.ndarray  # (C,)
    classes: Sequence[str]

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        logits = x @ self.weight.T.astype(np.float32) + self.bias.astype(np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    @classmethod
    def random(cls, *, dim: int, classes: Sequence[str], seed: int = 0) -> LinearHead:
        rng = np.random.default_rng(seed)
        return cls(rng.normal(0, 3, (len(classes), dim)).astype(np.float32), np.zeros(len(classes), np.float32),
                   list(classes))
