"""Near-duplicate search at scale: build time, peak memory, queries/s and recall of planted pairs.

Generates ``--n`` vectors of width ``--dim`` (float16 ``.npy`` parts of ``--part-rows``, like
embedding chunks), clustered like real embeddings (``--centres`` centres; two random members of
a centre have cosine ~0.36), with ``--pair-fraction * n / 2`` planted near-duplicate pairs of
cosine uniform in [0.92, 0.99], member A in the first half of the rows and member B in the
second. Then, in one run:

1. builds the index DomainSieve would build (``classifier.ml.neighbours.plan_index``; Flat up to
   200k, else IVF-HNSW-PQ), shard by shard, and records the build time;
2. queries the A members of ``--queries`` planted pairs (k=10, exact re-rank) and counts how many
   find their B at cosine >= ``--threshold``: the recall of planted pairs; queries/s;
3. baseline, same run: exact brute force (``IndexFlatIP``) over a ``--sample`` row sample that
   holds those pairs, the same queries: its recall (the planted pairs it finds) and queries/s,
   projected to ``n`` rows (brute force cost grows linearly with the rows searched);
4. prints peak memory (the process's max RSS over the whole run, generation included), and the
   resident memory after each phase.

Example (the figures in docs/benchmarks.md)::

    nohup .venv/bin/python bench/neardup_bench.py --n 10000000 --threads 1 > var/neardup_10M.log 2>&1 &
    .venv/bin/python bench/neardup_bench.py --n 300000 --flat-max 0   # small, forces IVF-PQ
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss

from classifier.ml.neighbours import NeighbourIndex, VectorStore, build_index, plan_index
from classifier.ml.neighbours.index import peak_rss_bytes
from classifier.ml.neighbours.store import normalize_rows

PAIR_BLOCK = 4096


def memory_gib() -> dict[str, float]:
    """Peak and current resident memory (VmHWM, VmRSS; RssAnon and RssFile split the current)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 2**20, 2)
    return fields


