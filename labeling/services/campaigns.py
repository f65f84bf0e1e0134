"""Services (writes): campaigns, leases and annotations.

The rules of leasing are stated in ``labeling.leasing`` (cited here by number); this module drives
either statement set (``leasing_statements``) by them.

Concurrency model. Every write that changes how many labels an item has or may get (a new lease,
a new annotation) holds the item's row lock (SELECT ... FOR UPDATE). Leasing picks candidates with
SKIP LOCKED, so concurrent annotators never wait on each other, and then recounts labels and live
leases of the locked rows in a fresh statement: under READ COMMITTED that statement sees every
commit made before the lock was granted, so ``labels + live leases <= target_k`` holds even when
the candidate query itself read a stale snapshot.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling import leasing
from labeling.domains import domain_from_any
from labeling.models import (
    AnnotatorPause,
    Campaign,
    CampaignItem,
    Dataset,
    Image,
    Lease,
)
from labeling.services import campaigns_orm, campaigns_pg

BULK_BATCH = 2000


class CampaignError(ValueError):
    """Bad input to a campaign service; the message is meant for the caller."""


class CampaignClosedError(CampaignError):
    """The campaign takes no labels in its current status (finished or archived); the API answers 409."""


@dataclass
class AnnotationBatchError(Exception):
    """A batch of annotations was refused as a whole; ``errors`` says which entry failed and why."""

    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"item {e.get('item')}: {e['error']}" for e in self.errors)


def _validate_label_choices(choices: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    cleaned: list[dict[str, str]] = []
    names: set[str] = set()
    keys: set[str] = set()
    for choice in choices:
        name = str(choice.get("name", "")).strip()
        key = str(choice.get("key", "")).strip()
        colour = str(choice.get("colour", "")).strip() or "#868e96"
        if not name:
            raise CampaignError("every label choice needs a name")
        if name in names:
            raise CampaignError(f"label {name!r} appears twice")
        if key and (len(key) != 1 or key in keys):
            raise CampaignError(f"hotkey {key!r} of label {name!r} must be one character, used once")
        names.add(name)
        keys.add(key)
        cleaned.append({"name": name, "key": key, "colour": colour})
    if len(cleaned) < 2:
        raise CampaignError("a campaign needs at least two label choices")
    return cleaned


@transaction.atomic
def campaign_create(
    *,
    name: str,
    datasets: Iterable[Dataset],
    user: Any,
    sample: int | None = None,
    seed: int = 0,
    k: int = 1,
    agreement_fraction: float = 0.0,
    agreement_k: int = 3,
    description: str = "",
    label_choices: Sequence[dict[str, Any]] | None = None,
    guidelines: str | None = None,
    ordering: str = Campaign.Ordering.RANDOM,
    show_suggestions: bool = False,
    uncertainty_measure: str = Campaign.UncertaintyMeasure.MARGIN,
    prediction_source: str = Campaign.PredictionSource.NONE,
    gold_rate: float = 0.0,
    lease_minutes: int = 10,
    final_label_rule: str = Campaign.FinalLabelRule.ADJUDICATED_UNANIMOUS_MAJORITY,
    members: Iterable[Any] = (),
    member_groups: Iterable[Group] = (),
    image_ids: Iterable[int] | None = None,
) -> Campaign:
    """Create a campaign and one CampaignItem per covered image (a seeded sample when ``sample``).

    ``image_ids``, when given, restricts the covered images to those ids (e.g. the neighbours of
    seed images, ``classifier.services.neighbours``); they must belong to ``datasets``.

    The same bytes imported into two covered datasets are one item (deduplicated by sha256).
    ``round(agreement_fraction * items)`` items, chosen at random, want ``agreement_k`` labels;
    the others want ``k``. ``members`` and ``member_groups`` say who may label it; with neither
    it is open to every annotator. Cost: one id query and bulk inserts; 31,000 items take about a
    second.
    """
    datasets = list(datasets)
    _check_options(name=name, datasets=datasets, k=k, agreement_k=agreement_k, agreement_fraction=agreement_fraction,
                   gold_rate=gold_rate, lease_minutes=lease_minutes, ordering=ordering,
                   final_label_rule=final_label_rule, uncertainty_measure=uncertainty_measure,
                   prediction_source=prediction_source)
    choices = _validate_label_choices(label_choices) if label_choices is not None else None

    campaign = Campaign(
        name=name.strip(), description=description, k=k, agreement_fraction=agreement_fraction,
        agreement_k=agreement_k, ordering=ordering, show_suggestions=show_suggestions, gold_rate=gold_rate,
        uncertainty_measure=uncertainty_measure, prediction_source=prediction_source,
        lease_minutes=lease_minutes, final_label_rule=final_label_rule, created_by=user,
    )
    if choices is not None:
        campaign.label_choices = choices
    if guidelines is not None and guidelines.strip():
        campaign.guidelines = guidelines
    campaign.save()
    campaign.datasets.set(datasets)
    campaign_set_members(campaign=campaign, members=members, member_groups=member_groups)

    image_ids = _create_items(campaign=campaign, datasets=datasets, image_ids=image_ids, sample=sample, seed=seed,
                              k=k, agreement_fraction=agreement_fraction, agreement_k=agreement_k)
    _mark_gold_from_import(campaign=campaign, image_ids=image_ids)
    transaction.on_commit(_analyze_items)
    return campaign


def _check_options(*, name: str, datasets: list[Dataset], k: int, agreement_k: int, agreement_fraction: float,
                   gold_rate: float, lease_minutes: int, ordering: str, final_label_rule: str,
                   uncertainty_measure: str, prediction_source: str) -> None:
    """CampaignError for the first option ``campaign_create`` cannot take."""
    if not name.strip():
        raise CampaignError("a campaign needs a name")
    if Campaign.objects.filter(name=name).exists():
        raise CampaignError(f"a campaign named {name!r} already exists")
    if not datasets:
        raise CampaignError("choose at least one dataset")
    if k < 1 or agreement_k < 1:
        raise CampaignError("k and agreement_k must be at least 1")
    if not 0.0 <= agreement_fraction <= 1.0 or not 0.0 <= gold_rate < 1.0:
        raise CampaignError("agreement_fraction must lie in [0, 1] and gold_rate in [0, 1)")
    if lease_minutes < 1:
        raise CampaignError("lease_minutes must be at least 1")
    if ordering not in Campaign.Ordering.values:
        raise CampaignError(f"unknown ordering {ordering!r}; expected one of {', '.join(Campaign.Ordering.values)}")
    if final_label_rule not in Campaign.FinalLabelRule.values:
        raise CampaignError(f"unknown final_label_rule {final_label_rule!r}")
    if uncertainty_measure not in Campaign.UncertaintyMeasure.values:
        raise CampaignError(f"unknown uncertainty_measure {uncertainty_measure!r}")
    if prediction_source not in Campaign.PredictionSource.values:
        raise CampaignError(f"unknown prediction_source {prediction_source!r}")


def _create_items(*, campaign: Campaign, datasets: list[Dataset], image_ids: Iterable[int] | None,
                  sample: int | None, seed: int, k: int, agreement_fraction: float, agreement_k: int) -> np.ndarray:
    """One CampaignItem per distinct covered image (a seeded sample when ``sample``), each with its
    target_k and random sort key; returns the image ids."""
    # One image per distinct content; the lowest id wins so the choice is stable.
    seen: dict[str, int] = {}
    covered = Image.objects.filter(dataset__in=datasets)
    if image_ids is not None:
        covered = covered.filter(id__in=list(image_ids))
    for image_id, sha in covered.order_by("id").values_list("id", "sha256"):
        seen.setdefault(sha, image_id)
    image_ids = np.array(sorted(seen.values()), dtype=np.int64)
    if image_ids.size == 0:
        raise CampaignError("the chosen datasets hold no images")
    rng = np.random.default_rng(seed)
    if sample is not None:
        if sample < 1:
            raise CampaignError("sample must be at least 1")
        if sample < image_ids.size:
            image_ids = np.sort(rng.choice(image_ids, size=sample, replace=False))
    n = int(image_ids.size)
    target = np.full(n, k, dtype=np.int64)
    n_agree = int(round(agreement_fraction * n))
    if n_agree:
        target[rng.choice(n, size=n_agree, replace=False)] = agreement_k
    sort_keys = rng.random(n)
    items = (CampaignItem(campaign=campaign, image_id=int(i), target_k=int(t), sort_key=float(s))
             for i, t, s in zip(image_ids, target, sort_keys, strict=True))
    while batch := [item for _, item in zip(range(BULK_BATCH), items, strict=False)]:
        CampaignItem.objects.bulk_create(batch, batch_size=BULK_BATCH)
    return image_ids


def _mark_gold_from_import(*, campaign: Campaign, image_ids: np.ndarray) -> int:
    """Gold on import: images whose source gave a ``gold_label`` (a manifest column or a shard
    json field, kept in ``Image.meta``) become gold items of every campaign that covers them."""
    gold: dict[int, str] = {}
    rows = (Image.objects.filter(id__in=image_ids.tolist(), meta__has_key="gold_label")
            .values_list("id", "meta__gold_label"))
    for image_id, raw in rows:
        if raw in (None, ""):
            continue
        try:
            gold[image_id] = domain_from_any(raw) if raw not in campaign.label_names else raw
        except ValueError as exc:
            raise CampaignError(f"image {image_id} has gold_label {raw!r} from its import: {exc}") from exc
    return campaign_mark_gold(campaign=campaign, gold=gold) if gold else 0


def _analyze_items() -> None:
    """Fresh planner statistics after a bulk insert: with stale ones PostgreSQL sorts every open
    item of a campaign for each lease instead of walking the index for one page."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {CampaignItem._meta.db_table}")


