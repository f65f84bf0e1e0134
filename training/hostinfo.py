"""What a train host has: its GPUs, found without touching CUDA in the worker (pure code).

A worker process must not initialise CUDA (the ranks it launches own the devices), so devices come
from ``nvidia-smi`` (PCI bus order, the order ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` gives torchrun), or
from a declaration (``TRAIN_HOST_GPUS``) for hosts without a visible device, such as tests.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

NVIDIA_SMI_TIMEOUT_S = 30


@dataclass(frozen=True)
class GpuInfo:
    index: int
    model: str = ""
    memory_mb: int = 0
    uuid: str = ""


class HostInfoError(ValueError):
    """A declaration that cannot be read; the message names the setting."""


def declared_gpus(count: str, *, model: str = "", memory_mb: int = 0) -> list[GpuInfo]:
    """``TRAIN_HOST_GPUS=N``: N devices 0..N-1 of one model."""
    try:
        n = int(count)
    except ValueError:
        raise HostInfoError(f"TRAIN_HOST_GPUS must be a whole number, got {count!r}") from None
    if not 0 <= n <= 64:
        raise HostInfoError(f"TRAIN_HOST_GPUS must be between 0 and 64, got {n}")
    return [GpuInfo(index=i, model=model or "declared", memory_mb=memory_mb) for i in range(n)]


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """Rows of ``nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        memory = parts[3].split()[0] if parts[3] else "0"
        gpus.append(GpuInfo(index=int(parts[0]), uuid=parts[1], model=parts[2],
                            memory_mb=int(float(memory)) if memory.replace(".", "", 1).isdigit() else 0))
    return gpus


def visible_subset(gpus: list[GpuInfo], cuda_visible_devices: str | None) -> list[GpuInfo]:
    """The devices a worker started under ``CUDA_VISIBLE_DEVICES`` may hand out (indices or UUIDs);
    unset means all, empty means none."""
    if cuda_visible_devices is None:
        return gpus
    wanted = [w.strip() for w in cuda_visible_devices.split(",") if w.strip()]
    chosen = []
    for want in wanted:
        for gpu in gpus:
            if want == str(gpu.index) or (gpu.uuid and gpu.uuid.startswith(want)):
                if gpu not in chosen:
                    chosen.append(gpu)
                break
    return chosen


def discover_gpus(*, declared: str = "", model: str = "", memory_mb: int = 0,
                  cuda_visible_devices: str | None = None) -> tuple[list[GpuInfo], str]:
    """(devices, source): the declaration when there is one, else nvidia-smi, else none."""
    if declared.strip():
        return declared_gpus(declared.strip(), model=model, memory_mb=memory_mb), "declared"
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], "none"
    try:
        done = subprocess.run([smi, "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return [], "none"
    if done.returncode != 0:
        return [], "none"
    return visible_subset(parse_nvidia_smi(done.stdout), cuda_visible_devices), "nvidia-smi"
