"""Services (writes): labels imported from a Label Studio JSON export.

A foreign file names its own annotators, and anyone can write any name into it, so an import
never decides on its own whose labels they are. Each annotation goes to:

- the user the researcher mapped its annotator to (``annotator_map``: the file's ``completed_by``
  -> an existing active user, given explicitly), else
- an ImportedAnnotator of the named ``source`` (a non-login user per source and foreign annotator,
  see ``labeling.models.imported``), else
- nowhere: it is skipped as "unmapped annotator".

Imports obey the campaign's k like labels given in the app: a new label needs room on its item
(``labeling.leasing`` rule 14, counted under the items' row locks). A mapped
user's own label is never overwritten. Everything skipped is reported with its reason.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from domainsieve.ids import parse_id
from labeling import leasing
from labeling.exports import parse_labelstudio
from labeling.models import Annotation, AnnotationHistory, Campaign, CampaignItem, ImportedAnnotator, Lease
from labeling.services.quality import QualityError

BULK_BATCH = 5000
DEFAULT_SOURCE = "labelstudio"
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

UNKNOWN_ITEM = "unknown item: no item of this campaign has this uid, image URL or source"
UNKNOWN_LABEL = "unknown label"
OVER_K = "over k: the item already has its k labels (counting live leases)"
UNMAPPED = "unmapped annotator: not in the annotator map and no source named"
KEEPS_OWN = "the mapped user already gave this item another label; theirs is kept"


@dataclass(frozen=True)
class Skipped:
    task: Any
    uid: str
    annotator: str
    label: str
    reason: str

    def line(self) -> str:
        return f"task {self.task} (uid {self.uid or '-'}, by {self.annotator or '-'}, {self.label!r}): {self.reason}"


@dataclass
class LabelImportReport:
    source: str | None
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(s.reason.split(":")[0] for s in self.skipped))

    def line(self) -> str:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.skipped_by_reason().items())) or "none"
        prefix = "dry run, nothing written: " if self.dry_run else ""
        return (f"{prefix}labels created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
                f"skipped {len(self.skipped)} ({reasons})")

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "dry_run": self.dry_run, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "skipped_count": len(self.skipped),
                "skipped_by_reason": self.skipped_by_reason(),
                "skipped": [{"task": s.task, "uid": s.uid, "annotator": s.annotator, "label": s.label,
                             "reason": s.reason} for s in self.skipped]}


def check_source_name(source: str) -> str:
    source = source.strip()
    if not SOURCE_NAME.match(source):
        raise QualityError(f"source {source!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
                           "letter or digit")
    return source


def imported_annotator_user(*, source: str, external_id: str, created_by: Any) -> Any:
    """The non-login user standing for ``external_id`` of ``source``, created on first use."""
    external_id = "".join(ch for ch in external_id if ch.isprintable())[:200]
    found = ImportedAnnotator.objects.select_related("user").filter(source=source, external_id=external_id).first()
    if found is not None:
        return found.user
    users = get_user_model()
    base = f"import:{source}:{external_id or 'anonymous'}"[:140]
    username, n = base, 1
    while users.objects.filter(username=username).exists():
        n += 1
        username = f"{base}~{n}"
    user = users(username=username, is_active=False)
    user.set_unusable_password()
    user.save()
    ImportedAnnotator.objects.create(source=source, external_id=external_id, user=user, created_by=created_by)
    return user


def _match_items(campaign: Campaign) -> tuple[dict[str, int], dict[str, int], dict[int, int]]:
    items = list(CampaignItem.objects.filter(campaign=campaign).values_list("id", "image_id", "image__uid",
                                                                            "image__source"))
    by_uid = {uid: item for item, _, uid, _ in items if uid}
    by_source = {source: item for item, _, _, source in items if source}
    by_image = {image: item for item, image, _, _ in items}
    return by_uid, by_source, by_image


def _item_from_url(url: str, by_image: dict[int, int]) -> int | None:
    """The item whose image URL (``.../images/{id}/file/``) this is."""
    parts = [p for p in url.split("?")[0].split("/") if p]
    if len(parts) >= 3 and parts[-1] == "file" and parts[-3] == "images" and parse_id(parts[-2]) is not None:
        return by_image.get(parse_id(parts[-2]))
    return None


@transaction.atomic
def labels_import_labelstudio(*, campaign: Campaign, data: Any, imported_by: Any, source: str | None = None,
                              annotator_map: dict[str, Any] | None = None,
                              dry_run: bool = False) -> LabelImportReport:
    """Import the choice annotations of a Label Studio export into ``campaign``; returns the report.

    Tasks are matched to items by uid (``data.uid`` / ``meta.uid``), else by the image URL
    (``/images/{id}/file/``) or the image's source. ``annotator_map`` maps the file's annotators
    (``completed_by``: a username, email or id as the file gives it; "" for none) to existing
    active users; annotators not in it go to ImportedAnnotators of ``source``. With neither a map
    nor a source, ``source`` is "labelstudio". One annotator's later annotation of a task replaces
    their earlier one. ``dry_run`` computes the same report and writes nothing (the transaction is
    rolled back), so a researcher can read it before confirming. Cost: one locking read of the
    matched items, one of their annotations, and bulk writes.
    """
    try:
        entries = parse_labelstudio(data)
    except ValueError as error:
        raise QualityError(str(error)) from error
    annotator_map = dict(annotator_map or {})
    inactive = sorted(str(key) for key, user in annotator_map.items() if not user.is_active)
    if inactive:
        raise QualityError(f"annotator map: the users for {', '.join(inactive)} are inactive")
    if source is None and not annotator_map:
        source = DEFAULT_SOURCE
    if source is not None:
        source = check_source_name(source)
    report = LabelImportReport(source=source, dry_run=dry_run)
    wanted = _wanted_labels(entries, campaign=campaign, annotator_map=annotator_map, source=source,
                            imported_by=imported_by, report=report)
    item_ids = sorted({item for item, _ in wanted})
    room = _room_under_locks(item_ids)
    existing = {(a.item_id, a.annotator_id): a for a in Annotation.objects.filter(item_id__in=item_ids)}
    imported_users = set(ImportedAnnotator.objects.filter(user_id__in={u for _, u in wanted})
                         .values_list("user_id", flat=True))
    created: list[Annotation] = []
    history: list[AnnotationHistory] = []
    for (item_id, user_id), (label, entry) in wanted.items():
        skip = {"task": entry.task_id, "uid": entry.uid, "annotator": entry.completed_by, "label": label}
        annotation = existing.get((item_id, user_id))
        if annotation is None:
            if room[item_id] <= 0:
                report.skipped.append(Skipped(**skip, reason=OVER_K))
                continue
            room[item_id] -= 1
            created.append(Annotation(item_id=item_id, annotator_id=user_id, label=label))
        elif annotation.label == label:
            report.unchanged += 1
        elif user_id not in imported_users:
            report.skipped.append(Skipped(**skip, reason=KEEPS_OWN))
        else:
            history.append(AnnotationHistory(annotation=annotation, old_label=annotation.label, new_label=label,
                                             changed_by=imported_by))
            annotation.label = label
            annotation.save(update_fields=["label", "updated_at"])
            report.updated += 1
    Annotation.objects.bulk_create(created, batch_size=BULK_BATCH)
    history.extend(AnnotationHistory(annotation=a, new_label=a.label, changed_by=imported_by) for a in created)
    AnnotationHistory.objects.bulk_create(history, batch_size=BULK_BATCH)
    added = Counter(a.item_id for a in created)
    for count in set(added.values()):
        CampaignItem.objects.filter(id__in=[i for i, c in added.items() if c == count]).update(
            labels_count=F("labels_count") + count)
    report.created = len(created)
    if dry_run:
        transaction.set_rollback(True)
    return report


def _wanted_labels(entries: Any, *, campaign: Campaign, annotator_map: dict[str, Any], source: str | None,
                   imported_by: Any, report: LabelImportReport) -> dict[tuple[int, int], tuple[str, Any]]:
    """The file's labels matched to items and users: (item, user) -> (label, entry), a later entry
    replacing an earlier one; what cannot be matched goes to ``report.skipped`` with its reason."""
    by_uid, by_source, by_image = _match_items(campaign)
    names = campaign.label_names
    raters: dict[str, Any] = {}
    wanted: dict[tuple[int, int], tuple[str, Any]] = {}
    for entry in entries:
        skip = {"task": entry.task_id, "uid": entry.uid, "annotator": entry.completed_by, "label": entry.label}
        item_id = by_uid.get(entry.uid) or by_source.get(entry.image) or _item_from_url(entry.image, by_image)
        if item_id is None:
            report.skipped.append(Skipped(**skip, reason=UNKNOWN_ITEM))
            continue
        if entry.label not in names:
            report.skipped.append(Skipped(**skip, reason=f"{UNKNOWN_LABEL}: expected one of {', '.join(names)}"))
            continue
        user = annotator_map.get(entry.completed_by)
        if user is None and source is not None:
            if entry.completed_by not in raters:
                raters[entry.completed_by] = imported_annotator_user(
                    source=source, external_id=entry.completed_by, created_by=imported_by)
            user = raters[entry.completed_by]
        if user is None:
            report.skipped.append(Skipped(**skip, reason=UNMAPPED))
            continue
        wanted[(item_id, user.pk)] = (entry.label, entry)
    return wanted


def _room_under_locks(item_ids: list[int]) -> dict[int, int]:
    """Each item's room for imported labels (``labeling.leasing`` rule 14), its row locked."""
    now = timezone.now()
    # Row locks in id order, like labels given in the app: room is counted against concurrent
    # leases and submits, and two imports never deadlock.
    locked = list(CampaignItem.objects.select_for_update().filter(id__in=item_ids).order_by("id")
                  .values_list("id", "target_k", "labels_count"))
    # A fresh statement after the locks: it sees every label and lease committed before them.
    live = dict(Lease.objects.filter(item_id__in=item_ids, expires_at__gt=now).order_by().values("item_id")
                .annotate(n=Count("id")).values_list("item_id", "n"))
    return {item: leasing.import_room(target_k=target, labels=labels, live_leases=live.get(item, 0))
            for item, target, labels in locked}


__all__ = ["DEFAULT_SOURCE", "LabelImportReport", "Skipped", "check_source_name", "imported_annotator_user",
           "labels_import_labelstudio"]
