"""Annotator-aware consensus: Dawid-Skene (crowd-kit), CROWDLAB and label-issue ranking (cleanlab).

No Django. Every function takes a ``Ratings`` (long-form labels) and returns plain numpy arrays:

- ``dawid_skene``: per-annotator confusion matrices learned by EM (crowd-kit's ``DawidSkene``);
  ``dawid_skene_em`` is the same EM, vectorized with numpy, for millions of labels. It follows
  crowd-kit step for step (majority-vote start, clipping at 1e-10, the ELBO stopping rule) and
  the tests hold the two to 1e-6 on the same data.
- ``crowdlab``: cleanlab's CROWDLAB, which weighs the annotators against a classifier's
  out-of-fold class probabilities.
- ``label_issues``: items whose given label a classifier's out-of-fold probabilities contradict
  (cleanlab's ``find_label_issues``), ranked by cleanlab's label quality score.

Annotator-aware consensus only means something where annotators overlap: with one annotator, or
no item labelled by two, the confusion matrices are unidentifiable and the EM returns the labels
it was given. ``require_overlap`` refuses such input with a message fit to show the user
(``ConsensusInputError``); the callers never fall back silently to another rule.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .ratings import Ratings

# crowd-kit's floor for probabilities and error rates (crowdkit.aggregation.classification.dawid_skene._EPS).
EPS = 1e-10
DAWID_SKENE, CROWDLAB = "dawid-skene", "crowdlab"
METHODS = (DAWID_SKENE, CROWDLAB)


class ConsensusInputError(ValueError):
    """Labels an annotator-aware consensus cannot be computed from; the message is fit to show the user.

    ``reason``: a short code for APIs ("needs_overlap", "needs_classifier", "unavailable")."""

    def __init__(self, message: str, *, reason: str = "unavailable") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Consensus:
    """One consensus over a campaign's items and annotators.

    Per item (``n_items``): ``labels`` (class index, -1 for items nobody labelled), ``quality`` in
    [0, 1] (higher = more trustworthy; NaN for unlabelled items). Per annotator (``n_raters``):
    ``accuracy`` (estimated share of their labels that are right) with a 95% interval
    ``accuracy_ci`` (n_raters, 2), ``n`` labels, and ``confusion`` (n_raters, true class, given
    class): the share of items of each true class they gave each label, with ``confusion_ci``
    (n_raters, K, K, 2). ``probabilities`` (n_items, K): posterior class probabilities where the
    method has them (Dawid-Skene), else None. ``annotator_score``: the method's own annotator
    quality score where it has one (CROWDLAB), else None.
    """

    method: str
    labels: np.ndarray
    quality: np.ndarray
    probabilities: np.ndarray | None
    accuracy: np.ndarray
    accuracy_ci: np.ndarray
    n: np.ndarray
    confusion: np.ndarray
    confusion_ci: np.ndarray
    annotator_score: np.ndarray | None = None
    iterations: int = 0


def require_overlap(ratings: Ratings) -> None:
    """Raise ConsensusInputError unless two or more annotators labelled at least one common item."""
    active = np.unique(ratings.rater).size
    if active < 2:
        who = "nobody has" if active == 0 else "only one annotator has"
        raise ConsensusInputError(
            f"annotator-aware consensus needs overlap: {who} labelled this campaign, so there is no second "
            "opinion to learn annotator accuracy from. Give some items to two or more annotators "
            "(agreement_fraction / agreement_k) or use a majority rule.", reason="needs_overlap")
    if not (ratings.labels_per_item >= 2).any():
        raise ConsensusInputError(
            "annotator-aware consensus needs overlap: no item has labels from two annotators, so annotator "
            "accuracy cannot be estimated. Give some items to two or more annotators "
            "(agreement_fraction / agreement_k) or use a majority rule.", reason="needs_overlap")


def beta_interval(successes: np.ndarray, trials: np.ndarray, *, level: float = 0.95) -> np.ndarray:
    """Jeffreys interval (Beta(s + 1/2, n - s + 1/2) quantiles) for each proportion; shape (..., 2).

    ``successes`` may be fractional (expected counts under a posterior). NaN where ``trials`` is 0.
    """
    from scipy.stats import beta

    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    s = np.clip(s, 0.0, n)
    tail = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        low = np.where(s > 0, beta.ppf(tail, s + 0.5, n - s + 0.5), 0.0)
        high = np.where(s < n, beta.ppf(1.0 - tail, s + 0.5, n - s + 0.5), 1.0)
    out = np.stack([low, high], axis=-1)
    out[n <= 0] = np.nan
    return out


def soft_confusion(ratings: Ratings, posterior: np.ndarray) -> np.ndarray:
    """(n_raters, true class, given class) expected counts: each label of rater r counts
    ``posterior[item, c]`` towards true class c. A one-hot posterior gives hard counts."""
    k = ratings.n_classes
    key = ratings.rater * k + ratings.label
    weights = posterior[ratings.item]  # (n_labels, K)
    flat = np.stack([np.bincount(key, weights=weights[:, c], minlength=ratings.n_raters * k) for c in range(k)],
                    axis=1)  # (n_raters * K given, K true)
    return flat.reshape(ratings.n_raters, k, k).transpose(0, 2, 1)


def _annotator_figures(ratings: Ratings, posterior: np.ndarray) -> dict[str, np.ndarray]:
    counts = soft_confusion(ratings, posterior)
    row = counts.sum(axis=2)  # (n_raters, K true)
    with np.errstate(divide="ignore", invalid="ignore"):
        confusion = np.where(row[..., None] > 0, counts / row[..., None], np.nan)
    n = np.bincount(ratings.rater, minlength=ratings.n_raters).astype(np.float64)
    correct = np.trace(counts, axis1=1, axis2=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(n > 0, correct / n, np.nan)
    return {"confusion": confusion, "confusion_ci": beta_interval(counts, np.broadcast_to(row[..., None], counts.shape)),
            "accuracy": accuracy, "accuracy_ci": beta_interval(correct, n), "n": n.astype(np.int64)}


def _compact(ratings: Ratings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labelled items, used classes: (item positions, dense task index per label, used class ids,
    dense label per label). crowd-kit only knows tasks and classes that occur in the data.
    Bincounts, not np.unique: linear in the labels."""
    def dense(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        used = np.bincount(values, minlength=size) > 0
        return np.flatnonzero(used), (np.cumsum(used) - 1)[values]

    tasks, task = dense(ratings.item, ratings.n_items)
    classes, label = dense(ratings.label, ratings.n_classes)
    return tasks, task, classes, label


def dawid_skene(ratings: Ratings, *, gold: np.ndarray | None = None, n_iter: int = 100, tol: float = 1e-5,
                engine: str = "crowdkit") -> Consensus:
    """Dawid-Skene consensus. ``gold``: class index or -1 per item; gold items are pinned to their
    label during EM (crowd-kit's ``true_labels``), which sharpens the annotators' matrices.

    ``engine`` "crowdkit" runs crowd-kit (pandas, ~1-2 s per 100k labels); "numpy" runs
    ``dawid_skene_em`` (same numbers to 1e-6, ~20x faster). Quality of an item: the posterior
    probability of its consensus label. Annotator accuracy: the expected share of their labels
    that equal the true class under the posterior, with a Jeffreys interval on those expected
    counts (it does not include the uncertainty of the posterior itself).
    """
    require_overlap(ratings)
    tasks, task, classes, label = _compact(ratings)
    gold_dense = None
    if gold is not None:
        to_dense = np.full(ratings.n_classes, -1, dtype=np.int64)
        to_dense[classes] = np.arange(classes.size)
        g = np.asarray(gold, dtype=np.int64)[tasks]
        gold_dense = np.where(g >= 0, to_dense[np.maximum(g, 0)], -1)
    if engine == "crowdkit":
        probas, iterations = _crowdkit_ds(task, ratings.rater, label, gold_dense, n_iter=n_iter, tol=tol)
    elif engine == "numpy":
        probas, _, _, iterations = dawid_skene_em(task, ratings.rater, label, n_tasks=tasks.size,
                                                  n_workers=ratings.n_raters, n_classes=classes.size,
                                                  gold=gold_dense, n_iter=n_iter, tol=tol)
    else:
        raise ValueError(f"unknown engine {engine!r}; expected crowdkit or numpy")
    posterior = np.zeros((ratings.n_items, ratings.n_classes))
    posterior[np.ix_(tasks, classes)] = probas
    labels = np.full(ratings.n_items, -1, dtype=np.int64)
    labels[tasks] = classes[probas.argmax(axis=1)]
    quality = np.full(ratings.n_items, np.nan)
    quality[tasks] = probas.max(axis=1)
    figures = _annotator_figures(ratings, posterior)
    unlabelled = np.ones(ratings.n_items, dtype=bool)
    unlabelled[tasks] = False
    posterior[unlabelled] = np.nan
    return Consensus(method=DAWID_SKENE, labels=labels, quality=quality, probabilities=posterior,
                     iterations=iterations, **figures)


def _crowdkit_ds(task: np.ndarray, worker: np.ndarray, label: np.ndarray, gold: np.ndarray | None, *,
                 n_iter: int, tol: float) -> tuple[np.ndarray, int]:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    frame = pd.DataFrame({"task": task, "worker": worker, "label": label})
    true_labels = None
    if gold is not None and (gold >= 0).any():
        pinned = np.flatnonzero(gold >= 0)
        true_labels = pd.Series(gold[pinned], index=pinned)
    model = DawidSkene(n_iter=n_iter, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # crowd-kit 1.4 uses pandas keywords pandas 3 deprecates
        probas = model.fit_predict_proba(frame, true_labels=true_labels)
    n_classes = int(label.max()) + 1
    probas = probas.reindex(index=np.arange(int(task.max()) + 1), columns=np.arange(n_classes), fill_value=0.0)
    return probas.to_numpy(dtype=np.float64), len(model.loss_history_)


def dawid_skene_em(task: np.ndarray, worker: np.ndarray, label: np.ndarray, *, n_tasks: int, n_workers: int,
                   n_classes: int, gold: np.ndarray | None = None, n_iter: int = 100,
                   tol: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """crowd-kit's DawidSkene.fit, vectorized: returns (probas (T, K), priors (K,), errors (W, K given,
    K true), iterations). Dense indices: every task and class in range must occur in the data.

    Tasks with the same labels from the same workers (and the same gold label) have the same
    posterior, so the EM runs once per distinct pattern, weighted by how many tasks share it:
    with ten workers and three classes there are at most a few thousand patterns however many
    tasks there are. The labels become one sparse (pattern x (worker, given label)) count matrix
    C, so the E-step is ``C @ log(errors)`` and the M-step ``C.T @ (weights * probas)``. Cost: one
    pass over the labels to find the patterns, then microseconds per iteration.
    """
    from scipy import sparse

    task, worker, label = (np.asarray(a, dtype=np.int64) for a in (task, worker, label))
    k = n_classes
    key = worker * k + label
    gold_of = np.full(n_tasks, -1, dtype=np.int64) if gold is None else np.asarray(gold, dtype=np.int64)
    full = sparse.csr_matrix((np.ones(task.size), (task, key)), shape=(n_tasks, n_workers * k + k + 1))
    pinned_col = n_workers * k + 1 + gold_of  # gold label (or "none") as one more column of the pattern
    full = full + sparse.csr_matrix((np.ones(n_tasks), (np.arange(n_tasks), pinned_col)), shape=full.shape)
    full.sum_duplicates()
    patterns, inverse = _distinct_rows(full)
    weight = np.bincount(inverse, minlength=patterns.shape[0]).astype(np.float64)
    counts = patterns[:, : n_workers * k].tocsr()
    counts_t = counts.T.tocsr()
    pattern_gold = np.asarray(patterns[:, n_workers * k:].argmax(axis=1)).ravel() - 1
    labels_per_pattern = np.asarray(counts.sum(axis=1)).ravel()
    present = np.bincount(key, minlength=n_workers * k) > 0
    pinned = np.flatnonzero(pattern_gold >= 0)

    def correct(probas: np.ndarray) -> np.ndarray:
        if pinned.size:
            probas[pinned] = 0.0
            probas[pinned, pattern_gold[pinned]] = 1.0
        return probas

    def m_step(probas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(errors (W, K given, K true), C @ ln errors (patterns, K))."""
        errors = counts_t @ (probas * weight[:, None])
        errors = np.where(present[:, None], np.maximum(errors, EPS), 0.0).reshape(n_workers, k, k)
        errors = errors / errors.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            log_errors = np.where(present[:, None], np.log(errors.reshape(n_workers * k, k)), 0.0)
        return errors, counts @ log_errors

    def e_step(priors: np.ndarray, evidence: np.ndarray) -> np.ndarray:
        log_lik = (np.log(np.maximum(priors, EPS)) + evidence) / np.log(2.0)
        scaled = np.exp2(log_lik - log_lik.max(axis=1, keepdims=True))
        return scaled / scaled.sum(axis=1, keepdims=True)

    def elbo(probas: np.ndarray, priors: np.ndarray, evidence: np.ndarray) -> float:
        joint = float(weight @ (probas * evidence).sum(axis=1))
        joint += float(((weight * labels_per_pattern) @ probas) @ np.log(np.maximum(priors, EPS)))
        clipped = np.maximum(probas, EPS)
        return joint - float(weight @ (np.log(clipped) * clipped).sum(axis=1))

    given = np.stack([np.asarray(counts[:, c::k].sum(axis=1)).ravel() for c in range(k)], axis=1)
    probas = correct(given / given.sum(axis=1, keepdims=True))
    priors = (weight @ probas) / n_tasks
    errors, evidence = m_step(probas)
    loss, iterations = -np.inf, 0
    for _ in range(n_iter):
        probas = correct(e_step(priors, evidence))
        priors = (weight @ probas) / n_tasks
        errors, evidence = m_step(probas)
        new_loss = elbo(probas, priors, evidence) / task.size
        iterations += 1
        if new_loss - loss < tol:
            break
        loss = new_loss
    probas = probas[inverse]
    # crowd-kit returns the probabilities as clipped by its last ELBO evaluation.
    return np.maximum(probas, EPS), np.maximum(priors, EPS), errors, iterations


def _distinct_rows(matrix: object) -> tuple[object, np.ndarray]:
    """(distinct rows of a CSR matrix, index of each row's distinct row). Rows are grouped by two
    random projections, then every row is checked against its group's representative, so a
    hash collision can never merge different rows (it would raise instead)."""
    from scipy import sparse

    rng = np.random.default_rng(0)
    projection = matrix @ rng.random((matrix.shape[1], 2))
    _, first, inverse = np.unique(projection[:, 0] + 1j * projection[:, 1], return_index=True,
                                  return_inverse=True)
    distinct = matrix[first]
    if (matrix - distinct[inverse]).count_nonzero():
        raise RuntimeError("task pattern hash collision; report this input")
    return sparse.csr_matrix(distinct), inverse


def crowdlab(ratings: Ratings, pred_probs: np.ndarray) -> Consensus:
    """CROWDLAB consensus (cleanlab.multiannotator): annotators weighed against a classifier.

    ``pred_probs`` (n_items, n_classes): out-of-fold class probabilities of a classifier trained
    on the items' majority labels. Items nobody labelled are left out (label -1). Annotator
    accuracy: agreement with the consensus label, Jeffreys interval; ``annotator_score`` is
    cleanlab's annotator quality. Quality of an item: cleanlab's consensus quality score.
    """
    from cleanlab.multiannotator import get_label_quality_multiannotator

    require_overlap(ratings)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.shape != (ratings.n_items, ratings.n_classes):
        raise ValueError(f"pred_probs must have shape {(ratings.n_items, ratings.n_classes)}, got {pred_probs.shape}")
    tasks = np.unique(ratings.item)
    raters = np.unique(ratings.rater)
    matrix = np.full((tasks.size, raters.size), np.nan)
    matrix[np.searchsorted(tasks, ratings.item), np.searchsorted(raters, ratings.rater)] = ratings.label
    probs = np.maximum(pred_probs[tasks], 1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = get_label_quality_multiannotator(matrix, probs / probs.sum(axis=1, keepdims=True),
                                                  verbose=False, return_detailed_quality=False)
    table = result["label_quality"]
    labels = np.full(ratings.n_items, -1, dtype=np.int64)
    labels[tasks] = table["consensus_label"].to_numpy(dtype=np.int64)
    quality = np.full(ratings.n_items, np.nan)
    quality[tasks] = table["consensus_quality_score"].to_numpy(dtype=np.float64)
    one_hot = np.zeros((ratings.n_items, ratings.n_classes))
    one_hot[tasks, labels[tasks]] = 1.0
    score = np.full(ratings.n_raters, np.nan)
    score[raters] = result["annotator_stats"].sort_index()["annotator_quality"].to_numpy(dtype=np.float64)
    return Consensus(method=CROWDLAB, labels=labels, quality=quality, probabilities=None, annotator_score=score,
                     **_annotator_figures(ratings, one_hot))


def label_issues(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items whose label the out-of-fold probabilities contradict, most likely wrong first.

    ``labels``: class index per item (-1: no label, never an issue). Returns (positions of the
    issues, ranked; label quality score of every item, NaN where unlabelled) from cleanlab's
    ``find_label_issues`` (prune by noise rate) and ``rank.get_label_quality_scores`` (self
    confidence: lower = more likely wrong).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    have = np.flatnonzero(labels >= 0)
    scores = np.full(labels.size, np.nan)
    if have.size == 0:
        return np.zeros(0, dtype=np.int64), scores
    probs = np.maximum(pred_probs[have], 1e-6)
    probs /= probs.sum(axis=1, keepdims=True)
    scores[have] = get_label_quality_scores(labels[have], probs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = find_label_issues(labels[have], probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    return have[np.asarray(ranked, dtype=np.int64)], scores


def majority_vote(ratings: Ratings, *, seed: int = 0) -> np.ndarray:
    """Most common label per item, ties broken at random (seeded); -1 for unlabelled items."""
    counts = ratings.counts.astype(np.float64)
    jitter = np.random.default_rng(seed).random(counts.shape) * 0.5
    labels = (counts + np.where(counts > 0, jitter, 0.0)).argmax(axis=1)
    return np.where(ratings.labels_per_item > 0, labels, -1)
