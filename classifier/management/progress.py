"""Progress of a long command on stderr: one tqdm bar, closed however the work ends.

    with progress_bar("dedup", unit="row", verbosity=options["verbosity"], total=rows) as bar:
        run = dedup_run_execute(run_id=run.id, progress=bar.at)   # services report (done, total)
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm


class Bar:
    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def step(self, n: int = 1) -> None:
        """``n`` more units done (services that report increments)."""
        self._bar.update(n)

    def at(self, done: int, total: int | None = None) -> None:
        """``done`` of ``total`` units done (services that report a position)."""
        if total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)


@contextmanager
def progress_bar(desc: str, *, unit: str, verbosity: int, total: int | None = None) -> Iterator[Bar]:
    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=verbosity == 0)
    try:
        yield Bar(bar)
    finally:
        bar.close()