@transaction.atomic
def campaign_mark_gold(*, campaign: Campaign, gold: dict[int, str]) -> int:
    """Make the items of these images gold items with a known label ({image_id: label}); returns
    how many items changed. Gold items are served to every annotator, whatever target_k says."""
    unknown = {label for label in gold.values() if label not in campaign.label_names}
    if unknown:
        raise CampaignError(f"unknown gold label(s) {sorted(unknown)}; expected {campaign.label_names}")
    items = list(CampaignItem.objects.filter(campaign=campaign, image_id__in=gold.keys()))
    for item in items:
        item.is_gold = True
        item.gold_label = gold[item.image_id]
    CampaignItem.objects.bulk_update(items, ["is_gold", "gold_label"], batch_size=BULK_BATCH)
    return len(items)


@transaction.atomic
def campaign_set_predictions(*, campaign: Campaign,
                             predictions: dict[int, tuple[str | None, float, float | None]]) -> int:
    """Store classifier predictions ({image_id: (label, score, uncertainty)}) on the campaign's items;
    grouped and uncertainty orderings read them. Uncertainty: higher = more uncertain (None: unknown,
    served after every item that has one)."""
    items = list(CampaignItem.objects.filter(campaign=campaign, image_id__in=predictions.keys()))
    for item in items:
        item.predicted_label, item.predicted_score, item.uncertainty = predictions[item.image_id]
    CampaignItem.objects.bulk_update(items, ["predicted_label", "predicted_score", "uncertainty"],
                                     batch_size=BULK_BATCH)
    return len(items)


