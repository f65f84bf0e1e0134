from __future__ import annotations

from django.urls import path

from .api.runs import (
    EvalResultListApi,
    TrainHostListApi,
    TrainingRunCancelApi,
    TrainingRunDetailApi,
    TrainingRunListApi,
    TrainingRunLogApi,
    TrainingRunPriorityApi,
    TrainingRunResumeApi,
    TrainQueueApi,
)

urlpatterns = [
    path("training-runs/", TrainingRunListApi.as_view(), name="api-training-runs"),
    path("training-runs/<int:run_id>/", TrainingRunDetailApi.as_view(), name="api-training-run"),
    path("training-runs/<int:run_id>/log/", TrainingRunLogApi.as_view(), name="api-training-run-log"),
    path("training-runs/<int:run_id>/cancel/", TrainingRunCancelApi.as_view(), name="api-training-run-cancel"),
    path("training-runs/<int:run_id>/resume/", TrainingRunResumeApi.as_view(), name="api-training-run-resume"),
    path("training-runs/<int:run_id>/priority/", TrainingRunPriorityApi.as_view(), name="api-training-run-priority"),
    path("train-hosts/", TrainHostListApi.as_view(), name="api-train-hosts"),
    path("train-queue/", TrainQueueApi.as_view(), name="api-train-queue"),
    path("eval-results/", EvalResultListApi.as_view(), name="api-eval-results"),
]
