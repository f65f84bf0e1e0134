"""Resharding from a command: a progress bar on stderr, and refusals as CommandError."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from classifier.apply.reshard import ReshardResult, reshard_subset


def reshard_with_progress(*, uid_list: Any, sources: Sequence[Path], out_dir: str, shard_size: int,
                          verbosity: int) -> ReshardResult:
    bar = tqdm(total=len(sources), desc="reshard", unit="shard", file=sys.stderr, disable=verbosity == 0)
    try:
        return reshard_subset(uid_list=uid_list, source_shards=sources, out_dir=out_dir, shard_size=shard_size,
                              progress=bar.update)
    except (FileExistsError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        bar.close()