def campaign_set_ordering(*, campaign: Campaign, ordering: str, uncertainty_measure: str, show_suggestions: bool,
                          prediction_source: str) -> Campaign:
    """Change how the queue is ordered, how uncertainty is measured, whether annotators see the
    model's suggestion, and whether predictions follow the latest classifier run. Takes effect on
    the next page leased (pages already leased keep their items)."""
    if ordering not in Campaign.Ordering.values:
        raise CampaignError(f"unknown ordering {ordering!r}; expected one of {', '.join(Campaign.Ordering.values)}")
    if uncertainty_measure not in Campaign.UncertaintyMeasure.values:
        raise CampaignError(f"unknown uncertainty measure {uncertainty_measure!r}; expected one of "
                            f"{', '.join(Campaign.UncertaintyMeasure.values)}")
    if prediction_source not in Campaign.PredictionSource.values:
        raise CampaignError(f"unknown prediction source {prediction_source!r}; expected one of "
                            f"{', '.join(Campaign.PredictionSource.values)}")
    campaign.ordering, campaign.uncertainty_measure = ordering, uncertainty_measure
    campaign.show_suggestions, campaign.prediction_source = bool(show_suggestions), prediction_source
    campaign.save(update_fields=["ordering", "uncertainty_measure", "show_suggestions", "prediction_source"])
    return campaign


EDITABLE_SETTINGS = ("description", "guidelines", "gold_rate", "lease_minutes", "final_label_rule")


