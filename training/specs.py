"""OpenCLIP run specs: batch split and the exact command line. Pure code (no Django).

The paper's recipe is OpenCLIP's defaults with ViT-B-32, 32 epochs and a global batch of 16,384.
Global batch = per-GPU batch x GPUs per node x nodes x gradient-accumulation steps
(``--accum-freq``); a split that does not divide exactly is refused before anything starts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
PRECISIONS = ("amp", "amp_bf16", "amp_bfloat16", "bf16", "fp16", "fp32", "pure_bf16", "pure_fp16")


class SpecError(ValueError):
    """A run spec that must not be launched; the message says what to change."""


@dataclass(frozen=True)
class BatchSplit:
    global_batch: int
    per_gpu_batch: int
    accum: int
    gpus: int
    nodes: int


def split_batch(*, global_batch: int, gpus: int, nodes: int = 1, per_gpu_batch: int | None = None,
                max_per_gpu_batch: int | None = None) -> BatchSplit:
    """Split a global batch over GPUs and accumulation steps, exactly or not at all.

    With ``per_gpu_batch`` given, accumulation makes up the rest. Otherwise the smallest
    accumulation whose per-GPU batch fits ``max_per_gpu_batch`` (no limit: accumulation 1).
    """
    if global_batch <= 0 or gpus <= 0 or nodes <= 0:
        raise SpecError("global batch, GPUs and nodes must be positive")
    devices = gpus * nodes
    if global_batch % devices:
        raise SpecError(f"global batch {global_batch:,} is not divisible by {gpus} GPU(s) x {nodes} node(s) "
                        f"= {devices}; pick a GPU count that divides it")
    per_device = global_batch // devices
    if per_gpu_batch is not None:
        if per_gpu_batch <= 0 or per_device % per_gpu_batch:
            raise SpecError(f"per-GPU batch {per_gpu_batch} does not divide the {per_device:,} samples each "
                            f"GPU must see per step (global {global_batch:,} / {devices} GPUs)")
        return BatchSplit(global_batch, per_gpu_batch, per_device // per_gpu_batch, gpus, nodes)
    accum = 1
    if max_per_gpu_batch:
        while per_device // accum > max_per_gpu_batch or per_device % accum:
            accum += 1
            if accum > per_device:
                raise SpecError("no accumulation factor fits the per-GPU batch limit")
    return BatchSplit(global_batch, per_device // accum, accum, gpus, nodes)


def model_config_path(model: str, extra_dirs: list[Path] | None = None) -> Path | None:
    """A model config JSON shipped with (or given to) us for a model open_clip does not know."""
    for directory in [*(extra_dirs or []), MODEL_CONFIG_DIR]:
        path = Path(directory) / f"{model}.json"
        if path.exists():
            return path
    return None


def known_models() -> set[str]:
    """open_clip's architecture names, read from its shipped configs without importing torch."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return set()
    folder = Path(list(spec.submodule_search_locations)[0]) / "model_configs"
    return {p.stem for p in folder.glob("*.json")}


def check_model(model: str, config: Path | None) -> None:
    if config is not None:
        try:
            json.loads(config.read_text())
        except (OSError, ValueError) as exc:
            raise SpecError(f"model config {config} is not readable JSON: {exc}") from exc
        return
    if model not in known_models():
        raise SpecError(f"unknown model {model!r}: not an open_clip architecture and no config "
                        f"{model}.json in {MODEL_CONFIG_DIR}")


@dataclass
class RunSpec:
    name: str
    logs_dir: str
    data_args: list[str]
    model: str = "ViT-B-32"
    epochs: int = 32
    split: BatchSplit = field(default_factory=lambda: BatchSplit(16384, 2048, 1, 8, 1))
    precision: str = "amp"
    workers: int = 6
    device: str = "cuda"
    model_config: str = ""
    resume: bool = False
    extra_args: list[str] = field(default_factory=list)

    def openclip_args(self) -> list[str]:
        args = [
            "--name", self.name, "--logs", self.logs_dir,
            *self.data_args,
            "--model", self.model, "--epochs", str(self.epochs),
            "--batch-size", str(self.split.per_gpu_batch), "--accum-freq", str(self.split.accum),
            "--precision", self.precision, "--workers", str(self.workers),
            "--save-frequency", "1", "--report-to", "",
        ]
        if self.device != "cuda":
            args += ["--device", self.device]
        if self.resume:
            args += ["--resume", "latest"]
        return args + list(self.extra_args)

    def module_and_prefix(self) -> list[str]:
        """The entry point: OpenCLIP's own, or our launcher that first registers a model config."""
        if self.model_config:
            return ["training.launch_openclip", "--model-config", self.model_config]
        return ["open_clip_train.main"]

    def torchrun_command(self, torchrun: str = "torchrun") -> list[str]:
        # "--" ends torchrun's options: its argparse would otherwise read OpenCLIP's --logs as an
        # ambiguous abbreviation of its own --logs-specs and refuse to start.
        module, *prefix = self.module_and_prefix()
        return [torchrun, "--nproc_per_node", str(self.split.gpus), "-m", "--", module, *prefix,
                *self.openclip_args()]

    def python_command(self, python: str = "python") -> list[str]:
        """What each Slurm task runs under srun (one process per GPU, no torchrun)."""
        module, *prefix = self.module_and_prefix()
        return [python, "-u", "-m", module, *prefix, *self.openclip_args()]
