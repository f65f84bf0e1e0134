"""Labeling models, one module per area; import from here."""
from __future__ import annotations

from .campaigns import Annotation, AnnotationHistory, Campaign, CampaignItem, Lease
from .datasets import Dataset, Image, ImportJob
from .imported import ImportedAnnotator
from .quality import (
    Adjudication,
    CampaignQuality,
    ImmutableError,
    LabelSnapshot,
    SnapshotLabel,
    Split,
    SplitAssignment,
)

__all__ = ["Annotation", "AnnotationHistory", "Campaign", "CampaignItem", "Dataset", "Image", "ImportJob",
           "ImportedAnnotator", "Lease"]
__all__ += ["Adjudication", "CampaignQuality", "ImmutableError", "LabelSnapshot", "SnapshotLabel", "Split",
            "SplitAssignment"]

from .consensus import AnnotatorPause, RelabelRequest  # noqa: E402

__all__ += ["AnnotatorPause", "RelabelRequest"]
