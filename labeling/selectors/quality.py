"""Selectors (reads): agreement, final labels, the disagreement queue, gold accuracy, snapshots, splits.

A campaign's labels are read once into numpy (``campaign_label_table``: one query for items, one
for annotations, one for adjudications) and every figure is computed from that table, so a
31,000-item campaign costs three queries, not one per item.

For classifier runs: ``snapshot_labels(snapshot)`` and ``split_assignments(split)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404

from domainsieve.auth import RESEARCHER, has_role
from domainsieve.ids import parse_id
from labeling import hooks
from labeling.agreement import Ratings, agreement_report, contest_scores, final_labels
from labeling.agreement.consensus import (
    CROWDLAB,
    DAWID_SKENE,
    Consensus,
    ConsensusInputError,
    crowdlab,
    dawid_skene,
    majority_vote,
)
from labeling.agreement.final import CONSENSUS_RULES, SOURCE_NAMES
from labeling.domains import AMBIGUOUS, DOMAIN_INDEX, DOMAINS
from labeling.models import (
    Adjudication,
    Annotation,
    Campaign,
    CampaignItem,
    CampaignQuality,
    LabelSnapshot,
    SnapshotLabel,
    Split,
    SplitAssignment,
)
from labeling.selectors.campaigns import get_campaign_for_user


def get_campaign_for_researcher(*, user: Any, campaign_id: int) -> Campaign:
    """The campaign, for researchers and admins only: annotators never see quality figures (403)."""
    if not has_role(user, RESEARCHER):
        raise PermissionDenied("Agreement, labels of others and exports need the researcher role.")
    return get_campaign_for_user(user=user, campaign_id=campaign_id)


def campaign_quality(*, campaign: Campaign) -> CampaignQuality:
    """The campaign's quality settings; defaults (unsaved) when none were stored."""
    try:
        return campaign.quality
    except CampaignQuality.DoesNotExist:
        return CampaignQuality(campaign=campaign)


# Above this many labels Dawid-Skene runs in labeling.agreement.consensus.dawid_skene_em, not crowd-kit.
CROWDKIT_MAX_LABELS = 50_000


