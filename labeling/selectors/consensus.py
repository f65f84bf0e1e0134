"""Selectors (reads): annotator-aware consensus, likely label errors, the agreement page's charts, and
an annotator's view of their own quality.

Everything starts from one ``campaign_label_table`` (three queries) and the math in
labeling/agreement/consensus.py. Consensus that cannot be computed (no overlap, no classifier)
raises ConsensusInputError with a message for the user; callers answer 409 or show it.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from labeling import hooks
from labeling.agreement.consensus import (
    METHODS,
    Consensus,
    ConsensusInputError,
    beta_interval,
    label_issues,
    majority_vote,
)
from labeling.agreement.metrics import rater_vs_gold
from labeling.models import Annotation, AnnotatorPause, Campaign, RelabelRequest
from labeling.selectors.quality import LabelTable, campaign_label_table, campaign_quality

__all__ = ["ConsensusInputError", "annotator_own_quality", "campaign_charts", "campaign_consensus_report",
           "campaign_label_issues", "relabel_history"]


def _num(value: float) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 6)


def _pair(values: np.ndarray) -> list[float | None]:
    return [_num(v) for v in values]


def campaign_consensus_report(*, campaign: Campaign, method: str, table: LabelTable | None = None,
                              limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Consensus labels summary, per-annotator estimated accuracy and confusion with 95% intervals,
    and a page of items (``limit`` from ``offset``), least trustworthy consensus first.

    ConsensusInputError when the method cannot run on these labels (the message says why).
    """
    if method not in METHODS:
        raise ConsensusInputError(f"unknown consensus method {method!r}; expected one of {', '.join(METHODS)}")
    table = table or campaign_label_table(campaign=campaign)
    result = table.consensus(method)
    names = table.annotator_names()
    settings = campaign_quality(campaign=campaign)
    paused = dict(AnnotatorPause.objects.filter(campaign=campaign).values_list("annotator_id", "kind"))
    mv = majority_vote(table.ratings)
    labelled = result.labels >= 0
    annotators = []
    for r, name in enumerate(names):
        entry: dict[str, Any] = {
            "annotator": name, "annotator_id": table.annotator_ids[r], "n": int(result.n[r]),
            "accuracy": _num(result.accuracy[r]), "accuracy_ci": _pair(result.accuracy_ci[r]),
            "confusion": [[_num(v) for v in row] for row in result.confusion[r]],
            "confusion_ci": [[_pair(cell) for cell in row] for row in result.confusion_ci[r]],
            "below_floor": bool(result.n[r] > 0 and result.accuracy[r] < settings.accuracy_floor),
            "paused": paused.get(table.annotator_ids[r], ""),
        }
        if result.annotator_score is not None:
            entry["score"] = _num(result.annotator_score[r])
        annotators.append(entry)
    report: dict[str, Any] = {
        "method": method, "rule": campaign.final_label_rule, "classes": table.class_names,
        "n_items": int(labelled.sum()),
        "counts": {name: int((result.labels == c).sum()) for c, name in enumerate(table.class_names)},
        "differs_from_majority": int((labelled & (result.labels != mv)).sum()),
        "mean_quality": _num(np.nanmean(result.quality)) if labelled.any() else None,
        "accuracy_floor": settings.accuracy_floor,
        "interval": "95% Jeffreys (Beta) interval on the expected counts under the consensus",
        "annotators": annotators,
    }
    order = np.flatnonzero(labelled)
    order = order[np.lexsort((table.item_ids[order], result.quality[order]))][offset: offset + limit]
    report["items"] = [{
        "item": int(table.item_ids[p]), "image": int(table.image_ids[p]),
        "label": table.class_names[result.labels[p]], "quality": _num(result.quality[p]),
        "majority": table.class_names[mv[p]] if mv[p] >= 0 else "",
        "counts": {name: int(table.ratings.counts[p, c]) for c, name in enumerate(table.class_names)},
    } for p in order.tolist()]
    if method == "crowdlab":
        source = table.probabilities(mv)
        report["classifier"] = {"run": source.run_id, "note": source.note}
    return report


