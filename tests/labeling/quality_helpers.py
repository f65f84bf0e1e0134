"""Helpers for the quality tests: a small campaign whose items already carry labels."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import F

from labeling.models import Annotation, Campaign, CampaignItem
from labeling.services.campaigns import campaign_create
from tests.conftest import ANNOTATOR, make_user
from tests.factories import make_dataset, make_images


def labelled_campaign(*, labels: list[list[str | None]], owner: User, name: str = "quality",
                      dataset_kind: str = "pool", **options: Any) -> tuple[Campaign, list[CampaignItem], list[User]]:
    """A campaign of len(labels) images; labels[i][r] is rater r's label for item i (None: none)."""
    dataset = make_dataset(kind=dataset_kind)
    make_images(dataset=dataset, n=len(labels))
    campaign = campaign_create(name=name, datasets=[dataset], user=owner, **options)
    items = list(CampaignItem.objects.filter(campaign=campaign).order_by("image_id"))
    n_raters = max(len(row) for row in labels)
    raters = [User.objects.filter(username=f"rater{r}").first() or make_user(f"rater{r}", ANNOTATOR)
              for r in range(n_raters)]
    for item, row in zip(items, labels, strict=True):
        for rater, label in zip(raters, row, strict=False):
            if label is not None:
                give_label(item=item, annotator=rater, label=label)
    return campaign, items, raters


def give_label(*, item: CampaignItem, annotator: User, label: str) -> None:
    Annotation.objects.create(item=item, annotator=annotator, label=label)
    CampaignItem.objects.filter(pk=item.pk).update(labels_count=F("labels_count") + 1)
