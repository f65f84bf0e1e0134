from __future__ import annotations

from django.urls import path

from classifier import api_apply, api_neighbours
from classifier.api import ClassifierRunDetailApi, ClassifierRunListApi, EmbeddingSetListApi

urlpatterns = [
    path("classifier-runs/", ClassifierRunListApi.as_view(), name="api-classifier-runs"),
    path("classifier-runs/<int:run_id>/", ClassifierRunDetailApi.as_view(), name="api-classifier-run"),
    path("embedding-sets/", EmbeddingSetListApi.as_view(), name="api-embedding-sets"),
    *api_apply.urlpatterns,
    *api_neighbours.urlpatterns,
]
