"""Pages: datasets and imports."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from domainsieve.auth import RESEARCHER, role_required
from labeling.models import Dataset


@role_required(RESEARCHER)
def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "labeling/datasets.html", {"datasets": Dataset.objects.all()})


urlpatterns = [
    path("datasets/", dataset_list, name="dataset-list"),
]
