"""Where training runs execute. Each backend launches, polls and cancels; none of them waits.

- ``local``: a ``train``-queue worker on the GPU host starts torchrun as its own process
  (``backends.local``).
- ``slurm``: an sbatch script after OpenCLIP's README, ``sbatch --parsable``, ``sacct``,
  ``scancel`` (``backends.slurm``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType


class BackendError(RuntimeError):
    """The backend refused or failed; the message is shown to the user as is."""


@dataclass
class Launched:
    log_path: str
    pid: int | None = None
    job_id: str = ""
    host: str = ""


@dataclass
class Polled:
    state: str  # running | succeeded | failed | cancelled
    detail: str = ""
    exit_code: int | None = None
    error: str = ""
    extra: dict[str, object] = field(default_factory=dict)


def get_backend(name: str) -> ModuleType:
    from . import local, slurm

    try:
        return {"local": local, "slurm": slurm}[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; choose local or slurm") from None
