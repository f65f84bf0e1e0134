"""Services (writes): quality settings, adjudication, gold items, label snapshots, splits, label imports."""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from domainsieve.ids import parse_id
from labeling.agreement import assign_splits
from labeling.agreement.final import NONE, SOURCE_NAMES
from labeling.agreement.splits import PAPER_DEFAULTS, SUBSET_NAMES, TEST
from labeling.exports import parse_labelstudio
from labeling.models import (
    Adjudication,
    Annotation,
    AnnotationHistory,
    Campaign,
    CampaignItem,
    CampaignQuality,
    Dataset,
    LabelSnapshot,
    SnapshotLabel,
    Split,
    SplitAssignment,
)
from labeling.selectors.quality import campaign_label_table, label_index_for

BULK_BATCH = 5000


class QualityError(ValueError):
    """Bad input to a quality service; the message is fit to show the user."""


@transaction.atomic
def campaign_quality_update(*, campaign: Campaign, queue_ambiguous: bool | None = None,
                            gold_min_accuracy: float | None = None,
                            gold_min_answers: int | None = None) -> CampaignQuality:
    settings, _ = CampaignQuality.objects.get_or_create(campaign=campaign)
    if queue_ambiguous is not None:
        settings.queue_ambiguous = queue_ambiguous
    if gold_min_accuracy is not None:
        if not 0.0 <= gold_min_accuracy <= 1.0:
            raise QualityError("gold_min_accuracy must lie in [0, 1]")
        settings.gold_min_accuracy = gold_min_accuracy
    if gold_min_answers is not None:
        if gold_min_answers < 1:
            raise QualityError("gold_min_answers must be at least 1")
        settings.gold_min_answers = gold_min_answers
    settings.save()
    return settings


@transaction.atomic
def adjudication_record(*, item: CampaignItem, label: str, reason: str, decided_by: Any,
                        make_gold: bool = False) -> Adjudication:
    """Record an admin's final label for an item. Earlier decisions stay as history.

    ``make_gold`` also turns the item into a gold item with this label, so later annotators who
    see it are scored against the decision.
    """
    campaign = item.campaign
    if label not in campaign.label_names:
        raise QualityError(f"unknown label {label!r}; expected one of {', '.join(campaign.label_names)}")
    if not reason.strip():
        raise QualityError("give a reason for the decision")
    if make_gold:
        CampaignItem.objects.filter(pk=item.pk).update(is_gold=True, gold_label=label)
    return Adjudication.objects.create(item=item, label=label, reason=reason.strip(), decided_by=decided_by,
                                       made_gold=make_gold)


@transaction.atomic
def gold_set(*, campaign: Campaign, labels: dict[int, str]) -> int:
    """Mark items (by item id) as gold with a known label; "" unmarks. Returns items changed."""
    unknown = {label for label in labels.values() if label and label not in campaign.label_names}
    if unknown:
        raise QualityError(f"unknown gold label(s) {sorted(unknown)}; expected {campaign.label_names}")
    items = list(CampaignItem.objects.filter(campaign=campaign, id__in=labels))
    if len(items) != len(labels):
        raise QualityError("some items are not part of this campaign")
    for item in items:
        item.gold_label = labels[item.id]
        item.is_gold = bool(item.gold_label)
    CampaignItem.objects.bulk_update(items, ["is_gold", "gold_label"], batch_size=BULK_BATCH)
    return len(items)


@transaction.atomic
def snapshot_create(*, campaign: Campaign, name: str, created_by: Any, description: str = "") -> LabelSnapshot:
    """Freeze the campaign's current final labels (its own final label rule) under a unique name."""
    name = name.strip()
    if not name:
        raise QualityError("a snapshot needs a name")
    if LabelSnapshot.objects.filter(name=name).exists():
        raise QualityError(f"a snapshot named {name!r} already exists; snapshots are immutable, pick a new name")
    table = campaign_label_table(campaign=campaign)
    final, source = table.final
    labelled = np.flatnonzero(final >= 0)
    if labelled.size == 0:
        raise QualityError("the campaign has no final labels yet; nothing to freeze")
    names = table.class_names
    to_index = label_index_for(names)
    counts = Counter(names[c] for c in final[labelled].tolist())
    snapshot = LabelSnapshot.objects.create(
        campaign=campaign, name=name, description=description, rule=campaign.final_label_rule,
        class_names=names, counts={n: counts.get(n, 0) for n in names}, n_labelled=int(labelled.size),
        n_unlabelled=int(final.size - labelled.size), created_by=created_by)
    m = table.ratings.labels_per_item
    agreement = table.agreement_with_final
    rows = (SnapshotLabel(snapshot=snapshot, image_id=int(table.image_ids[p]), label=names[final[p]],
                          label_index=to_index[names[final[p]]], source=SOURCE_NAMES[int(source[p])],
                          label_count=int(m[p]), agreement=None if np.isnan(agreement[p]) else float(agreement[p]))
            for p in labelled.tolist() if source[p] != NONE)
    SnapshotLabel.objects.bulk_create(rows, batch_size=BULK_BATCH)
    return snapshot