@transaction.atomic
def campaign_update_settings(*, campaign: Campaign, changes: dict[str, Any]) -> Campaign:
    """Change settings that do not reshape the item set (``EDITABLE_SETTINGS``). Labels, items, k
    and datasets stay as created: changing them would invalidate labels already given."""
    unknown = set(changes) - set(EDITABLE_SETTINGS)
    if unknown:
        raise CampaignError(f"cannot change {', '.join(sorted(unknown))} after creation")
    if "gold_rate" in changes and not 0.0 <= float(changes["gold_rate"]) < 1.0:
        raise CampaignError("gold_rate must lie in [0, 1)")
    if "lease_minutes" in changes and int(changes["lease_minutes"]) < 1:
        raise CampaignError("lease_minutes must be at least 1")
    if "final_label_rule" in changes and changes["final_label_rule"] not in Campaign.FinalLabelRule.values:
        raise CampaignError(f"unknown final_label_rule {changes['final_label_rule']!r}")
    if "guidelines" in changes and not str(changes["guidelines"]).strip():
        raise CampaignError("guidelines cannot be empty")
    for name, value in changes.items():
        setattr(campaign, name, value)
    if changes:
        campaign.save(update_fields=list(changes))
    return campaign


@transaction.atomic
def campaign_set_members(*, campaign: Campaign, members: Iterable[Any] | None = None,
                         member_groups: Iterable[Group] | None = None) -> Campaign:
    """Replace who may label the campaign (``None`` leaves that set as it is). Emptying both opens
    it to every annotator. Takes effect on the next request: leases a former member holds expire
    unused, and labels they gave stay."""
    if members is not None:
        users = list(members)
        inactive = sorted(u.username for u in users if not u.is_active)
        if inactive:
            raise CampaignError(f"inactive users cannot be members: {', '.join(inactive)}")
        campaign.members.set(users)
    if member_groups is not None:
        campaign.member_groups.set(list(member_groups))
    return campaign


def campaign_set_status(*, campaign: Campaign, status: str) -> Campaign:
    if status not in Campaign.Status.values:
        raise CampaignError(f"unknown status {status!r}")
    campaign.status = status
    campaign.save(update_fields=["status"])
    return campaign


def leasing_statements() -> leasing.Statements:
    """The statements leasing and submitting run: PostgreSQL's where they can run (unless the
    setting ``LABELING_PG_STATEMENTS`` is off), else the portable ORM's. Both obey
    ``labeling.leasing``; the setting is how tests run the rules against each."""
    if connection.vendor == "postgresql" and settings.LABELING_PG_STATEMENTS:
        return campaigns_pg
    return campaigns_orm


class AnnotatorPausedError(PermissionError):
    """The annotator may take no new items of this campaign; the message says why, for them."""


def annotator_pause_check(*, campaign: Campaign, annotator: Any) -> None:
    """Raise AnnotatorPausedError when ``annotator`` is paused on or excluded from ``campaign``
    (labeling/services/consensus.py writes those rows)."""
    pause = AnnotatorPause.objects.filter(campaign=campaign, annotator_id=annotator.pk).only("kind", "reason").first()
    if pause is None:
        return
    if pause.kind == AnnotatorPause.Kind.EXCLUDED:
        raise AnnotatorPausedError(f"This campaign is for annotators who have not seen its images: {pause.reason}")
    raise AnnotatorPausedError(f"An admin paused your labeling in this campaign: {pause.reason} "
                               "Ask an admin to review it with you; your earlier labels are kept.")


