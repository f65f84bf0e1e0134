"""Benchmark: majority vote vs Dawid-Skene vs CROWDLAB on simulated annotators, accuracy and time.

Annotators have known confusion matrices: good ones, careless ones (often a random label), one
who calls renditions natural, and one adversary who permutes the classes. Each item gets three
labels from three different annotators. CROWDLAB also needs a classifier's out-of-fold class
probabilities: they are simulated (an ~85%-accurate classifier whose errors are independent of
the annotators'), which is what out-of-fold predictions are meant to be.

The baseline, measured in the same run, is majority vote (random tie-break). Dawid-Skene runs in
crowd-kit (the reference) and in labeling.agreement.consensus.dawid_skene_em (numpy, the same EM;
the run checks they agree to 1e-6 at 31,000 items). A scenario where every annotator is equally
good shows that Dawid-Skene gains nothing there, as expected.

Run: .venv/bin/python bench/consensus_bench.py [--skip-million] [--skip-crowdkit-million]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labeling.agreement.consensus import crowdlab, dawid_skene, majority_vote
from labeling.agreement.ratings import Ratings

CLASSES = ["natural", "rendition", "ambiguous"]
PRIOR = np.array([0.6, 0.3, 0.1])


def confusion_with_accuracy(accuracy: float) -> np.ndarray:
    """Right with probability ``accuracy``, else a uniformly random other class."""
    k = len(CLASSES)
    return np.full((k, k), (1 - accuracy) / (k - 1)) + np.eye(k) * (accuracy - (1 - accuracy) / (k - 1))


def annotator_pool(scenario: str) -> tuple[list[str], np.ndarray]:
    """(names, confusion matrices (n, true, given)) of the simulated annotators."""
    if scenario == "equal":
        return [f"good{i}" for i in range(10)], np.stack([confusion_with_accuracy(0.8)] * 10)
    names, mats = [], []
    for i, accuracy in enumerate([0.95, 0.92, 0.9, 0.88, 0.85]):
        names.append(f"good{i}")
        mats.append(confusion_with_accuracy(accuracy))
    for i in range(3):
        names.append(f"careless{i}")
        mats.append(confusion_with_accuracy(0.45))
    biased = confusion_with_accuracy(0.9)
    biased[1] = [0.6, 0.35, 0.05]  # calls most renditions natural
    names.append("biased")
    mats.append(biased)
    names.append("adversary")
    mats.append(confusion_with_accuracy(0.9)[:, [1, 2, 0]])  # permutes the classes
    return names, np.stack(mats)


def simulate(n_items: int, scenario: str, seed: int = 0) -> tuple[Ratings, np.ndarray, np.ndarray]:
    """(ratings, truth, simulated out-of-fold classifier probabilities)."""
    rng = np.random.default_rng(seed)
    _, mats = annotator_pool(scenario)
    n_annotators, k = mats.shape[0], len(CLASSES)
    truth = rng.choice(k, size=n_items, p=PRIOR)
    raters = np.argsort(rng.random((n_items, n_annotators)), axis=1)[:, :3]
    # Sample each label from its annotator's row for the true class by inverse CDF.
    rows = mats[raters, truth[:, None]]  # (n, 3, k)
    labels = (rng.random((n_items, 3, 1)) > rows.cumsum(axis=2)).sum(axis=2)
    labels = np.minimum(labels, k - 1)
    ratings = Ratings.from_long(np.repeat(np.arange(n_items), 3), raters.ravel(), labels.ravel(),
                                n_items=n_items, n_raters=n_annotators, n_classes=k)
    logits = rng.normal(0.0, 1.0, (n_items, k))
    logits[np.arange(n_items), truth] += 2.2
    pred_probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return ratings, truth, pred_probs


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def accuracy_table(n_items: int) -> None:
    print(f"\n== accuracy vs truth, {n_items:,} items x 3 labels (same data for every method)")
    print(f"{'scenario':<10} {'majority':>9} {'DS crowd-kit':>13} {'DS numpy':>9} {'CROWDLAB':>9} "
          f"{'classifier':>10}  DS - MV")
    for scenario in ("mixed", "equal"):
        ratings, truth, pred_probs = simulate(n_items, scenario, seed=1)
        mv = (majority_vote(ratings) == truth).mean()
        ds_ref = dawid_skene(ratings, engine="crowdkit")
        ds_np = dawid_skene(ratings, engine="numpy")
        gap = float(np.abs(ds_ref.probabilities - ds_np.probabilities).max())
        if gap > 1e-6:
            raise SystemExit(f"numpy EM disagrees with crowd-kit by {gap:.2e}")
        cl = (crowdlab(ratings, pred_probs).labels == truth).mean()
        clf = (pred_probs.argmax(axis=1) == truth).mean()
        ds = (ds_ref.labels == truth).mean()
        print(f"{scenario:<10} {mv:>9.4f} {ds:>13.4f} {(ds_np.labels == truth).mean():>9.4f} {cl:>9.4f} "
              f"{clf:>10.4f}  {ds - mv:+.4f}")
    names, _ = annotator_pool("mixed")
    ratings, truth, _ = simulate(n_items, "mixed", seed=1)
    result = dawid_skene(ratings, engine="numpy")
    true_acc = np.bincount(ratings.rater, weights=(ratings.label == truth[ratings.item]).astype(float),
                           minlength=len(names)) / np.bincount(ratings.rater, minlength=len(names))
    print("\nper annotator (mixed): true accuracy vs Dawid-Skene's estimate [95% interval]")
    for r, name in enumerate(names):
        low, high = result.accuracy_ci[r]
        print(f"  {name:<10} {true_acc[r]:.3f}  est {result.accuracy[r]:.3f} [{low:.3f}, {high:.3f}]")


def timing_table(n_items: int, *, crowdkit: bool, repeat: int) -> None:
    ratings, _, pred_probs = simulate(n_items, "mixed", seed=2)
    print(f"\n== time, {n_items:,} items x 3 labels ({ratings.n_labels:,} labels), best of {repeat} "
          "(crowd-kit and CROWDLAB: one run)")
    base, _ = timed(lambda: majority_vote(ratings), repeat)
    rows = [("majority vote (baseline)", base)]
    if crowdkit:
        rows.append(("Dawid-Skene, crowd-kit", timed(lambda: dawid_skene(ratings, engine="crowdkit"), 1)[0]))
    seconds, result = timed(lambda: dawid_skene(ratings, engine="numpy"), repeat)
    rows.append((f"Dawid-Skene, numpy EM ({result.iterations} iterations)", seconds))
    rows.append(("CROWDLAB, cleanlab", timed(lambda: crowdlab(ratings, pred_probs), 1)[0]))
    for name, seconds in rows:
        print(f"  {name:<42} {seconds:>8.3f} s   x{seconds / base:>8.1f} of majority vote")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-million", action="store_true", help="only 31,000 items")
    parser.add_argument("--skip-crowdkit-million", action="store_true",
                        help="at 1M items, time only the numpy EM (crowd-kit takes minutes)")
    args = parser.parse_args()
    accuracy_table(31_000)
    timing_table(31_000, crowdkit=True, repeat=3)
    if not args.skip_million:
        timing_table(1_000_000, crowdkit=not args.skip_crowdkit_million, repeat=1)


if __name__ == "__main__":
    main()