def _stable_key(sha256: str) -> int:
    """A split key from the image's content, so the same bytes land in the same subset under every
    snapshot and database (row ids differ between installations)."""
    return int.from_bytes(hashlib.blake2b(sha256.encode(), digest_size=8).digest(), "little")


@transaction.atomic
def split_create(*, snapshot: LabelSnapshot, name: str, preset: str, seed: int = 0, created_by: Any = None,
                 train: int | None = None, val_per_class: int | None = None, test_per_class: int | None = None,
                 ratios: tuple[float, float, float] | None = None) -> Split:
    """Split a snapshot's images into train/val/test/unused and freeze it as the next version of ``name``.

    Images that were in test in the latest earlier version of ``name`` stay in test; images of
    test-set datasets never go to train or val. See labeling/agreement/splits.py for the rule.
    """
    name = name.strip()
    if not name:
        raise QualityError("a split needs a name")
    if preset not in Split.Preset.values:
        raise QualityError(f"unknown preset {preset!r}; expected one of {', '.join(Split.Preset.values)}")
    rows = list(SnapshotLabel.objects.filter(snapshot=snapshot).order_by("image_id")
                .values_list("image_id", "label", "image__sha256", "image__dataset__kind"))
    class_names = list(snapshot.class_names)
    index = {n: i for i, n in enumerate(class_names)}
    image_ids = np.array([r[0] for r in rows], dtype=np.int64)
    previous = Split.objects.select_for_update().filter(name=name).order_by("-version").first()
    locked_ids = set(previous.assignments.filter(subset=SplitAssignment.Subset.TEST)
                     .values_list("image_id", flat=True)) if previous else set()
    keys = np.array([_stable_key(r[2]) for r in rows], dtype=np.uint64)
    if np.unique(keys).size != keys.size:
        # Same bytes twice in one snapshot (two datasets): fall back to row ids, still deterministic.
        keys = image_ids.astype(np.uint64)
    params: dict[str, Any] = {}
    if preset == Split.Preset.PAPER:
        params = {"train": PAPER_DEFAULTS["train"] if train is None else train,
                  "val_per_class": PAPER_DEFAULTS["val_per_class"] if val_per_class is None else val_per_class,
                  "test_per_class": PAPER_DEFAULTS["test_per_class"] if test_per_class is None else test_per_class}
    else:
        params = {"ratios": list(ratios) if ratios else [0.8, 0.1, 0.1]}
    try:
        codes = assign_splits(
            keys=keys, labels=np.array([index[r[1]] for r in rows], dtype=np.int64), n_classes=len(class_names),
            seed=seed, preset=preset, train=params.get("train"), val_per_class=params.get("val_per_class"),
            test_per_class=params.get("test_per_class"),
            ratios=tuple(params["ratios"]) if "ratios" in params else None,
            locked_test=np.array([i in locked_ids for i in image_ids.tolist()], dtype=bool),
            test_only=np.array([r[3] == Dataset.Kind.TESTSET for r in rows], dtype=bool),
            class_names=class_names)
    except ValueError as error:
        raise QualityError(str(error)) from error
    counts = {subset: {n: 0 for n in class_names} for subset in SUBSET_NAMES}
    for code, row in zip(codes.tolist(), rows, strict=True):
        counts[SUBSET_NAMES[code]][row[1]] += 1
    params["kept_test_from_previous"] = int(sum(1 for i, c in zip(image_ids.tolist(), codes.tolist(), strict=True)
                                                if c == TEST and i in locked_ids))
    split = Split.objects.create(snapshot=snapshot, name=name, version=(previous.version + 1) if previous else 1,
                                 preset=preset, seed=seed, params=params, counts=counts, previous=previous,
                                 created_by=created_by)
    SplitAssignment.objects.bulk_create(
        (SplitAssignment(split=split, image_id=int(i), subset=SUBSET_NAMES[c])
         for i, c in zip(image_ids.tolist(), codes.tolist(), strict=True)), batch_size=BULK_BATCH)
    return split


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unmatched: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"labels created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
                f"tasks not matched {self.unmatched}, errors {len(self.errors)}")


