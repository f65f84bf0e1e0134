"""Resharding from a command: a progress bar on stderr, and refusals as CommandError."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from classifier.apply.reshard import ReshardResult, reshard_subset
from classifier.management.progress import progress_bar


def reshard_with_progress(*, uid_list: Any, sources: Sequence[Path], out_dir: str, shard_size: int,
                          verbosity: int) -> ReshardResult:
    try:
        with progress_bar("reshard", unit="shard", verbosity=verbosity, total=len(sources)) as bar:
            return reshard_subset(uid_list=uid_list, source_shards=sources, out_dir=out_dir, shard_size=shard_size,
                                  progress=bar.step)
    except (FileExistsError, ValueError) as exc:
        raise CommandError(str(exc)) from None