def campaign_next_items(*, campaign: Campaign, annotator: Any, n: int = 25,
                        rng: random.Random | None = None) -> list[CampaignItem]:
    """Lease up to ``n`` items to ``annotator`` and return them, the caller's own live leases first.

    Precondition: ``campaign`` came from ``get_campaign_for_user`` for ``annotator`` (it checks
    membership; the statements below trust it).

    The rules are ``labeling.leasing``'s: never an item the caller labeled, never one whose labels
    plus live leases of others reach its target_k; gold items (if any) fill about ``gold_rate`` of
    the page and look like any other. A campaign that is not active, or has nothing left for the
    caller, gives an empty list. The items carry ``width`` and ``height`` of their image; fields a
    page does not need are deferred. AnnotatorPausedError when the annotator is paused on, or
    excluded from, the campaign. Cost on PostgreSQL: the pause check, then 4 statements for a page
    (6 when it has gold), 2 when the caller's own leases fill it; more only when other callers
    hold the candidates (rule 9).
    """
    if campaign.status != Campaign.Status.ACTIVE or n <= 0:  # rule 1
        return []
    annotator_pause_check(campaign=campaign, annotator=annotator)
    sql = leasing_statements()
    rng = rng or random.Random()
    me = annotator.pk
    now = timezone.now()
    expires = leasing.lease_expiry(now=now, lease_minutes=campaign.lease_minutes)
    with transaction.atomic():
        own = sql.refresh_own_leases(campaign_id=campaign.id, me=me, now=now, expires=expires, n=n)  # rule 3
        need = n - len(own)
        chosen: list[int] = []
        gold_ids: list[int] = []
        # Own leases are read with the first candidates, so a full page costs one read.
        pages = sql.page_items(item_ids=own, me=me, now=now) if need <= 0 else {}
        if need > 0:
            n_gold = leasing.gold_count(slots=need, gold_rate=campaign.gold_rate, rng=rng)
            to_read = list(own)
            open_seen = False  # a regular item with room came up, leased on this page or not
            for attempt in range(leasing.ATTEMPTS):  # rule 9
                # Rows other callers hold are skipped, not waited for; a short page may only mean
                # they are busy, so look again briefly before calling the pool dry.
                want = need - n_gold - len(chosen)
                locked = sql.lock_candidates(campaign_id=campaign.id, ordering=campaign.ordering, me=me, now=now,
                                             gold=False, limit=want + leasing.OVERFETCH, exclude=chosen)
                pages |= sql.page_items(item_ids=to_read + locked, me=me, now=now)
                to_read = []
                with_room = [item_id for item_id in locked if pages[item_id].room > 0]  # rule 4
                open_seen = open_seen or bool(with_room)
                chosen += with_room[:want]
                if len(chosen) >= need - n_gold or len(locked) >= want + leasing.OVERFETCH:
                    break
                # Short: either the pool is dry for this caller (answer now) or other callers'
                # transactions hold candidates (they last milliseconds: look again shortly).
                if not sql.lock_candidates(campaign_id=campaign.id, ordering=campaign.ordering, me=me, now=now,
                                           gold=False, limit=1, exclude=chosen + locked, lock=False):
                    break
                time.sleep(leasing.RETRY_PAUSE_SECONDS * (attempt + 1))
            if open_seen and n_gold:  # rule 7
                gold_ids = sql.lock_candidates(campaign_id=campaign.id, ordering=campaign.ordering, me=me, now=now,
                                               gold=True, limit=n_gold)
                pages |= sql.page_items(item_ids=gold_ids, me=me, now=now)
            new = chosen + gold_ids
            if new:
                sql.write_leases(item_ids=new, me=me, now=now, expires=expires)
            elif not own:  # rule 13
                _finish_if_complete(campaign=campaign, now=now)
        ids = own + chosen
        # Gold items land at random places in the page so nothing marks them out.
        for gold_id in gold_ids:
            ids.insert(rng.randint(len(own), len(ids)), gold_id)
    page = [pages[i] for i in ids]
    if campaign.ordering in leasing.GROUPED_PAGES:
        page.sort(key=leasing.group_key)
    return page


def _finish_if_complete(*, campaign: Campaign, now: Any) -> None:
    """Rule 13: mark the campaign finished once every regular item has its labels and no lease is live."""
    open_items = CampaignItem.objects.filter(campaign=campaign, is_gold=False, labels_count__lt=F("target_k"))
    if not open_items.exists() and not Lease.objects.filter(item__campaign=campaign, expires_at__gt=now).exists():
        Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.ACTIVE).update(status=Campaign.Status.FINISHED)
        campaign.status = Campaign.Status.FINISHED