@dataclass(eq=False)
class LabelTable:
    """One campaign's labels as arrays. Item positions index every per-item array."""

    campaign: Campaign
    class_names: list[str]
    item_ids: np.ndarray
    image_ids: np.ndarray
    gold: np.ndarray  # class index or -1
    adjudicated: np.ndarray  # latest adjudicated class index or -1
    annotator_ids: list[int]
    ratings: Ratings

    @cached_property
    def final(self) -> tuple[np.ndarray, np.ndarray]:
        """(final class index or -1, source code) per item under the campaign's rule. The
        annotator-aware rules raise ConsensusInputError where annotators do not overlap."""
        rule = self.campaign.final_label_rule
        consensus = self.consensus(rule).labels if rule in CONSENSUS_RULES else None
        return final_labels(self.ratings.counts, adjudicated=self.adjudicated, gold=self.gold, rule=rule,
                            consensus=consensus)

    def consensus(self, method: str) -> Consensus:
        """Dawid-Skene or CROWDLAB over these labels, computed once per table and method.

        Dawid-Skene pins gold items to their gold label. CROWDLAB asks the installed classifier
        hook for out-of-fold probabilities of a classifier trained on the majority labels (cached
        on disk by the hook; the first call for new labels fits it). Cost: crowd-kit takes about a
        few seconds per 100,000 labels, too slow for a page view, so above 50,000 labels the numpy
        EM runs instead (the same EM, held to crowd-kit within 1e-6 by the tests; ~0.3 s at 93,000).
        """
        cache = self.__dict__.setdefault("_consensus", {})
        if method not in cache:
            if method == DAWID_SKENE:
                engine = "numpy" if self.ratings.n_labels > CROWDKIT_MAX_LABELS else "crowdkit"
                cache[method] = dawid_skene(self.ratings, gold=self.gold, engine=engine)
            elif method == CROWDLAB:
                cache[method] = crowdlab(self.ratings, self.probabilities(majority_vote(self.ratings)).probabilities)
            else:
                raise ValueError(f"unknown consensus method {method!r}")
        return cache[method]

    def probabilities(self, labels: np.ndarray) -> hooks.ItemProbabilities:
        """Out-of-fold class probabilities of the items, from a classifier trained on ``labels``."""
        cache = self.__dict__.setdefault("_probabilities", {})
        key = hash(np.asarray(labels).tobytes())
        if key not in cache:
            cache[key] = hooks.item_probabilities(campaign=self.campaign, image_ids=self.image_ids, labels=labels,
                                                  class_names=self.class_names)
        return cache[key]

    @cached_property
    def agreement_with_final(self) -> np.ndarray:
        """Share of annotators' labels equal to the final label (nan: no labels or no final label)."""
        final, _ = self.final
        counts, m = self.ratings.counts, self.ratings.labels_per_item
        hits = np.where(final >= 0, counts[np.arange(final.size), np.maximum(final, 0)], 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((m > 0) & (final >= 0), hits / np.maximum(m, 1), np.nan)

    def annotator_names(self) -> list[str]:
        names = dict(get_user_model().objects.filter(id__in=self.annotator_ids).values_list("id", "username"))
        return [names.get(i, str(i)) for i in self.annotator_ids]


def campaign_label_table(*, campaign: Campaign) -> LabelTable:
    names = campaign.label_names
    index = {name: i for i, name in enumerate(names)}
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("id")
                 .values_list("id", "image_id", "is_gold", "gold_label"))
    item_ids = np.array([row[0] for row in items], dtype=np.int64)
    position = {item_id: p for p, item_id in enumerate(item_ids.tolist())}
    gold = np.array([index.get(g, -1) if is_gold else -1 for _, _, is_gold, g in items], dtype=np.int64)
    adjudicated = np.full(item_ids.size, -1, dtype=np.int64)
    for item_id, label in (Adjudication.objects.filter(item__campaign=campaign).order_by("id")
                           .values_list("item_id", "label")):
        adjudicated[position[item_id]] = index.get(label, -1)
    rows = [(position[i], a, index[label]) for i, a, label in
            Annotation.objects.filter(item__campaign=campaign).values_list("item_id", "annotator_id", "label")
            if label in index]
    annotator_ids = sorted({a for _, a, _ in rows})
    rater_index = {a: r for r, a in enumerate(annotator_ids)}
    arr = np.array([(p, rater_index[a], c) for p, a, c in rows], dtype=np.int64).reshape(-1, 3)
    ratings = Ratings.from_long(arr[:, 0], arr[:, 1], arr[:, 2], n_items=item_ids.size,
                                n_raters=len(annotator_ids), n_classes=len(names))
    return LabelTable(campaign=campaign, class_names=names, item_ids=item_ids,
                      image_ids=np.array([row[1] for row in items], dtype=np.int64), gold=gold,
                      adjudicated=adjudicated, annotator_ids=annotator_ids, ratings=ratings)


def gold_accuracy(*, table: LabelTable) -> list[dict[str, Any]]:
    """Per annotator with gold answers: n, correct, accuracy, and ``flagged`` when below the bar."""
    from labeling.agreement import rater_vs_gold

    settings = campaign_quality(campaign=table.campaign)
    result = rater_vs_gold(table.ratings, table.gold)
    out = []
    for r, name in enumerate(table.annotator_names()):
        n = int(result.n[r])
        if n == 0:
            continue
        accuracy = float(result.accuracy[r])
        out.append({"annotator": name, "annotator_id": table.annotator_ids[r], "n": n,
                    "correct": int(result.correct[r]), "accuracy": accuracy,
                    "flagged": n >= settings.gold_min_answers and accuracy < settings.gold_min_accuracy})
    return out


def campaign_agreement(*, campaign: Campaign, n_boot: int = 1000, seed: int = 0,
                       table: LabelTable | None = None) -> dict[str, Any]:
    """Every agreement figure of the campaign plus gold accuracy and final-label counts (JSON-ready).

    Under an annotator-aware rule that cannot run (no overlap), ``final_labels`` holds ``error``
    and ``reason`` instead of counts."""
    table = table or campaign_label_table(campaign=campaign)
    report = agreement_report(table.ratings, class_names=table.class_names, rater_names=table.annotator_names(),
                              gold=table.gold, n_boot=n_boot, seed=seed)
    report["campaign"] = {"id": campaign.id, "name": campaign.name, "final_label_rule": campaign.final_label_rule}
    report["gold"] = {"n_items": int((table.gold >= 0).sum()), "annotators": gold_accuracy(table=table)}
    try:
        final, source = table.final
    except ConsensusInputError as error:
        # The agreement figures above stand; the final labels say plainly why there are none.
        report["final_labels"] = {"error": str(error), "reason": error.reason}
        report["disagreements_open"] = None
        return report
    report["final_labels"] = {
        "counts": {name: int((final == c).sum()) for c, name in enumerate(table.class_names)},
        "by_source": {SOURCE_NAMES[s]: int((source == s).sum()) for s in SOURCE_NAMES if s},
        "without": int((final < 0).sum()),
    }
    report["disagreements_open"] = int(disagreement_mask(table=table)[0].sum())
    return report