def campaign_label_issues(*, campaign: Campaign, limit: int = 50,
                          table: LabelTable | None = None) -> dict[str, Any]:
    """Items whose final label a classifier's out-of-fold probabilities contradict, most likely wrong
    first (cleanlab). Items without a final label are not ranked. ConsensusInputError when no
    classifier can give the probabilities or the campaign's rule cannot run."""
    table = table or campaign_label_table(campaign=campaign)
    final, _ = table.final
    source = table.probabilities(final)
    ranked, scores = label_issues(final, source.probabilities)
    names = table.class_names
    results = []
    for p in ranked[:limit].tolist():
        probs = source.probabilities[p]
        results.append({
            "item": int(table.item_ids[p]), "image": int(table.image_ids[p]), "label": names[final[p]],
            "suggested": names[int(probs.argmax())], "label_quality": _num(scores[p]),
            "probabilities": {name: _num(probs[c]) for c, name in enumerate(names)},
            "counts": {name: int(table.ratings.counts[p, c]) for c, name in enumerate(names)},
        })
    return {"count": int(ranked.size), "n_ranked": int((final >= 0).sum()), "limit": limit,
            "classifier": {"run": source.run_id, "note": source.note}, "results": results}


def relabel_history(*, campaign: Campaign) -> list[dict[str, Any]]:
    """Relabel campaigns made from this campaign, each item with the label it had then and the
    fresh annotators' majority now; ``changed`` where they disagree with the old label."""
    out = []
    for request in RelabelRequest.objects.filter(source=campaign).select_related("target", "created_by"):
        image_ids = [entry["image"] for entry in request.items]
        fresh: dict[int, dict[str, int]] = {}
        for image_id, label in (Annotation.objects.filter(item__campaign=request.target, item__image_id__in=image_ids)
                                .values_list("item__image_id", "label")):
            fresh.setdefault(image_id, {}).setdefault(label, 0)
            fresh[image_id][label] += 1
        rows = []
        for entry in request.items:
            counts = fresh.get(entry["image"], {})
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            new = top[0][0] if top and (len(top) == 1 or top[0][1] > top[1][1]) else ""
            rows.append({**entry, "fresh_counts": counts, "new_label": new,
                         "changed": bool(new) and new != entry["label"]})
        out.append({"id": request.id, "campaign": request.target.id, "campaign_name": request.target.name,
                    "k": request.k, "created_at": request.created_at.isoformat(),
                    "created_by": request.created_by.username if request.created_by else "",
                    "n_changed": sum(r["changed"] for r in rows),
                    "n_relabelled": sum(bool(r["new_label"]) for r in rows), "items": rows})
    return out


# ---------------------------------------------------------------- charts


def campaign_charts(*, campaign: Campaign, table: LabelTable | None = None) -> dict[str, Any]:
    """The agreement page's charts as data: each one {title, kind, columns, rows, ...} so the page
    draws it and ``/agreement/charts/<name>.csv`` serves the same rows. A chart whose input is
    missing carries ``message`` instead (no overlap, no classifier run) and no rows."""
    table = table or campaign_label_table(campaign=campaign)
    names = table.annotator_names()
    classes = table.class_names
    charts: dict[str, Any] = {}
    consensus: Consensus | None = None
    problem = ""
    try:
        consensus = table.consensus("dawid-skene")
    except ConsensusInputError as error:
        problem = str(error)
    # Confusion heatmaps: one per annotator, true class (Dawid-Skene) x given label.
    rows = []
    if consensus is not None:
        for r, name in enumerate(names):
            for t, true in enumerate(classes):
                for g, given in enumerate(classes):
                    rows.append([name, true, given, _num(consensus.confusion[r, t, g]),
                                 *_pair(consensus.confusion_ci[r, t, g])])
    charts["confusion"] = {"title": "Estimated confusion per annotator (Dawid-Skene): true class x given label",
                           "kind": "heatmaps", "classes": classes,
                           "columns": ["annotator", "true", "given", "rate", "low", "high"], "rows": rows,
                           "message": problem}
    # Accuracy with intervals: vs gold (observed) and vs consensus (estimated).
    rows = []
    vs_gold = rater_vs_gold(table.ratings, table.gold)
    gold_n, gold_correct = vs_gold.n, vs_gold.correct
    gold_ci = beta_interval(gold_correct, gold_n)
    for r, name in enumerate(names):
        if gold_n[r]:
            rows.append([name, "vs gold", _num(gold_correct[r] / gold_n[r]), *_pair(gold_ci[r]), int(gold_n[r])])
        if consensus is not None and consensus.n[r]:
            rows.append([name, "vs consensus", _num(consensus.accuracy[r]), *_pair(consensus.accuracy_ci[r]),
                         int(consensus.n[r])])
    charts["accuracy"] = {"title": "Annotator accuracy with 95% intervals", "kind": "intervals",
                          "columns": ["annotator", "against", "accuracy", "low", "high", "n"], "rows": rows,
                          "message": "" if rows else "No gold answers and no consensus yet."}
    charts["over_time"] = _agreement_over_time(table=table, names=names)
    curves = hooks.pr_curves(campaign=campaign)
    rows = []
    for run, per_class in curves.items():
        for cls, curve in per_class.items():
            for p, r_, t in zip(curve.get("precision", []), curve.get("recall", []),
                                [*curve.get("thresholds", []), None], strict=False):
                rows.append([run, cls, p, r_, t])
    charts["pr"] = {"title": "Classifier comparison: precision-recall (test), 98% operating points",
                    "kind": "pr", "curves": curves, "columns": ["run", "class", "precision", "recall", "threshold"],
                    "rows": rows, "message": "" if curves else "No finished classifier run over these datasets."}
    return charts