def _clean_entries(*, campaign: Campaign, entries: Sequence[Any]) -> list[tuple[int, str, float]]:
    errors: list[dict[str, Any]] = []
    cleaned: list[tuple[int, str, float]] = []
    seen: set[int] = set()
    names = campaign.label_names
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            errors.append({"index": index, "item": None, "error": "each annotation must be an object"})
            continue
        item, label, seconds = entry.get("item"), entry.get("label"), entry.get("seconds", 0)
        if isinstance(item, bool) or not isinstance(item, int):
            errors.append({"index": index, "item": item, "error": "item must be an integer item id"})
            continue
        if label not in names:
            errors.append({"index": index, "item": item,
                           "error": f"unknown label {label!r}; expected one of {', '.join(names)}"})
            continue
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds < 86400:
            errors.append({"index": index, "item": item, "error": "seconds must be a number in [0, 86400)"})
            continue
        if item in seen:
            errors.append({"index": index, "item": item, "error": "the same item appears twice in the batch"})
            continue
        seen.add(item)
        cleaned.append((item, label, float(seconds)))
    if errors:
        raise AnnotationBatchError(errors)
    return cleaned


@transaction.atomic
def annotations_submit(*, campaign: Campaign, annotator: Any, entries: Sequence[Any]) -> dict[str, int]:
    """Store a batch of ``{item, label, seconds}``; all of it or, on any bad entry, none of it.

    Precondition: ``campaign`` came from ``get_campaign_for_user`` for ``annotator`` (it checks
    membership; the statements below trust it). A finished or archived campaign refuses the batch
    (CampaignClosedError) until a researcher sets it active again. A new label needs the caller's
    lease on the item (an expired one still counts while the item has room); a changed label
    updates the caller's annotation and adds seconds. Resubmitting the same label changes nothing,
    so retries are safe. Every change writes an AnnotationHistory row.
    Returns counts: created, updated, unchanged.
    """
    if campaign.status == Campaign.Status.ARCHIVED:
        raise CampaignClosedError("this campaign is archived and takes no labels")
    if campaign.status == Campaign.Status.FINISHED:
        raise CampaignClosedError("this campaign is finished and takes no more labels; a researcher can reopen "
                                  "it (status active)")
    cleaned = _clean_entries(campaign=campaign, entries=entries)
    if not cleaned:
        return {"created": 0, "updated": 0, "unchanged": 0}
    sql = leasing_statements()
    me = annotator.pk
    ids = sorted(item for item, _, _ in cleaned)
    now = timezone.now()
    # Items are locked in id order (concurrent batches never deadlock); what the caller holds on
    # them is read after the locks, by a fresh statement.
    state = sql.lock_submit_state(campaign_id=campaign.id, me=me, item_ids=ids)
    # Rule 11: a new label on an expired lease of a regular item needs room.
    late = [i for i in ids if i in state.items and i not in state.annotations and i in state.leases
            and not leasing.is_live(expires_at=state.leases[i], now=now) and not state.items[i]]
    room = {i: item.room for i, item in sql.page_items(item_ids=late, me=me, now=now).items()}
    errors: list[dict[str, Any]] = []
    for item_id, _, _ in cleaned:
        if item_id not in state.items:
            errors.append({"item": item_id, "error": "this item is not part of the campaign"})
        elif item_id not in state.annotations and item_id not in state.leases:
            errors.append({"item": item_id, "error": "this item is neither leased to you nor labeled by you"})
        elif item_id in room and room[item_id] <= 0:
            errors.append({"item": item_id, "error": "your lease expired and the item went to someone else"})
    if errors:
        raise AnnotationBatchError(errors)

    created: list[tuple[int, str, float]] = []
    updated: list[tuple[int, str, str, float]] = []
    for item_id, label, seconds in cleaned:
        if item_id not in state.annotations:
            created.append((item_id, label, seconds))
        elif (old := state.annotations[item_id][1]) != label:
            updated.append((state.annotations[item_id][0], old, label, seconds))
    sql.write_annotations(me=me, now=now, created=created, updated=updated, item_ids=ids)
    return {"created": len(created), "updated": len(updated), "unchanged": len(cleaned) - len(created) - len(updated)}


def leases_purge_expired(*, grace_minutes: int = 60) -> int:
    """Delete leases that expired more than ``grace_minutes`` ago; returns how many.

    Expired leases already count for nothing, and leasing reclaims them item by item; this only
    keeps the table small. The grace period leaves late submissions of a just-expired page room
    to land while nobody else has taken the item."""
    cutoff = timezone.now() - timedelta(minutes=grace_minutes)
    deleted, _ = Lease.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
