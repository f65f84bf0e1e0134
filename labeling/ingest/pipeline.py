"""Sampling and the parallel decode loop.

Work goes to a process pool in small batches with a bounded window in flight, so memory stays
flat on a million items and results come back in listing order (which makes "first one wins"
deduplication deterministic). Tiny jobs run in-process: a pool costs more than it saves there.

Precondition, as for any multiprocessing code: the calling program's main module must be safe to
import (its work guarded by ``if __name__ == "__main__"``), because forkserver workers re-import it.
manage.py, celery and pytest are.
"""
from __future__ import annotations

import multiprocessing
import random
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .decode import process_batch
from .items import DecodeConfig, ImportSourceError, Item, Result

BATCH_SIZE = 16
SERIAL_BELOW = 48  # items; below this a pool's start-up outweighs its gain


def sample_items(items: Sequence[Item], n: int | None, seed: int) -> list[Item]:
    """``n`` items drawn reproducibly (same listing + seed -> same picks), kept in listing order.

    Done on the listing, before any image is read, so sampling 19,000 of millions is cheap.
    """
    if n is None or n >= len(items):
        return list(items)
    picked = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in picked]


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver, not fork: the parent may be a Celery worker or a web process with threads and
    # open database sockets, which a forked child must not inherit.
    try:
        context = multiprocessing.get_context("forkserver")
    except ValueError:  # platforms without it
        return multiprocessing.get_context("spawn")
    context.set_forkserver_preload(["labeling.ingest.decode"])
    return context


def run_items(items: Sequence[Item], cfg: DecodeConfig, *, workers: int) -> Iterator[Result]:
    """Yield one Result per item, in order. Raises ImportSourceError if a worker process dies."""
    batches = [list(items[i : i + BATCH_SIZE]) for i in range(0, len(items), BATCH_SIZE)]
    if workers <= 1 or len(items) < SERIAL_BELOW:
        for batch in batches:
            yield from process_batch(batch, cfg)
        return
    todo = iter(batches)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        pending: deque[Future[list[Result]]] = deque()
        for batch in todo:
            pending.append(pool.submit(process_batch, batch, cfg))
            if len(pending) >= workers * 4:
                break
        while pending:
            try:
                results = pending.popleft().result()
            except BrokenProcessPool as exc:
                raise ImportSourceError(
                    "a decoding worker died (out of memory or a crashing decoder); "
                    "re-run the import to continue, finished items are kept") from exc
            batch = next(todo, None)
            if batch is not None:
                pending.append(pool.submit(process_batch, batch, cfg))
            yield from results
