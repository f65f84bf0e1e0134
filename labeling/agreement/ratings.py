"""The one input every agreement measure takes: labels in long form (item, rater, label).

Long form keeps memory proportional to the number of labels, not items x raters, so a campaign
with many annotators who each saw a few items costs no more than one with three annotators.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Ratings:
    """Nominal labels: ``label[j]`` is the class index rater ``rater[j]`` gave item ``item[j]``.

    Indices are dense: items in ``[0, n_items)``, raters in ``[0, n_raters)``, classes in
    ``[0, n_classes)``. At most one label per (item, rater). Build with ``from_long`` or
    ``from_matrix``, which check these preconditions.
    """

    item: np.ndarray
    rater: np.ndarray
    label: np.ndarray
    n_items: int
    n_raters: int
    n_classes: int

    @classmethod
    def from_long(cls, item: np.ndarray, rater: np.ndarray, label: np.ndarray, *, n_items: int | None = None,
                  n_raters: int | None = None, n_classes: int | None = None) -> Ratings:
        item = np.asarray(item, dtype=np.int64).ravel()
        rater = np.asarray(rater, dtype=np.int64).ravel()
        label = np.asarray(label, dtype=np.int64).ravel()
        if not (item.shape == rater.shape == label.shape):
            raise ValueError("item, rater and label must have the same length")
        if item.size and min(item.min(), rater.min(), label.min()) < 0:
            raise ValueError("indices must be non-negative")
        n_items = int(item.max() + 1 if item.size else 0) if n_items is None else int(n_items)
        n_raters = int(rater.max() + 1 if rater.size else 0) if n_raters is None else int(n_raters)
        n_classes = int(label.max() + 1 if label.size else 0) if n_classes is None else int(n_classes)
        if item.size and (item.max() >= n_items or rater.max() >= n_raters or label.max() >= n_classes):
            raise ValueError("an index is out of range for n_items / n_raters / n_classes")
        if item.size:
            key = np.sort(item * max(n_raters, 1) + rater)
            if np.any(key[1:] == key[:-1]):
                raise ValueError("a rater labelled the same item twice")
        return cls(item=item, rater=rater, label=label, n_items=n_items, n_raters=n_raters, n_classes=n_classes)

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, *, n_classes: int | None = None) -> Ratings:
        """``matrix[i, r]`` is rater r's class index for item i; NaN or a negative value means missing."""
        array = np.asarray(matrix, dtype=np.float64)
        if array.ndim != 2:
            raise ValueError("the label matrix must be 2-D (items x raters)")
        present = ~np.isnan(array) & (np.nan_to_num(array, nan=-1.0) >= 0)
        items, raters = np.nonzero(present)
        labels = array[items, raters]
        if np.any(labels != np.round(labels)):
            raise ValueError("labels must be whole class indices")
        return cls.from_long(items, raters, labels.astype(np.int64), n_items=array.shape[0],
                             n_raters=array.shape[1], n_classes=n_classes)

    @property
    def n_labels(self) -> int:
        return int(self.item.size)

    @cached_property
    def counts(self) -> np.ndarray:
        """(n_items, n_classes) int64: how many raters gave each class to each item."""
        flat = np.bincount(self.item * self.n_classes + self.label, minlength=self.n_items * self.n_classes)
        return flat.reshape(self.n_items, self.n_classes)

    @cached_property
    def labels_per_item(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    def to_matrix(self) -> np.ndarray:
        """(n_items, n_raters) float with NaN for missing: the shape other libraries expect."""
        matrix = np.full((self.n_items, self.n_raters), np.nan)
        matrix[self.item, self.rater] = self.label
        return matrix

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every pair of labels on the same item, as (rater_a, rater_b, label_a, label_b) with rater_a < rater_b.

        Items are grouped by their label count m so each group is one (k, m) reshape: the cost is
        the number of pairs, with no Python loop over items.
        """
        key = self.item * max(self.n_raters, 1) + self.rater
        if key.size and np.all(key[1:] > key[:-1]):
            item, rater, label = self.item, self.rater, self.label  # already in (item, rater) order
        else:
            order = np.argsort(key, kind="stable")
            item, rater, label = self.item[order], self.rater[order], self.label[order]
        m = self.labels_per_item
        per_label_m = m[item]
        outs: list[tuple[np.ndarray, ...]] = []
        sizes = np.flatnonzero(np.bincount(m[m >= 2])) if m.size else []
        for size in sizes:
            mask = per_label_m == size
            raters = rater[mask].reshape(-1, size)
            labels = label[mask].reshape(-1, size)
            ia, ib = np.triu_indices(int(size), k=1)
            # Sorted by rater within an item, so column ia < ib gives rater_a < rater_b.
            outs.append((raters[:, ia].ravel(), raters[:, ib].ravel(), labels[:, ia].ravel(), labels[:, ib].ravel()))
        if not outs:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        ra, rb, la, lb = (np.concatenate(parts) for parts in zip(*outs, strict=True))
        return ra, rb, la, lb
