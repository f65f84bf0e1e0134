"""Benchmark: agreement on 31,000 x 3 and 1,000,000 x 3 labels, and label exports of 31,000 rows.

Baseline, measured in the same run: the reference libraries called the plain way (scikit-learn's
cohen_kappa_score per annotator pair, statsmodels' fleiss_kappa, krippendorff.alpha) with a
bootstrap that resamples items and calls krippendorff.alpha again (timed on a few resamples and
scaled to the same count). Run: .venv/bin/python bench/agreement_bench.py [--skip-million]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labeling import exports
from labeling.agreement import Ratings, agreement_report

CLASSES = ["natural", "rendition", "ambiguous"]


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def make_labels(n_items: int, n_raters: int, seed: int = 0) -> tuple[Ratings, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n_items)
    raters = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :3]
    labels = np.where(rng.random((n_items, 3)) < 0.2, rng.integers(0, 3, (n_items, 3)), truth[:, None])
    gold = np.where(rng.random(n_items) < 0.05, truth, -1)
    ratings = Ratings.from_long(np.repeat(np.arange(n_items), 3), raters.ravel(), labels.ravel(), n_classes=3)
    return ratings, gold


def baseline(ratings: Ratings, n_boot: int) -> float:
    """The libraries the plain way; the bootstrap timed on 5 resamples and scaled to n_boot."""
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import fleiss_kappa

    matrix = ratings.to_matrix()
    start = time.perf_counter()
    for a in range(ratings.n_raters):
        for b in range(a + 1, ratings.n_raters):
            both = ~np.isnan(matrix[:, a]) & ~np.isnan(matrix[:, b])
            cohen_kappa_score(matrix[both, a], matrix[both, b])
    m = ratings.labels_per_item
    fleiss_kappa(ratings.counts[m == 3])
    one_alpha = time.perf_counter()
    krippendorff.alpha(value_counts=ratings.counts, level_of_measurement="nominal")
    alpha_seconds = time.perf_counter() - one_alpha
    rng = np.random.default_rng(0)
    boot_start = time.perf_counter()
    for _ in range(5):
        sample = rng.integers(0, ratings.n_items, ratings.n_items)
        krippendorff.alpha(value_counts=ratings.counts[sample], level_of_measurement="nominal")
    per_resample = (time.perf_counter() - boot_start) / 5
    rest = time.perf_counter() - start - alpha_seconds - per_resample * 5
    return rest + alpha_seconds + per_resample * n_boot


def bench_agreement(n_items: int, n_raters: int, n_boot: int, with_baseline: bool) -> None:
    ratings, gold = make_labels(n_items, n_raters)
    names = [f"a{r}" for r in range(n_raters)]

    def ours() -> None:
        fresh = Ratings.from_long(ratings.item, ratings.rater, ratings.label, n_classes=3)
        agreement_report(fresh, class_names=CLASSES, rater_names=names, gold=gold, n_boot=n_boot)

    seconds = timed(ours, repeat=3 if n_items <= 100_000 else 1)
    line = f"agreement {n_items:>9,} items x 3 labels, {n_raters} annotators, {n_boot} bootstrap: {seconds:7.3f} s"
    if with_baseline:
        base = baseline(ratings, n_boot)
        line += f" | libraries + naive bootstrap {base:8.2f} s | speed-up x{base / seconds:,.0f}"
    print(line, flush=True)


def bench_exports(n_rows: int) -> None:
    rng = np.random.default_rng(0)
    index = rng.integers(0, 3, n_rows)
    frame = pd.DataFrame({
        "uid": [f"{i:032x}" for i in range(n_rows)], "dataset": "laion-200m",
        "path": [f"shards/{i // 10000:05d}.tar:{i:09d}.jpg" for i in range(n_rows)],
        "label": [CLASSES[i] for i in index], "label_index": index, "label_count": 3,
        "agreement": rng.choice([1 / 3, 2 / 3, 1.0], n_rows), "split": rng.choice(["train", "val", "test"], n_rows),
        "image_id": np.arange(1, n_rows + 1), "image_url": [f"http://host/api/v1/images/{i}/file/"
                                                         for i in range(1, n_rows + 1)],
    })
    base = timed(lambda: frame.to_csv(index=False))
    print(f"export baseline: pandas to_csv of {n_rows:,} rows {base:.3f} s", flush=True)
    for fmt in exports.FORMATS:
        body: list[bytes] = []
        seconds = timed(lambda fmt=fmt, body=body: body.append(exports.write(frame, fmt)))
        print(f"export {fmt:<12} {n_rows:,} labels: {seconds:6.3f} s, {len(body[-1]) / 1e6:6.2f} MB,"
              f" x{seconds / base:.2f} of baseline", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args()
    bench_agreement(31_000, 8, args.n_boot, with_baseline=True)
    if not args.skip_million:
        bench_agreement(1_000_000, 20, args.n_boot, with_baseline=False)
    bench_exports(31_000)


if __name__ == "__main__":
    main()