def disagreement_mask(*, table: LabelTable) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Items in the queue (not yet adjudicated) and why: labels differ, somebody said ambiguous
    (when the campaign's switch is on), a gold miss, or a tie the final rule cannot settle."""
    counts = table.ratings.counts
    m = table.ratings.labels_per_item
    final, _ = table.final
    reasons = {"disagreement": (counts > 0).sum(axis=1) > 1}
    ambiguous = table.class_names.index(AMBIGUOUS) if AMBIGUOUS in table.class_names else -1
    if ambiguous >= 0 and campaign_quality(campaign=table.campaign).queue_ambiguous:
        reasons["ambiguous"] = counts[:, ambiguous] > 0
    has_gold = table.gold >= 0
    reasons["gold_miss"] = has_gold & (counts[np.arange(counts.shape[0]), np.maximum(table.gold, 0)] < m)
    reasons["no_final_label"] = (m > 0) & (final < 0)
    queue = np.logical_or.reduce(list(reasons.values())) & (table.adjudicated < 0)
    return queue, reasons


def disagreement_queue(*, campaign: Campaign, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Open disputed items, most contested first (then gold misses, then more labels, then id)."""
    table = campaign_label_table(campaign=campaign)
    queue, reasons = disagreement_mask(table=table)
    positions = np.flatnonzero(queue)
    contest = contest_scores(table.ratings.counts)
    m = table.ratings.labels_per_item
    order = np.lexsort((table.item_ids[positions], -m[positions], -reasons["gold_miss"][positions].astype(np.int64),
                        -contest[positions]))
    page = positions[order][offset: offset + limit]
    labels_by_item: dict[int, list[dict[str, Any]]] = {int(table.item_ids[p]): [] for p in page}
    for item_id, username, label, at in (Annotation.objects.filter(item_id__in=labels_by_item)
                                         .order_by("item_id", "annotator__username")
                                         .values_list("item_id", "annotator__username", "label", "updated_at")):
        labels_by_item[item_id].append({"annotator": username, "label": label, "at": at.isoformat()})
    predicted = {item_id: (label, score) for item_id, label, score in CampaignItem.objects.filter(
        pk__in=labels_by_item, predicted_label__isnull=False).values_list("id", "predicted_label", "predicted_score")}
    items = [{
        "item": int(table.item_ids[p]), "image": int(table.image_ids[p]),
        "labels": labels_by_item[int(table.item_ids[p])],
        "counts": {name: int(table.ratings.counts[p, c]) for c, name in enumerate(table.class_names)},
        "contest": float(contest[p]),
        "gold_label": table.class_names[table.gold[p]] if table.gold[p] >= 0 else "",
        "reasons": [name for name, mask in reasons.items() if mask[p]],
        # Two or more labels that differ (or a gold miss) is a genuine disagreement; an item queued
        # only because someone said "ambiguous" (or it has no final label yet) is listed apart.
        "kind": "disagreement" if reasons["disagreement"][p] or reasons["gold_miss"][p] else "ambiguous",
        "prediction": ({"label": predicted[int(table.item_ids[p])][0], "score": predicted[int(table.item_ids[p])][1]}
                       if int(table.item_ids[p]) in predicted else None),
    } for p in page]
    return {"count": int(positions.size), "offset": offset, "limit": limit, "results": items}


def adjudication_history(*, item: CampaignItem) -> list[Adjudication]:
    return list(item.adjudications.select_related("decided_by").order_by("-id"))


def label_index_for(class_names: list[str]) -> dict[str, int]:
    """Paper indices (0 natural, 1 rendition, 2 ambiguous) where the campaign uses those names;
    otherwise the position in the campaign's label choices."""
    if set(class_names) <= set(DOMAINS):
        return dict(DOMAIN_INDEX)
    return {name: i for i, name in enumerate(class_names)}


def get_snapshot(*, ref: str | int) -> LabelSnapshot:
    """A snapshot by id or name; Http404 when there is none."""
    queryset = LabelSnapshot.objects.select_related("campaign")
    found = (queryset.filter(pk=pk).first() if (pk := parse_id(ref)) is not None else None) or queryset.filter(
        name=str(ref)).first()
    if found is None:
        raise Http404(f"No label snapshot {ref!r}.")
    return found


def get_split(*, ref: str | int, version: int | None = None) -> Split:
    """A split by id, or by name and version (the latest version when none is given)."""
    if (pk := parse_id(ref)) is not None and version is None:
        found = Split.objects.filter(pk=pk).first()
        if found:
            return found
    queryset = Split.objects.filter(name=str(ref))
    found = (queryset.filter(version=version) if version else queryset.order_by("-version")).first()
    if found is None:
        raise Http404(f"No split {ref!r}" + (f" version {version}." if version else "."))
    return found


def snapshot_labels(snapshot: LabelSnapshot) -> list[tuple[int, str]]:
    """The frozen labels of a snapshot as (image_id, label name), sorted by image id."""
    return list(SnapshotLabel.objects.filter(snapshot=snapshot).order_by("image_id").values_list("image_id", "label"))


def split_assignments(split: Split) -> dict[int, str]:
    """{image_id: "train" | "val" | "test" | "unused"} for every image of the split's snapshot."""
    return dict(SplitAssignment.objects.filter(split=split).values_list("image_id", "subset"))


def export_frame(*, campaign: Campaign, snapshot: LabelSnapshot | None = None, split: Split | None = None,
                 image_url: str = "/api/v1/images/{id}/file/") -> pd.DataFrame:
    """Rows for labeling.exports: the campaign's live final labels, or a snapshot's frozen ones.

    ``image_url`` is a template with ``{id}``; make it absolute for Label Studio.
    """
    from labeling.models import Image

    if split is not None and snapshot is None:
        snapshot = split.snapshot
    if snapshot is not None and snapshot.campaign_id != campaign.id:
        raise ValueError(f"snapshot {snapshot.name!r} belongs to another campaign")
    if split is not None and split.snapshot_id != snapshot.id:
        raise ValueError(f"split {split} belongs to another snapshot")
    if snapshot is not None:
        class_names = list(snapshot.class_names)
        rows = list(SnapshotLabel.objects.filter(snapshot=snapshot).order_by("image_id")
                    .values_list("image_id", "label", "label_count", "agreement"))
        image_ids = [r[0] for r in rows]
        labels = [r[1] for r in rows]
        label_counts = [r[2] for r in rows]
        agreement = [np.nan if r[3] is None else r[3] for r in rows]
    else:
        table = campaign_label_table(campaign=campaign)
        class_names = table.class_names
        final, _ = table.final
        image_ids = table.image_ids.tolist()
        labels = [class_names[c] if c >= 0 else "" for c in final.tolist()]
        label_counts = table.ratings.labels_per_item.tolist()
        agreement = table.agreement_with_final.tolist()
    to_index = label_index_for(class_names)
    # A subquery, not a 31,000-id IN list (SQLite caps bound parameters).
    covered = (SnapshotLabel.objects.filter(snapshot=snapshot).values("image_id") if snapshot is not None
               else CampaignItem.objects.filter(campaign=campaign).values("image_id"))
    info = {i: row for i, *row in Image.objects.filter(id__in=covered)
            .values_list("id", "uid", "dataset__name", "source")}
    subsets = split_assignments(split) if split is not None else {}
    return pd.DataFrame({
        "uid": [info[i][0] for i in image_ids],
        "dataset": [info[i][1] for i in image_ids],
        "path": [info[i][2] for i in image_ids],
        "label": labels,
        "label_index": pd.array([to_index[label] if label else -1 for label in labels], dtype="int64"),
        "label_count": pd.array(label_counts, dtype="int64"),
        "agreement": pd.array(agreement, dtype="float64"),
        "split": [subsets.get(i, "") for i in image_ids],
        "image_id": pd.array(image_ids, dtype="int64"),
        "image_url": [image_url.format(id=i) for i in image_ids],
    })


def find_campaign(*, ref: str) -> Campaign | None:
    """A campaign by id or exact name (for commands, which run with full rights)."""
    if parse_id(ref) is not None:
        found = Campaign.objects.filter(pk=parse_id(ref)).first()
        if found:
            return found
    return Campaign.objects.filter(name=ref).first()
