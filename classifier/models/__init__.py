"""Classifier models, one module per area; import from here."""
from __future__ import annotations

from .apply import ApplyJob, ApplyShard, CleanTestset, ReshardJob
from .neighbours import ContaminationMatch, ContaminationReport, DedupRun, VectorIndex
from .runs import ClassifierRun, EmbeddingSet
from .subsets import SubsetJob

__all__ = ["ApplyJob", "ApplyShard", "ClassifierRun", "CleanTestset", "ContaminationMatch", "ContaminationReport",
           "DedupRun", "EmbeddingSet", "ReshardJob", "SubsetJob", "VectorIndex"]