@transaction.atomic
def labels_import_labelstudio(*, campaign: Campaign, data: Any, annotator: Any,
                              match_annotators: bool = True) -> ImportSummary:
    """Restore labels from a Label Studio JSON export as annotations of this campaign.

    Tasks are matched to campaign items by uid (``data.uid`` / ``meta.uid``), else by the image URL
    (``/images/{id}/file/``) or the image's source. Each annotation is attributed to the user
    named by ``completed_by`` when ``match_annotators`` and such a user exists, else to
    ``annotator``; one user's later annotation of a task replaces their earlier one. Writes
    history rows and keeps ``labels_count`` in step, like labels given in the app.
    """
    try:
        entries = parse_labelstudio(data)
    except ValueError as error:
        raise QualityError(str(error)) from error
    summary = ImportSummary()
    items = list(CampaignItem.objects.filter(campaign=campaign).values_list("id", "image_id", "image__uid",
                                                                            "image__source"))
    by_uid = {uid: item for item, _, uid, _ in items if uid}
    by_source = {source: item for item, _, _, source in items if source}
    by_image = {image: item for item, image, _, _ in items}
    users = get_user_model().objects
    wanted: dict[tuple[int, int], str] = {}
    for entry in entries:
        item_id = by_uid.get(entry.uid) or by_source.get(entry.image) or _item_from_url(entry.image, by_image)
        if item_id is None:
            summary.unmatched += 1
            continue
        if entry.label not in campaign.label_names:
            summary.errors.append(f"task {entry.task_id}: unknown label {entry.label!r}")
            continue
        user = annotator
        if match_annotators and entry.completed_by:
            user = (users.filter(username=entry.completed_by).first() or users.filter(email=entry.completed_by)
                    .exclude(email="").first() or annotator)
        wanted[(item_id, user.pk)] = entry.label
    existing = {(a.item_id, a.annotator_id): a for a in Annotation.objects.select_for_update()
                .filter(item__campaign=campaign, item_id__in={i for i, _ in wanted})}
    created, history = [], []
    for (item_id, user_id), label in wanted.items():
        annotation = existing.get((item_id, user_id))
        if annotation is None:
            created.append(Annotation(item_id=item_id, annotator_id=user_id, label=label))
        elif annotation.label != label:
            history.append(AnnotationHistory(annotation=annotation, old_label=annotation.label, new_label=label,
                                             changed_by=annotator))
            annotation.label = label
            annotation.save(update_fields=["label", "updated_at"])
            summary.updated += 1
        else:
            summary.unchanged += 1
    Annotation.objects.bulk_create(created, batch_size=BULK_BATCH)
    history.extend(AnnotationHistory(annotation=a, new_label=a.label, changed_by=annotator) for a in created)
    AnnotationHistory.objects.bulk_create(history, batch_size=BULK_BATCH)
    added = Counter(a.item_id for a in created)
    for count in set(added.values()):
        CampaignItem.objects.filter(id__in=[i for i, c in added.items() if c == count]).update(
            labels_count=F("labels_count") + count)
    summary.created = len(created)
    return summary


def _item_from_url(url: str, by_image: dict[int, int]) -> int | None:
    """The item whose image URL (``.../images/{id}/file/``) this is."""
    parts = [p for p in url.split("?")[0].split("/") if p]
    if len(parts) >= 3 and parts[-1] == "file" and parts[-3] == "images" and parse_id(parts[-2]) is not None:
        return by_image.get(parse_id(parts[-2]))
    return None


__all__ = ["ImportSummary", "QualityError", "adjudication_record", "campaign_quality_update", "gold_set",
           "labels_export_to_file", "labels_import_labelstudio", "snapshot_create", "split_create"]


def labels_export_to_file(*, campaign: Campaign, fmt: str, snapshot: LabelSnapshot | None = None,
                          split: Split | None = None, base_url: str = "") -> Path:
    """Write an export under ARTIFACTS_ROOT/exports/ (temp file, then an atomic rename) and return its path.

    The name holds the campaign, snapshot and split ids, so a redelivered task rewrites the same file.
    """
    from labeling import exports
    from labeling.selectors.quality import export_frame

    if fmt not in exports.FORMATS:
        raise QualityError(f"unknown export format {fmt!r}; expected one of {', '.join(exports.FORMATS)}")
    try:
        frame = export_frame(campaign=campaign, snapshot=snapshot, split=split,
                             image_url=base_url.rstrip("/") + "/api/v1/images/{id}/file/")
        body = exports.write(frame, fmt)
    except ValueError as error:
        raise QualityError(str(error)) from error
    folder = Path(django_settings.ARTIFACTS_ROOT) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"campaign{campaign.id}" + (f"-snapshot{snapshot.id}" if snapshot else "") + (
        f"-split{split.id}" if split else "")
    target = folder / f"{stem}.{fmt}.{exports.EXTENSIONS[fmt]}"
    temporary = target.with_suffix(target.suffix + ".tmp")
    temporary.write_bytes(body)
    os.replace(temporary, target)
    return target
