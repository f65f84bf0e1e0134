"""The classifier library: extractors, embedding, methods, fine-tuning, calibration.

Pure numpy/torch/sklearn; no Django imports, so it is unit-testable alone and usable from
scripts. Submodules import torch lazily where it matters; CUDA is never touched at import.
"""
