"""Labeling models, one module per area; import from here."""
from __future__ import annotations

from .campaigns import Annotation, AnnotationHistory, Campaign, CampaignItem, Lease
from .consensus import AnnotatorPause, RelabelRequest
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

__all__ = ["Adjudication", "Annotation", "AnnotationHistory", "AnnotatorPause", "Campaign", "CampaignItem",
           "CampaignQuality", "Dataset", "Image", "ImmutableError", "ImportJob", "ImportedAnnotator", "LabelSnapshot",
           "Lease", "RelabelRequest", "SnapshotLabel", "Split", "SplitAssignment"]
