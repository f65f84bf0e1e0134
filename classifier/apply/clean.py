"""Cleaning a test set: keep only images the classifier assigns to the set's own domain.

Rules (``CLEAN_RULES``), at the strict (98%-precision) thresholds:

- ``own_classifier`` (the paper's released code, the default): one classifier per set. A set
  declared natural keeps the images the natural classifier fires on; a set declared rendition
  keeps those the rendition classifier fires on. The other classifier is not consulted.
- ``two_head``: the applying rule (``scoring.assign_domains``): kept when the set's own
  classifier fires and the other does not. Stricter; a departure from the paper.

Classes left with no image are masked: zero-shot evaluation restricts the label space to the
classes that remain. The counts row follows the paper's Table 12: classes and images per clean set.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifier.apply.scoring import DOMAINS, Thresholds, assign_domains

OWN_CLASSIFIER, TWO_HEAD = "own_classifier", "two_head"
CLEAN_RULES = (OWN_CLASSIFIER, TWO_HEAD)


@dataclass
class CleanResult:
    keep: np.ndarray  # bool per image
    domains: np.ndarray  # assigned domain per image
    classes_total: int
    classes_kept: int
    images_total: int
    images_kept: int
    masked_classes: list[str] = field(default_factory=list)
    kept_per_class: dict[str, int] = field(default_factory=dict)
    domain_counts: dict[str, int] = field(default_factory=dict)

    def table12_row(self, name: str) -> dict[str, Any]:
        return {"test_set": name, "classes": self.classes_kept, "classes_total": self.classes_total,
                "images": self.images_kept, "images_total": self.images_total,
                "images_pct": round(100.0 * self.images_kept / self.images_total, 2) if self.images_total else 0.0}


def clean_testset_scores(*, p_natural: np.ndarray, p_rendition: np.ndarray, class_names: Sequence[str],
                         expected_domain: str, thresholds: Thresholds, rule: str = OWN_CLASSIFIER) -> CleanResult:
    """Which images of a test set to keep under ``rule`` (module doc); ``domains`` is the two-head
    domain of every image either way, for the counts."""
    if expected_domain not in ("natural", "rendition"):
        raise ValueError(f"a test set to clean must claim the natural or rendition domain, not {expected_domain!r}")
    if rule not in CLEAN_RULES:
        raise ValueError(f"unknown cleaning rule {rule!r}; expected one of {', '.join(CLEAN_RULES)}")
    if not (len(p_natural) == len(p_rendition) == len(class_names)):
        raise ValueError("scores and class names differ in length")
    domains = assign_domains(p_natural, p_rendition, thresholds)
    if rule == OWN_CLASSIFIER:
        own = np.asarray(p_natural if expected_domain == "natural" else p_rendition)
        keep = own >= thresholds.as_dict()[expected_domain]
    else:
        keep = domains == expected_domain
    all_classes = Counter(class_names)
    kept = Counter(c for c, k in zip(class_names, keep, strict=True) if k)
    masked = sorted(c for c in all_classes if kept.get(c, 0) == 0)
    return CleanResult(
        keep=keep, domains=domains, classes_total=len(all_classes), classes_kept=len(all_classes) - len(masked),
        images_total=len(class_names), images_kept=int(keep.sum()), masked_classes=masked,
        kept_per_class=dict(sorted(kept.items())),
        domain_counts={d: int(np.count_nonzero(domains == d)) for d in DOMAINS},
    )


def table12_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV of Table 12 rows (test_set, classes, classes_total, images, images_total, images_pct)."""
    buffer = io.StringIO()
    fields = ["test_set", "classes", "classes_total", "images", "images_total", "images_pct"]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
