from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("training/", views.run_list_page, name="training-runs"),
    path("training/results/", views.results_page, name="training-results"),
    path("training/hosts/", views.hosts_page, name="training-hosts"),
    path("training/results.csv", views.results_csv, name="training-results-csv"),
    path("training/<int:run_id>/", views.run_detail_page, name="training-run-detail"),
    path("training/<int:run_id>/<str:action>/", views.run_action, name="training-run-action"),
]
