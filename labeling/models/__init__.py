"""Labeling models, one module per area; import from here."""
from __future__ import annotations

from .datasets import Dataset, Image, ImportJob

__all__ = ["Dataset", "Image", "ImportJob"]
