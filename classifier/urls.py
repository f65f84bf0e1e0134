from __future__ import annotations

from django.urls import path

from classifier import views, views_apply, views_neighbours, views_subsets

urlpatterns = [
    path("classifier/runs/", views.run_list, name="classifier-runs"),
    path("classifier/runs/<int:run_id>/", views.run_detail, name="classifier-run"),
    path("classifier/compare/", views.run_compare, name="classifier-compare"),
    *views_apply.urlpatterns,
    *views_subsets.urlpatterns,
    *views_neighbours.urlpatterns,
]
