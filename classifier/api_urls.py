"""Classifier REST API: every route, in one place (the API classes live in ``classifier/api/``)."""
from __future__ import annotations

from django.urls import path

from classifier.api import apply, neighbours, runs

urlpatterns = [
    # classifier runs, embedding sets
    path("classifier-runs/", runs.ClassifierRunListApi.as_view(), name="api-classifier-runs"),
    path("classifier-runs/<int:run_id>/", runs.ClassifierRunDetailApi.as_view(), name="api-classifier-run"),
    path("embedding-sets/", runs.EmbeddingSetListApi.as_view(), name="api-embedding-sets"),
    # apply jobs, reshards, test-set cleaning
    path("apply-jobs/<int:job_id>/reshard/", apply.ApplyJobReshardApi.as_view(),
         name="api-apply-job-reshard"),
    path("reshards/<int:reshard_id>/", apply.ReshardDetailApi.as_view(), name="api-reshard"),
    path("apply-jobs/", apply.ApplyJobListApi.as_view(), name="api-apply-jobs"),
    path("apply-jobs/<int:job_id>/", apply.ApplyJobDetailApi.as_view(), name="api-apply-job"),
    path("apply-jobs/<int:job_id>/cancel/", apply.ApplyJobCancelApi.as_view(), name="api-apply-job-cancel"),
    path("apply-jobs/<int:job_id>/resume/", apply.ApplyJobResumeApi.as_view(), name="api-apply-job-resume"),
    path("clean-testsets/", apply.CleanListApi.as_view(), name="api-clean-testsets"),
    path("clean-testsets/<int:clean_id>/", apply.CleanDetailApi.as_view(), name="api-clean-testset"),
    # neighbours
    path("vector-indexes/", neighbours.VectorIndexListApi.as_view(), name="api-vector-indexes"),
    path("vector-indexes/<int:index_id>/", neighbours.VectorIndexDetailApi.as_view(),
         name="api-vector-index"),
    path("vector-indexes/<int:index_id>/resume/", neighbours.VectorIndexResumeApi.as_view(),
         name="api-vector-index-resume"),
    path("dedup-runs/", neighbours.DedupRunListApi.as_view(), name="api-dedup-runs"),
    path("dedup-runs/<int:run_id>/", neighbours.DedupRunDetailApi.as_view(), name="api-dedup-run"),
    path("contamination-reports/", neighbours.ContaminationReportListApi.as_view(),
         name="api-contamination-reports"),
    path("contamination-reports/<int:report_id>/", neighbours.ContaminationReportDetailApi.as_view(),
         name="api-contamination-report"),
    path("contamination-reports/<int:report_id>/matches/", neighbours.ContaminationMatchListApi.as_view(),
         name="api-contamination-matches"),
    path("images/<int:image_id>/similar/", neighbours.SimilarImagesApi.as_view(), name="api-image-similar"),
    path("campaigns/from-neighbours/", neighbours.NeighbourCampaignApi.as_view(),
         name="api-campaign-from-neighbours"),
]
