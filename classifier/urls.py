"""Classifier pages: every route, in one place (the views live in ``classifier/views/``)."""
from __future__ import annotations

from django.urls import path

from classifier.views import apply, neighbours, runs, subsets

urlpatterns = [
    # classifier runs
    path("classifier/runs/", runs.run_list, name="classifier-runs"),
    path("classifier/runs/<int:run_id>/", runs.run_detail, name="classifier-run"),
    path("classifier/compare/", runs.run_compare, name="classifier-compare"),
    # apply jobs, test-set cleaning
    path("classifier/apply/", apply.apply_list, name="classifier-apply"),
    path("classifier/apply/<int:job_id>/", apply.apply_detail, name="classifier-apply-job"),
    path("classifier/apply/<int:job_id>/reshard/", apply.apply_reshard, name="classifier-apply-reshard"),
    path("classifier/apply/<int:job_id>/<str:action>/", apply.apply_action, name="classifier-apply-action"),
    path("classifier/clean/", apply.clean_list, name="classifier-clean-list"),
    path("classifier/clean/<int:clean_id>/", apply.clean_detail, name="classifier-clean"),
    # subsets
    path("classifier/subsets/", subsets.subset_list, name="classifier-subsets"),
    # neighbours
    path("classifier/neighbours/", neighbours.neighbours_page, name="classifier-neighbours"),
    path("classifier/contamination/", neighbours.contamination_list, name="classifier-contamination-list"),
    path("classifier/contamination/<int:report_id>/", neighbours.contamination_detail,
         name="classifier-contamination"),
    path("classifier/neighbours/campaigns/<int:campaign_id>/", neighbours.campaign_similar,
         name="classifier-campaign-similar"),
]
