"""Agreement measures on nominal labels, vectorized over items.

Every function takes a :class:`Ratings`. Items with fewer than two labels are not "pairable" and
count only where a measure says so. Results equal scikit-learn's ``cohen_kappa_score``,
statsmodels' ``fleiss_kappa`` and ``krippendorff.alpha(level_of_measurement="nominal")`` to 1e-9
(tests/labeling/test_agreement_math.py proves it on random matrices with missing values).
A measure that is undefined (no pairs, or chance agreement of 1) is ``nan``, as in those libraries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ratings import Ratings


def _safe_div(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(den) == 0, np.nan, np.asarray(num, dtype=float) / np.where(den == 0, 1, den))


def _unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct keys, index of each key among them) for non-negative ints.

    A bincount when the key range is small (it is for rater pairs and count profiles), a sort
    otherwise; numpy's hash-based np.unique is several times slower on millions of int64 keys.
    """
    if keys.size == 0:
        return keys, keys
    if keys.max() < 16_000_000:
        seen = np.bincount(keys) > 0
        present = np.flatnonzero(seen)
        lookup = np.cumsum(seen) - 1
        return present, lookup[keys]
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    inverse = np.empty(keys.size, dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return ordered[starts], inverse


@dataclass(frozen=True)
class PercentAgreement:
    pairwise: float  # mean over pairable items of the fraction of agreeing label pairs
    unanimous: float  # fraction of pairable items whose labels are all equal
    n_items: int  # pairable items


def percent_agreement(ratings: Ratings) -> PercentAgreement:
    counts, m = ratings.counts, ratings.labels_per_item
    pairable = m >= 2
    if not pairable.any():
        return PercentAgreement(pairwise=float("nan"), unanimous=float("nan"), n_items=0)
    c, mm = counts[pairable], m[pairable]
    agreeing = (c * (c - 1)).sum(axis=1) / (mm * (mm - 1))
    return PercentAgreement(pairwise=float(agreeing.mean()), unanimous=float((c.max(axis=1) == mm).mean()),
                            n_items=int(pairable.sum()))


@dataclass(frozen=True)
class PairKappa:
    rater_a: int
    rater_b: int
    n: int  # items both raters labelled
    agreement: float  # observed agreement on those items
    kappa: float
    confusion: np.ndarray  # (C, C): rows rater_a's label, columns rater_b's


def cohen_kappa_pairs(ratings: Ratings, *, min_overlap: int = 1) -> list[PairKappa]:
    """Cohen's kappa for every pair of raters that share at least ``min_overlap`` items.

    All pair confusion matrices come from one bincount over pair keys, so the cost is linear in
    the number of label pairs whatever the number of raters.
    """
    ra, rb, la, lb = ratings.pairs()
    c = ratings.n_classes
    if ra.size == 0:
        return []
    pairs, pair_index = _unique_inverse(ra * ratings.n_raters + rb)
    cells = np.bincount(pair_index * c * c + la * c + lb, minlength=pairs.size * c * c).reshape(-1, c, c)
    totals = cells.sum(axis=(1, 2))
    observed = np.trace(cells, axis1=1, axis2=2) / totals
    expected = np.einsum("pi,pi->p", cells.sum(axis=2), cells.sum(axis=1)) / totals**2
    kappas = _safe_div(observed - expected, 1.0 - expected)
    out = []
    for index, key in enumerate(pairs):
        if totals[index] < min_overlap:
            continue
        out.append(PairKappa(rater_a=int(key // ratings.n_raters), rater_b=int(key % ratings.n_raters),
                             n=int(totals[index]), agreement=float(observed[index]), kappa=float(kappas[index]),
                             confusion=cells[index]))
    return out


@dataclass(frozen=True)
class FleissKappa:
    kappa: float
    labels_per_item: int  # m: Fleiss needs the same number of labels on every item
    n_items: int  # items with exactly m labels
    by_count: dict[int, tuple[float, int]]  # every m >= 2 present: (kappa, n_items)


def fleiss_kappa_table(table: np.ndarray) -> float:
    """Fleiss' kappa of an (items, classes) count table whose rows all sum to the same m >= 2."""
    table = np.asarray(table, dtype=float)
    m = table.sum(axis=1)
    if table.shape[0] == 0 or m[0] < 2 or np.any(m != m[0]):
        return float("nan")
    m0 = m[0]
    p_class = table.sum(axis=0) / table.sum()
    p_item = ((table * table).sum(axis=1) - m0) / (m0 * (m0 - 1))
    expected = float((p_class * p_class).sum())
    return float(_safe_div(p_item.mean() - expected, 1.0 - expected))


def fleiss_kappa(ratings: Ratings) -> FleissKappa:
    """Fleiss' kappa over the items with the most common label count m >= 2 (ties: the larger m).

    Items with another count are left out of the headline figure; ``by_count`` has each group.
    """
    counts, m = ratings.counts, ratings.labels_per_item
    histogram = np.bincount(m[m >= 2]) if m.size else np.zeros(0, dtype=np.int64)
    sizes = np.flatnonzero(histogram)
    n_per_size = histogram[sizes]
    by_count = {int(s): (fleiss_kappa_table(counts[m == s]), int(n)) for s, n in zip(sizes, n_per_size, strict=True)}
    if not by_count:
        return FleissKappa(kappa=float("nan"), labels_per_item=0, n_items=0, by_count={})
    best = max(by_count, key=lambda s: (by_count[s][1], s))
    return FleissKappa(kappa=by_count[best][0], labels_per_item=best, n_items=by_count[best][1], by_count=by_count)


@dataclass(frozen=True)
class AlphaResult:
    alpha: float
    ci_low: float
    ci_high: float
    n_items: int  # pairable items
    n_values: int  # pairable labels (Krippendorff's n)
    n_boot: int
    coincidence: np.ndarray  # (C, C) Krippendorff's coincidence matrix


def _alpha_parts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-item sufficient statistics of nominal alpha: (observed disagreement d_u, counts n_uc).

    alpha = 1 - (n - 1) * sum_u d_u / (n^2 - sum_c n_c^2), with n_c = sum_u n_uc and
    d_u = (m_u^2 - sum_c n_uc^2) / (m_u - 1). Both sums are linear in items, so a bootstrap
    resample is a weight vector over items and alpha of it is two dot products.
    """
    m = counts.sum(axis=1).astype(float)
    d = (m * m - (counts * counts).sum(axis=1)) / (m - 1)
    return d, counts.astype(float)


def _alpha_weighted(d: np.ndarray, n_uc: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Alpha for each row of ``weights`` (B, U) over U items (or item profiles)."""
    disagreement = weights @ d
    n_c = weights @ n_uc
    n = n_c.sum(axis=-1)
    return 1.0 - _safe_div((n - 1) * disagreement, n * n - (n_c * n_c).sum(axis=-1))


def krippendorff_alpha(ratings: Ratings, *, n_boot: int = 1000, seed: int = 0, ci: float = 0.95,
                       weights: np.ndarray | None = None) -> AlphaResult:
    """Krippendorff's alpha (nominal) with an item-bootstrap confidence interval.

    The bootstrap resamples pairable items with replacement. Items with the same count vector
    are interchangeable, so resampling N items is a multinomial draw over the few distinct
    count vectors ("profiles"; 10 for three labels over three classes): 1,000 resamples cost
    microseconds, whatever N. ``weights`` (per item, e.g. bincount of resampled indices) gives
    alpha of that weighted sample instead; used by the tests to prove the resampling is exact.
    """
    counts, m = ratings.counts, ratings.labels_per_item
    pairable = m >= 2
    c = counts[pairable]
    coincidence = _coincidence(c)
    n_values = int(c.sum())
    if weights is not None:
        w = np.asarray(weights, dtype=float)[pairable]
        d, n_uc = _alpha_parts(c)
        value = float(_alpha_weighted(d, n_uc, w))
        return AlphaResult(alpha=value, ci_low=float("nan"), ci_high=float("nan"), n_items=int(pairable.sum()),
                           n_values=n_values, n_boot=0, coincidence=coincidence)
    if c.shape[0] == 0:
        return AlphaResult(alpha=float("nan"), ci_low=float("nan"), ci_high=float("nan"), n_items=0, n_values=0,
                           n_boot=0, coincidence=coincidence)
    base = int(c.max()) + 1
    keys = c @ (base ** np.arange(c.shape[1], dtype=np.int64))
    present, inverse = _unique_inverse(keys)
    multiplicity = np.bincount(inverse, minlength=present.size)
    first = np.full(present.size, -1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(inverse.size)[::-1]  # any member of each profile will do
    profiles = c[first]
    d, n_uc = _alpha_parts(profiles)
    value = float(_alpha_weighted(d, n_uc, multiplicity.astype(float)))
    low = high = float("nan")
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        draws = rng.multinomial(int(multiplicity.sum()), multiplicity / multiplicity.sum(), size=n_boot)
        boot = _alpha_weighted(d, n_uc, draws.astype(float))
        boot = boot[~np.isnan(boot)]
        if boot.size:
            tail = (1.0 - ci) / 2 * 100
            low, high = (float(x) for x in np.percentile(boot, [tail, 100 - tail]))
    return AlphaResult(alpha=value, ci_low=low, ci_high=high, n_items=int(c.shape[0]), n_values=n_values,
                       n_boot=n_boot, coincidence=coincidence)


def _coincidence(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix o_ck = sum_u (n_uc n_uk - [c=k] n_uc) / (m_u - 1)."""
    if counts.shape[0] == 0:
        return np.zeros((counts.shape[1], counts.shape[1]))
    m = counts.sum(axis=1).astype(float)
    scaled = counts / (m - 1)[:, None]
    return scaled.T @ counts - np.diag(scaled.sum(axis=0))


def per_class_agreement(ratings: Ratings) -> np.ndarray:
    """Specific agreement per class: of the label pairs on an item that involve class c, the
    fraction where both labels are c. sum_u n_uc (n_uc - 1) / sum_u n_uc (m_u - 1); nan if unused."""
    counts, m = ratings.counts, ratings.labels_per_item
    pairable = m >= 2
    c, mm = counts[pairable].astype(float), m[pairable][:, None].astype(float)
    return np.asarray(_safe_div((c * (c - 1)).sum(axis=0), (c * (mm - 1)).sum(axis=0)), dtype=float)


@dataclass(frozen=True)
class RaterVsReference:
    n: np.ndarray  # (R,) items compared per rater
    correct: np.ndarray  # (R,)
    accuracy: np.ndarray  # (R,) nan where n == 0
    confusion: np.ndarray  # (R, C, C): rows reference class, columns the rater's label


def _vs_reference(ratings: Ratings, reference: np.ndarray) -> RaterVsReference:
    r, c = ratings.n_raters, ratings.n_classes
    keep = reference >= 0
    cells = np.bincount(ratings.rater[keep] * c * c + reference[keep] * c + ratings.label[keep],
                        minlength=r * c * c).reshape(r, c, c)
    n = cells.sum(axis=(1, 2))
    correct = np.trace(cells, axis1=1, axis2=2)
    return RaterVsReference(n=n, correct=correct, accuracy=np.asarray(_safe_div(correct, n), dtype=float),
                            confusion=cells)


def rater_vs_majority(ratings: Ratings) -> RaterVsReference:
    """Each rater against the majority of the *other* labels on the same item.

    Leaving the rater's own label out keeps a rater from agreeing with themselves; items where
    the others tie, or where nobody else labelled, are not compared.
    """
    others = ratings.counts[ratings.item].copy()
    others[np.arange(ratings.n_labels), ratings.label] -= 1
    top = others.max(axis=1) if others.size else np.zeros(0, dtype=np.int64)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    reference = np.where(unique_top & (top > 0), others.argmax(axis=1) if others.size else 0, -1)
    return _vs_reference(ratings, reference)


def rater_vs_gold(ratings: Ratings, gold: np.ndarray) -> RaterVsReference:
    """Each rater against known labels; ``gold[i]`` is item i's class index or -1 for no gold."""
    gold = np.asarray(gold, dtype=np.int64)
    if gold.shape != (ratings.n_items,):
        raise ValueError("gold must have one entry per item")
    return _vs_reference(ratings, gold[ratings.item])