class Generator:
    """Deterministic vectors by row: every part can be regenerated alone, from the seed."""

    def __init__(self, *, n: int, dim: int, centres: int, pair_fraction: float, seed: int) -> None:
        self.n, self.dim, self.seed = n, dim, seed
        self.centres = normalize_rows(np.random.default_rng([seed, 0]).standard_normal((centres, dim)))
        self.pairs = int(pair_fraction * n / 2)
        self.stride = max(1, (n // 2) // max(1, self.pairs))
        self._blocks: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _regular(self, rng: np.random.Generator, count: int) -> np.ndarray:
        out = np.empty((count, self.dim), np.float32)
        for start in range(0, count, 16_384):  # in blocks: the generator's own memory stays small
            stop = min(count, start + 16_384)
            x = rng.standard_normal((stop - start, self.dim), dtype=np.float32)
            x *= np.float32(0.8 / math.sqrt(self.dim))
            x += np.float32(0.6) * self.centres[rng.integers(0, len(self.centres), stop - start)]
            out[start:stop] = normalize_rows(x)
        return out

    def _block(self, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if b not in self._blocks:
            rng = np.random.default_rng([self.seed, 1, b])
            base = self._regular(rng, PAIR_BLOCK)
            target = rng.uniform(0.92, 0.99, PAIR_BLOCK)
            eps = np.sqrt((1 - target) / target)  # cos(base + e1, base + e2) ~ 1 / (1 + eps^2)
            noise = rng.standard_normal((2, PAIR_BLOCK, self.dim), dtype=np.float32)
            noise *= (eps[:, None] / math.sqrt(self.dim)).astype(np.float32)
            a = normalize_rows(base + noise[0])
            b_ = normalize_rows(base + noise[1])
            if len(self._blocks) > 4:
                self._blocks.clear()
            self._blocks[b] = (a, b_, target)
        return self._blocks[b]

    def pair_member(self, p: np.ndarray, which: int) -> np.ndarray:
        out = np.zeros((len(p), self.dim), np.float32)
        for b in np.unique(p // PAIR_BLOCK):
            sel = np.flatnonzero(p // PAIR_BLOCK == b)
            out[sel] = self._block(int(b))[which][p[sel] % PAIR_BLOCK]
        return out

    def rows_a(self, p: np.ndarray) -> np.ndarray:
        return p * self.stride

    def rows_b(self, p: np.ndarray) -> np.ndarray:
        return self.n // 2 + p * self.stride

    def part(self, start: int, stop: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 2, start])
        x = self._regular(rng, stop - start)
        p = np.arange(self.pairs)
        for which, rows in ((0, self.rows_a(p)), (1, self.rows_b(p))):
            inside = np.flatnonzero((rows >= start) & (rows < stop))
            if inside.size:
                x[rows[inside] - start] = self.pair_member(p[inside], which)
        return x.astype(np.float16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--part-rows", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=1000)
    parser.add_argument("--pair-fraction", type=float, default=0.01, help="share of rows in planted pairs")
    parser.add_argument("--queries", type=int, default=20_000, help="planted pairs queried")
    parser.add_argument("--sample", type=int, default=100_000, help="rows of the brute-force baseline")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="FAISS/BLAS threads (0: all)")
    parser.add_argument("--flat-max", type=int, default=200_000, help="largest n indexed exactly")
    parser.add_argument("--factory", default=None, help="override the planned FAISS index")
    parser.add_argument("--nprobe", type=int, default=None)
    parser.add_argument("--workdir", default="var/neardup_bench")
    parser.add_argument("--keep", action="store_true", help="keep the generated vectors and index")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    work = Path(args.workdir) / f"n{args.n}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "parts").mkdir(parents=True)
    gen = Generator(n=args.n, dim=args.dim, centres=args.centres, pair_fraction=args.pair_fraction,
                    seed=args.seed)
    out: dict[str, object] = {"n": args.n, "dim": args.dim, "planted_pairs": gen.pairs, "threads":
                              args.threads or faiss.omp_get_max_threads()}

    t0 = time.monotonic()
    paths = []
    for start in range(0, args.n, args.part_rows):
        path = work / "parts" / f"chunk_{start // args.part_rows:05d}.npy"
        np.save(path, gen.part(start, min(args.n, start + args.part_rows)))
        paths.append(path)
    out["generate_s"] = round(time.monotonic() - t0, 1)
    print(f"generated {args.n:,} x {args.dim} float16 in {out['generate_s']} s", flush=True)

    store = VectorStore(paths)
    plan = plan_index(store.n, store.dim, flat_max=args.flat_max, factory=args.factory, nprobe=args.nprobe)
    out["factory"], out["nprobe"] = plan.factory, plan.nprobe
    t0 = time.monotonic()
    last = [0.0]

    def report(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"  build {done:,}/{total:,} ({time.monotonic() - t0:.0f} s, rss {peak_rss_bytes() / 2**30:.2f} GiB)",
                  flush=True)

    meta = build_index(store, work / "index", plan=plan, extractor="bench", progress=report)
    out["build_s"] = round(time.monotonic() - t0, 1)
    out["index_bytes"] = meta["bytes"]
    out["rss_after_build_gib"] = round(peak_rss_bytes() / 2**30, 2)
    out["memory_after_build"] = memory_gib()
    print(f"built {plan.factory} (nprobe {plan.nprobe}) in {out['build_s']} s; index {meta['bytes'] / 2**30:.2f} GiB; "
          f"peak rss {out['rss_after_build_gib']} GiB", flush=True)

    index = NeighbourIndex.load(work / "index")
    rng = np.random.default_rng(args.seed + 7)
    n_q = min(args.queries, gen.pairs, args.sample // 2)
    pairs = np.sort(rng.choice(gen.pairs, size=n_q, replace=False))
    rows_a, rows_b = gen.rows_a(pairs), gen.rows_b(pairs)
    queries = store.gather(rows_a)
    t0 = time.monotonic()
    sims, rows = index.search(queries, args.k)
    search_s = time.monotonic() - t0
    hit = ((rows == rows_b[:, None]) & (sims >= args.threshold)).any(axis=1)
    out["index_qps"] = round(n_q / search_s, 1)
    out["index_recall"] = round(float(hit.mean()), 4)
    out["memory_after_queries"] = memory_gib()
    print(f"index: {n_q:,} queries in {search_s:.1f} s = {out['index_qps']} q/s; recall of planted pairs at "
          f"cos >= {args.threshold}: {out['index_recall']}", flush=True)

    # Baseline: exact brute force over a sample that holds both members of the queried pairs.
    others = np.setdiff1d(np.arange(args.n), np.concatenate([rows_a, rows_b]))
    fill = max(0, min(args.sample, args.n) - 2 * n_q)
    sample_rows = np.sort(np.concatenate([rows_a, rows_b, rng.choice(others, size=fill, replace=False)]))
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(store.gather(sample_rows))
    t0 = time.monotonic()
    bf_sims, bf_pos = flat.search(queries, args.k + 1)
    bf_s = time.monotonic() - t0
    bf_rows = sample_rows[np.maximum(bf_pos, 0)]
    bf_hit = ((bf_rows == rows_b[:, None]) & (bf_sims >= args.threshold)).any(axis=1)
    out["sample_rows"] = int(sample_rows.size)
    out["bruteforce_qps_sample"] = round(n_q / bf_s, 1)
    out["bruteforce_qps_projected_n"] = round(n_q / bf_s * sample_rows.size / args.n, 2)
    out["bruteforce_recall"] = round(float(bf_hit.mean()), 4)
    out["index_recall_vs_exact"] = round(float((hit & bf_hit).sum() / max(1, bf_hit.sum())), 4)
    out["speedup_vs_bruteforce_at_n"] = round(out["index_qps"] / max(1e-9, out["bruteforce_qps_projected_n"]), 1)
    out["peak_rss_gib"] = round(peak_rss_bytes() / 2**30, 2)
    out["memory_after_bruteforce"] = memory_gib()
    print(f"brute force over {sample_rows.size:,} rows: {out['bruteforce_qps_sample']} q/s "
          f"(projected to {args.n:,} rows: {out['bruteforce_qps_projected_n']} q/s); recall {out['bruteforce_recall']}",
          flush=True)
    print(f"ratios: index recall / exact recall = {out['index_recall_vs_exact']}; index q/s / brute force q/s at n = "
          f"{out['speedup_vs_bruteforce_at_n']}x; peak rss {out['peak_rss_gib']} GiB", flush=True)
    print("RESULT " + json.dumps(out), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
