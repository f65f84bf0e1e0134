"""Read progress out of an OpenCLIP training log (pure code)."""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

_TRAIN = re.compile(
    r"Train Epoch: (?P<epoch>\d+) \[\s*(?P<seen>\d+)/(?P<per_epoch>\d+) .*?Loss: (?P<loss>[-\d.naif]+)")
_CHECKPOINT = re.compile(r"^epoch_(\d+)\.pt$")
FATAL_MARKERS = ("Error. Experiment already exists",)
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt): ")


@dataclass
class Progress:
    epoch: int | None = None
    samples_in_epoch: int | None = None
    samples_per_epoch: int | None = None
    loss: float | None = None
    error_line: str = ""

    def step(self, global_batch: int) -> int | None:
        """Optimizer steps so far, counting whole earlier epochs."""
        if self.epoch is None or self.samples_in_epoch is None or not global_batch:
            return None
        per_epoch = -(-int(self.samples_per_epoch or 0) // global_batch)
        return self.epoch * per_epoch + self.samples_in_epoch // global_batch


def read_tail(path: str | Path, max_bytes: int = 65536) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def parse_progress(text: str) -> Progress:
    progress = Progress()
    for match in _TRAIN.finditer(text):
        progress.epoch = int(match["epoch"])
        progress.samples_in_epoch = int(match["seen"])
        progress.samples_per_epoch = int(match["per_epoch"])
        try:
            progress.loss = float(match["loss"])
        except ValueError:
            progress.loss = None
    for line in text.splitlines():
        if any(marker in line for marker in FATAL_MARKERS):
            progress.error_line = line.strip()
        elif _EXCEPTION.match(line) and "ChildFailedError" not in line:
            progress.error_line = line.strip()  # the exception that ended a rank's traceback
    return progress


def checkpoint_complete(path: str | Path) -> bool:
    """torch.save writes a zip archive whose central directory comes last: a file still being
    written, or torn by a kill mid-save, has none and cannot be loaded."""
    return zipfile.is_zipfile(path)


def list_checkpoints(directory: str | Path) -> list[dict[str, object]]:
    """Complete ``epoch_N.pt`` files, by epoch (``epoch_latest.pt`` is a moving alias and left out;
    a file still being written is listed once it is whole)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if (m := _CHECKPOINT.match(path.name)) and checkpoint_complete(path):
            found.append({"epoch": int(m.group(1)), "path": str(path), "bytes": path.stat().st_size})
    return sorted(found, key=lambda c: c["epoch"])
