"""Training models, one module per area; import from here.

``runs``: CLIP training runs, the GPU hosts of the local backend and their devices (what runs are
placed on), and the zero-shot evaluation results of runs' checkpoints.
"""
from __future__ import annotations

from .runs import EvalResult, TrainGpu, TrainHost, TrainingRun

__all__ = ["EvalResult", "TrainGpu", "TrainHost", "TrainingRun"]
