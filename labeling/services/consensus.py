"""Services (writes): pausing annotators whose estimated accuracy is under the floor, and relabel
campaigns of likely label errors for annotators who have not seen those items."""
from __future__ import annotations

from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction

from domainsieve.auth import ANNOTATOR
from labeling.agreement.consensus import ConsensusInputError
from labeling.agreement.metrics import rater_vs_gold
from labeling.models import Annotation, AnnotatorPause, Campaign, CampaignItem, RelabelRequest
from labeling.selectors.consensus import campaign_label_issues
from labeling.selectors.quality import campaign_label_table, campaign_quality
from labeling.services.campaigns import BULK_BATCH, AnnotatorPausedError, annotator_pause_check
from labeling.services.quality import QualityError

MAX_RELABEL = 5000
__all__ = ["AnnotatorPausedError", "annotator_estimated_accuracy", "annotator_pause", "annotator_pause_check",
           "annotator_unpause", "relabel_campaign_create"]


def annotator_estimated_accuracy(*, campaign: Campaign, annotator_id: int) -> tuple[float, str]:
    """(estimated accuracy, how): Dawid-Skene's where annotators overlap, else accuracy on gold items.
    QualityError when neither exists for this annotator."""
    table = campaign_label_table(campaign=campaign)
    if annotator_id not in table.annotator_ids:
        raise QualityError("this annotator has no labels in the campaign")
    r = table.annotator_ids.index(annotator_id)
    try:
        return float(table.consensus("dawid-skene").accuracy[r]), "Dawid-Skene estimate"
    except ConsensusInputError:
        gold = rater_vs_gold(table.ratings, table.gold)
        if gold.n[r]:
            return float(gold.accuracy[r]), f"accuracy on {int(gold.n[r])} gold items"
    raise QualityError("no estimate of this annotator's accuracy: no overlapping labels and no gold answers")


@transaction.atomic
def annotator_pause(*, campaign: Campaign, annotator_id: int, paused_by: Any, reason: str = "") -> AnnotatorPause:
    """Pause an annotator whose estimated accuracy is below the campaign's ``accuracy_floor``.

    Paused annotators get no new leases (their live leases run out; labels stay). Refused for
    an annotator at or above the floor, so a pause always rests on a figure."""
    accuracy, how = annotator_estimated_accuracy(campaign=campaign, annotator_id=annotator_id)
    floor = campaign_quality(campaign=campaign).accuracy_floor
    if accuracy >= floor:
        raise QualityError(f"estimated accuracy {accuracy:.3f} ({how}) is not below the floor {floor:.2f}; "
                           "only annotators below it can be paused")
    text = f"estimated accuracy {accuracy:.2f} ({how}) is below the campaign's floor {floor:.2f}."
    if reason.strip():
        text += f" {reason.strip()}"
    pause, _ = AnnotatorPause.objects.update_or_create(
        campaign=campaign, annotator_id=annotator_id,
        defaults={"kind": AnnotatorPause.Kind.PAUSED, "reason": text, "created_by": paused_by})
    return pause


@transaction.atomic
def annotator_unpause(*, campaign: Campaign, annotator_id: int) -> bool:
    """Lift an admin's pause (exclusions from relabel campaigns stay). True when one was lifted."""
    deleted, _ = AnnotatorPause.objects.filter(campaign=campaign, annotator_id=annotator_id,
                                               kind=AnnotatorPause.Kind.PAUSED).delete()
    return bool(deleted)


@transaction.atomic
def relabel_campaign_create(*, source: Campaign, n: int, k: int, created_by: Any, name: str = "") -> RelabelRequest:
    """A new campaign of the ``n`` likeliest label errors of ``source`` (cleanlab ranking), each
    wanting ``k`` labels from annotators who labelled none of those items in ``source``.

    Everybody who labelled any of the chosen items is excluded from the new campaign (an
    AnnotatorPause of kind "excluded"): leasing refuses them, whatever campaign membership says.
    Refused when fewer than ``k`` annotators remain. The request keeps each item's label at this
    moment, so ``relabel_history`` can show what the fresh labels change. Cost: the label-issue
    ranking (cached classifier probabilities) and bulk inserts.
    """
    if not 1 <= n <= MAX_RELABEL:
        raise QualityError(f"n must lie in 1..{MAX_RELABEL}")
    if not 1 <= k <= 50:
        raise QualityError("k must lie in 1..50")
    try:
        issues = campaign_label_issues(campaign=source, limit=n)["results"]
    except ConsensusInputError as error:
        raise QualityError(str(error)) from error
    if not issues:
        raise QualityError("no likely label errors to relabel")
    item_ids = [entry["item"] for entry in issues]
    previous = set(Annotation.objects.filter(item_id__in=item_ids).values_list("annotator_id", flat=True))
    fresh = (get_user_model().objects.filter(is_active=True, groups__name=ANNOTATOR).exclude(id__in=previous)
             .distinct().count())
    if fresh < k:
        raise QualityError(f"only {fresh} annotator(s) have not labelled these items; k={k} needs {k}")
    name = name.strip() or f"{source.name} · relabel {RelabelRequest.objects.filter(source=source).count() + 1}"
    if Campaign.objects.filter(name=name).exists():
        raise QualityError(f"a campaign named {name!r} already exists")
    target = Campaign.objects.create(
        name=name, description=f"Likely label errors of campaign {source.name!r}, for fresh annotators.",
        label_choices=source.label_choices, guidelines=source.guidelines, k=k, agreement_k=k,
        final_label_rule=Campaign.FinalLabelRule.ADJUDICATED_UNANIMOUS_MAJORITY, lease_minutes=source.lease_minutes,
        created_by=created_by)
    target.datasets.set(source.datasets.all())
    keys = np.random.default_rng().random(len(issues))
    CampaignItem.objects.bulk_create(
        (CampaignItem(campaign=target, image_id=entry["image"], target_k=k, sort_key=float(key))
         for entry, key in zip(issues, keys, strict=True)), batch_size=BULK_BATCH)
    reason = f"you labelled some of these images in {source.name!r}."
    AnnotatorPause.objects.bulk_create(
        AnnotatorPause(campaign=target, annotator_id=a, kind=AnnotatorPause.Kind.EXCLUDED, reason=reason,
                       created_by=created_by) for a in sorted(previous))
    return RelabelRequest.objects.create(
        source=source, target=target, k=k, created_by=created_by,
        items=[{"item": e["item"], "image": e["image"], "label": e["label"], "suggested": e["suggested"],
                "label_quality": e["label_quality"]} for e in issues])
