from __future__ import annotations

from django.urls import path

from .views.runs import hosts_page, results_csv, results_page, run_action, run_detail_page, run_list_page

urlpatterns = [
    path("training/", run_list_page, name="training-runs"),
    path("training/results/", results_page, name="training-results"),
    path("training/hosts/", hosts_page, name="training-hosts"),
    path("training/results.csv", results_csv, name="training-results-csv"),
    path("training/<int:run_id>/", run_detail_page, name="training-run-detail"),
    path("training/<int:run_id>/<str:action>/", run_action, name="training-run-action"),
]
