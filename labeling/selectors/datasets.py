"""Selectors (reads): datasets, images and import jobs.

Researchers and admins read every dataset and image. Annotators read only what they label: the
images of campaigns they may see (``labeling.selectors.campaigns.annotator_campaign_sql``) and the
datasets those campaigns cover. Import jobs are researcher business: the API and pages check the
role first, and the import selectors return nothing to anyone else as well.
"""
from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, Count, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404

from domainsieve.auth import RESEARCHER, has_role
from labeling.models import Campaign, CampaignItem, Dataset, Image, ImportJob
from labeling.selectors.campaigns import annotator_campaign_sql


def sees_everything(user: Any) -> bool:
    """Researchers and admins read every dataset and every image field; annotators do not."""
    return has_role(user, RESEARCHER)


def _exists_visible_campaign(user: Any, link_table: str, link_column: str, outer: str) -> RawSQL:
    """EXISTS a campaign the annotator may see, linked to the outer row through ``link_table``.
    Raw SQL names the outer table, so the queryset it filters must be the top-level query (not
    nested as a subquery, where Django would rename the table)."""
    campaigns = Campaign._meta.db_table
    visible, params = annotator_campaign_sql(user=user, alias="c")
    return RawSQL(f"EXISTS (SELECT 1 FROM {link_table} x JOIN {campaigns} c ON c.id = x.campaign_id "
                  f"WHERE x.{link_column} = {outer}.id AND {visible})", params, output_field=BooleanField())


def images_for_user(*, user: Any) -> QuerySet[Image]:
    """Images the user may read: all of them for researchers; for annotators, those that are items
    of a campaign they may see (an EXISTS probe of campaign items by image, in the same query)."""
    if sees_everything(user):
        return Image.objects.all()
    return Image.objects.filter(_exists_visible_campaign(user, CampaignItem._meta.db_table, "image_id",
                                                         Image._meta.db_table))


def dataset_list(*, user: Any) -> QuerySet[Dataset]:
    datasets = Dataset.objects.all()
    if not sees_everything(user):
        datasets = datasets.filter(_exists_visible_campaign(user, Campaign.datasets.through._meta.db_table,
                                                            "dataset_id", Dataset._meta.db_table))
    return datasets.annotate(image_count=Count("images")).order_by("name")


def dataset_get(*, user: Any, dataset_id: int) -> Dataset:
    """The dataset with ``image_count`` annotated, or Http404 (also for an annotator whose campaigns
    do not cover it)."""
    dataset = dataset_list(user=user).filter(pk=dataset_id).first()
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


def dataset_images(*, dataset: Dataset, user: Any) -> QuerySet[Image]:
    return images_for_user(user=user).filter(dataset=dataset).order_by("id")


def image_get(*, user: Any, image_id: int) -> Image:
    """The image if the user may read it (``images_for_user``), else Http404. Cost: one query."""
    image = images_for_user(user=user).filter(pk=image_id).first()
    if image is None:
        raise Http404("No such image.")
    return image


def imports_for_user(*, user: Any) -> QuerySet[ImportJob]:
    """Every import job for researchers and admins; none for anyone else (an import names server
    paths and rejected files, which annotators have no business reading)."""
    if not sees_everything(user):
        return ImportJob.objects.none()
    return ImportJob.objects.select_related("dataset", "created_by")


def import_list(*, user: Any, dataset: Dataset | None = None, limit: int = 50) -> list[ImportJob]:
    jobs = imports_for_user(user=user)
    if dataset is not None:
        jobs = jobs.filter(dataset=dataset)
    return list(jobs.order_by("-id")[:limit])


def import_get(*, user: Any, job_id: int) -> ImportJob:
    """The import job if the user may read it (``imports_for_user``), else Http404."""
    job = imports_for_user(user=user).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such import.")
    return job
