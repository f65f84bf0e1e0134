"""What the Training form starts from: the paper's recipe where this host has CUDA, a run that
finishes in minutes on a laptop CPU where it has not (README: "CPU quick start")."""
from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

# The paper's recipe (ViT-B-32, 32 epochs, global batch 16,384 on 8 GPUs) is the form's own initial.
# On CPU: the 32-pixel DS-Tiny config shipped in training/model_configs, one process, fp32 (CPU
# autocast is slow or unsupported), data loading in the main process, one short epoch.
CPU_FORM_DEFAULTS: dict[str, Any] = {
    "model": "DS-Tiny", "epochs": 1, "global_batch": 16, "gpus": 1, "nodes": 1, "precision": "fp32",
    "workers": 0, "device": "cpu", "backend": "local",
}


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """Whether this host has an NVIDIA GPU it may use: the driver's files, not torch, so the web
    process neither pays torch's import nor touches CUDA. ``CUDA_VISIBLE_DEVICES=""`` (or -1)
    means none. Asked once per process, at the first form shown."""
    visible = settings.CUDA_VISIBLE_DEVICES
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return (Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()
            or shutil.which("nvidia-smi") is not None)


def run_form_initial() -> dict[str, Any]:
    """Initial values for the Training form: empty (the paper's recipe) on a CUDA host, the CPU
    quick-start values elsewhere."""
    return {} if cuda_available() else dict(CPU_FORM_DEFAULTS)
