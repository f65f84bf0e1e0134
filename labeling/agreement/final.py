"""Final labels and the disagreement ranking, from per-item label counts.

Final label rule (per campaign): an adjudicated label wins; else a gold label; else, if the rule
allows it, a unanimous vote (a single label counts: it is all there is); else, if the rule allows
it, the majority (the one most common label). Ties and anything the rule refuses have no final label (-1) and belong in
the disagreement queue.

The annotator-aware rules ("dawid-skene", "crowdlab") take the consensus label of
labeling.agreement.consensus after adjudicated and gold labels; the caller computes it.
"""
from __future__ import annotations

import numpy as np

# Source codes of a final label, in the order the rule consults them.
NONE, ADJUDICATED, GOLD, UNANIMOUS, MAJORITY, DAWID_SKENE, CROWDLAB = 0, 1, 2, 3, 4, 5, 6
SOURCE_NAMES = {NONE: "", ADJUDICATED: "adjudicated", GOLD: "gold", UNANIMOUS: "unanimous", MAJORITY: "majority",
                DAWID_SKENE: "dawid-skene", CROWDLAB: "crowdlab"}
CONSENSUS_RULES = {"dawid-skene": DAWID_SKENE, "crowdlab": CROWDLAB}
RULES = ("adjudicated>unanimous>majority", "adjudicated>unanimous", "adjudicated", *CONSENSUS_RULES)


def final_labels(counts: np.ndarray, *, adjudicated: np.ndarray | None = None, gold: np.ndarray | None = None,
                 rule: str = RULES[0], consensus: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(final class index or -1, source code) per item. ``adjudicated``/``gold``/``consensus``: index
    or -1 per item; ``consensus`` is required by (and only used by) the annotator-aware rules."""
    if rule not in RULES:
        raise ValueError(f"unknown final label rule {rule!r}; expected one of {', '.join(RULES)}")
    if rule in CONSENSUS_RULES and consensus is None:
        raise ValueError(f"rule {rule!r} needs the consensus labels")
    counts = np.asarray(counts)
    n = counts.shape[0]
    adjudicated = np.full(n, -1) if adjudicated is None else np.asarray(adjudicated)
    gold = np.full(n, -1) if gold is None else np.asarray(gold)
    m = counts.sum(axis=1)
    top = counts.max(axis=1) if n else np.zeros(0, dtype=np.int64)
    winner = counts.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    unique_top = (counts == top[:, None]).sum(axis=1) == 1
    final = np.full(n, -1, dtype=np.int64)
    source = np.zeros(n, dtype=np.int64)
    steps: list[tuple[np.ndarray, np.ndarray, int]] = [(adjudicated >= 0, adjudicated, ADJUDICATED),
                                                       (gold >= 0, gold, GOLD)]
    if "unanimous" in rule:
        steps.append(((m >= 1) & (top == m), winner, UNANIMOUS))
    if "majority" in rule:
        steps.append(((m >= 1) & unique_top, winner, MAJORITY))
    if rule in CONSENSUS_RULES:
        consensus = np.asarray(consensus)
        steps.append((consensus >= 0, consensus, CONSENSUS_RULES[rule]))
    for mask, values, code in steps:
        take = mask & (source == NONE)
        final[take] = values[take]
        source[take] = code
    return final, source


def contest_scores(counts: np.ndarray) -> np.ndarray:
    """How contested each item is: 1 - (share of the most common label); 0 for unanimous items.

    Ties at the top are the most contested for their label count, so they sort first.
    """
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m > 0, 1.0 - counts.max(axis=1) / np.where(m > 0, m, 1), 0.0)