def _agreement_over_time(*, table: LabelTable, names: list[str]) -> dict[str, Any]:
    """Per annotator and day: share of their labels equal to the item's final label (or, where the
    rule cannot run, the majority)."""
    try:
        final, _ = table.final
        against = "final label"
    except ConsensusInputError:
        final, against = majority_vote(table.ratings), "majority"
    position = {int(i): p for p, i in enumerate(table.item_ids.tolist())}
    label_index = {name: c for c, name in enumerate(table.class_names)}
    name_of = dict(zip(table.annotator_ids, names, strict=True))
    buckets: dict[tuple[str, str], list[int]] = {}
    for item_id, annotator_id, label, at in (Annotation.objects.filter(item__campaign=table.campaign)
                                             .values_list("item_id", "annotator_id", "label", "created_at")):
        p = position.get(item_id)
        if p is None or final[p] < 0 or label not in label_index or table.ratings.labels_per_item[p] < 2:
            continue
        key = (name_of.get(annotator_id, str(annotator_id)), timezone.localtime(at).date().isoformat())
        hit = buckets.setdefault(key, [0, 0])
        hit[0] += int(label_index[label] == final[p])
        hit[1] += 1
    rows = [[name, day, _num(hits / n), n] for (name, day), (hits, n) in sorted(buckets.items())]
    return {"title": f"Agreement with the {against} over time (items with two or more labels)", "kind": "lines",
            "columns": ["annotator", "day", "agreement", "n"], "rows": rows,
            "message": "" if rows else "No overlapping labels yet."}


# ---------------------------------------------------------------- annotators' own view


def annotator_own_quality(*, campaign: Campaign, annotator: Any) -> dict[str, Any]:
    """What an annotator may see about themselves: gold accuracy with its interval, pace, and
    whether they are paused. Never anybody else's figures."""
    answers = list(Annotation.objects.filter(item__campaign=campaign, annotator=annotator)
                   .values_list("label", "item__is_gold", "item__gold_label", "seconds", "created_at"))
    gold = [(label, expected) for label, is_gold, expected, _, _ in answers if is_gold and expected]
    correct = sum(label == expected for label, expected in gold)
    ci = beta_interval(np.array([correct]), np.array([len(gold)]))[0]
    seconds = np.array([s for _, _, _, s, _ in answers if s and s > 0], dtype=float)
    now = timezone.now()
    last_day = sum(1 for *_, at in answers if at >= now - timedelta(days=1))
    pause = AnnotatorPause.objects.filter(campaign=campaign, annotator=annotator).first()
    return {
        "campaign": {"id": campaign.id, "name": campaign.name},
        "labels": len(answers),
        "gold": {"n": len(gold), "correct": correct, "accuracy": _num(correct / len(gold)) if gold else None,
                 "ci95": _pair(ci) if gold else [None, None]},
        "pace": {"median_seconds": _num(np.median(seconds)) if seconds.size else None,
                 "labels_per_hour": _num(3600.0 / np.median(seconds)) if seconds.size else None,
                 "labels_last_24h": last_day},
        "paused": {"kind": pause.kind, "reason": pause.reason} if pause else None,
    }

