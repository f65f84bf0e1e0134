from __future__ import annotations

from django.urls import path

from classifier.api import apply, neighbours
from classifier.api.runs import ClassifierRunDetailApi, ClassifierRunListApi, EmbeddingSetListApi

urlpatterns = [
    path("classifier-runs/", ClassifierRunListApi.as_view(), name="api-classifier-runs"),
    path("classifier-runs/<int:run_id>/", ClassifierRunDetailApi.as_view(), name="api-classifier-run"),
    path("embedding-sets/", EmbeddingSetListApi.as_view(), name="api-embedding-sets"),
    *apply.urlpatterns,
    *neighbours.urlpatterns,
]
