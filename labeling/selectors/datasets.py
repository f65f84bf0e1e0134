"""Selectors (reads): datasets, images and import jobs.

Every role may read datasets and images (annotators label them); import jobs are researcher
business, which the API checks by permission class before calling these.
"""
from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404

from labeling.models import Dataset, Image, ImportJob


def dataset_list(*, user: Any) -> QuerySet[Dataset]:
    return Dataset.objects.annotate(image_count=Count("images")).order_by("name")


def dataset_get(*, user: Any, dataset_id: int) -> Dataset:
    """The dataset with ``image_count`` annotated, or Http404."""
    dataset = dataset_list(user=user).filter(pk=dataset_id).first()
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


def dataset_images(*, dataset: Dataset) -> QuerySet[Image]:
    return Image.objects.filter(dataset=dataset).order_by("id")


def image_get(*, user: Any, image_id: int) -> Image:
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        raise Http404("No such image.")
    return image


def import_list(*, user: Any, dataset: Dataset | None = None, limit: int = 50) -> list[ImportJob]:
    jobs = ImportJob.objects.select_related("dataset", "created_by")
    if dataset is not None:
        jobs = jobs.filter(dataset=dataset)
    return list(jobs.order_by("-id")[:limit])


def import_get(*, user: Any, job_id: int) -> ImportJob:
    job = ImportJob.objects.select_related("dataset").filter(pk=job_id).first()
    if job is None:
        raise Http404("No such import.")
    return job
