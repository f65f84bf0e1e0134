from __future__ import annotations

from django.urls import path

from classifier.views import apply, neighbours, runs, subsets

urlpatterns = [
    path("classifier/runs/", runs.run_list, name="classifier-runs"),
    path("classifier/runs/<int:run_id>/", runs.run_detail, name="classifier-run"),
    path("classifier/compare/", runs.run_compare, name="classifier-compare"),
    *apply.urlpatterns,
    *subsets.urlpatterns,
    *neighbours.urlpatterns,
]
