"""API: apply jobs and test-set cleaning (researcher role and up).

POST validates synchronously (empty or missing shards, shards outside IMPORT_ROOTS, runs from
different extractors, a test set without a claimed domain: 400 with the reason) and queues the
work on the gpu queue; the response is the queued job.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier.apply.clean import CLEAN_RULES, OWN_CLASSIFIER, table12_csv
from classifier.models import ApplyJob, ClassifierRun, CleanTestset, EmbeddingSet, ReshardJob
from classifier.selectors.apply import (
    apply_job_progress,
    apply_jobs_for_user,
    apply_jobs_with_progress,
    cleans_for_user,
    get_apply_job_for_user,
    get_clean_for_user,
)
from classifier.services.apply import (
    ApplyError,
    apply_job_cancel,
    apply_job_create,
    apply_job_resume,
    clean_testset_create,
    head_spec_from_runs,
)
from classifier.services.reshard import reshard_get, reshard_job_create
from domainsieve.api_errors import bad_request
from domainsieve.auth import IsResearcher
from domainsieve.jobs import JobStatus
from labeling.models import Dataset


class ApplyJobOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ApplyJob
        fields = ["id", "name", "source", "pattern", "embedding_set_id", "natural_run_id", "rendition_run_id",
                  "extractor", "thresholds", "level", "batch_size", "device", "status", "cancel_requested",
                  "shards_total", "progress", "out_dir", "error", "created_by", "created_at", "started_at",
                  "finished_at"]

    def get_progress(self, job: ApplyJob) -> dict[str, Any]:
        return apply_job_progress(job=job)


class ApplyJobDetailOut(ApplyJobOut):
    class Meta(ApplyJobOut.Meta):
        fields = [*ApplyJobOut.Meta.fields, "summary"]


class ApplyJobIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    shards = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="brace pattern or glob of .tar shards under IMPORT_ROOTS")
    embedding_set = serializers.PrimaryKeyRelatedField(queryset=EmbeddingSet.objects.all(), required=False,
                                                       allow_null=True, default=None)
    natural_run = serializers.PrimaryKeyRelatedField(queryset=ClassifierRun.objects.all())
    rendition_run = serializers.PrimaryKeyRelatedField(queryset=ClassifierRun.objects.all())
    level = serializers.ChoiceField(choices=ApplyJob.Level.choices, default=ApplyJob.Level.STRICT)
    batch_size = serializers.IntegerField(min_value=1, max_value=4096, default=256)
    device = serializers.CharField(max_length=32, default="auto")


class ApplyJobListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = ApplyJobOut

    def get_queryset(self) -> Any:
        return apply_jobs_with_progress(apply_jobs_for_user(user=self.request.user))

    def post(self, request: Request) -> Response:
        data = ApplyJobIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            spec = head_spec_from_runs(natural_run=v["natural_run"], rendition_run=v["rendition_run"])
            job = apply_job_create(name=v["name"], spec=spec, pattern=v["shards"], embedding_set=v["embedding_set"],
                                   level=v["level"], batch_size=v["batch_size"], device=v["device"],
                                   created_by=request.user, roots=list(settings.IMPORT_ROOTS))
        except ApplyError as exc:
            return bad_request(exc)
        return Response(ApplyJobDetailOut(job).data, status=status.HTTP_201_CREATED)


class ApplyJobDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ApplyJobDetailOut)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(ApplyJobDetailOut(get_apply_job_for_user(user=request.user, job_id=job_id)).data)


class ApplyJobCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=ApplyJobDetailOut)
    def post(self, request: Request, job_id: int) -> Response:
        job = apply_job_cancel(job=get_apply_job_for_user(user=request.user, job_id=job_id))
        return Response(ApplyJobDetailOut(job).data)


class ApplyJobResumeApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=ApplyJobDetailOut)
    def post(self, request: Request, job_id: int) -> Response:
        job = get_apply_job_for_user(user=request.user, job_id=job_id)
        revived = apply_job_resume(job=job)
        job.refresh_from_db()
        return Response({"revived": revived, **ApplyJobDetailOut(job).data})


class CleanOut(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = CleanTestset
        fields = ["id", "source", "source_name", "result", "result_name", "natural_run_id", "rendition_run_id",
                  "extractor", "thresholds", "rule", "status", "counts", "error", "created_at", "finished_at"]


class CleanIn(serializers.Serializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    natural_run = serializers.PrimaryKeyRelatedField(queryset=ClassifierRun.objects.all())
    rendition_run = serializers.PrimaryKeyRelatedField(queryset=ClassifierRun.objects.all())
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    rule = serializers.ChoiceField(choices=CLEAN_RULES, default=OWN_CLASSIFIER,
                                   help_text="own_classifier (the paper's) or two_head")


class CleanListApi(generics.ListAPIView):
    """GET lists cleanings; ``?export=csv`` exports the Table-12 counts of the finished ones."""

    permission_classes = [IsResearcher]
    serializer_class = CleanOut

    def get_queryset(self) -> Any:
        return cleans_for_user(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.query_params.get("export") == "csv":
            rows = [c.counts for c in cleans_for_user(user=request.user).filter(status=JobStatus.SUCCEEDED).order_by("id")]
            response = HttpResponse(table12_csv(rows), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="clean_testsets_table12.csv"'
            return response
        return super().list(request, *args, **kwargs)

    def post(self, request: Request) -> Response:
        data = CleanIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            spec = head_spec_from_runs(natural_run=v["natural_run"], rendition_run=v["rendition_run"])
            clean = clean_testset_create(source=v["dataset"], spec=spec, result_name=v["name"], rule=v["rule"],
                                         created_by=request.user)
        except ApplyError as exc:
            return bad_request(exc)
        return Response(CleanOut(clean).data, status=status.HTTP_201_CREATED)


class CleanDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=CleanOut)
    def get(self, request: Request, clean_id: int) -> Response:
        return Response(CleanOut(get_clean_for_user(user=request.user, clean_id=clean_id)).data)


class ReshardOut(serializers.ModelSerializer):
    class Meta:
        model = ReshardJob
        fields = ["id", "apply_job", "subset", "shard_size", "out_dir", "status", "done", "total", "samples", "shards",
                  "pattern", "error", "created_at", "started_at", "finished_at"]


class ReshardIn(serializers.Serializer):
    subset = serializers.CharField(max_length=32, help_text="natural_strict, rendition_strict, natural_default, ...")
    shard_size = serializers.IntegerField(min_value=1, max_value=1_000_000, default=10_000)


class ApplyJobReshardApi(APIView):
    """POST queues webdataset shards of one subset of a finished apply job (201; an existing one
    is returned with 200); GET lists the job's reshards."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReshardOut(many=True))
    def get(self, request: Request, job_id: int) -> Response:
        job = get_apply_job_for_user(user=request.user, job_id=job_id)
        return Response(ReshardOut(job.reshards.order_by("id"), many=True).data)

    @extend_schema(request=ReshardIn, responses={201: ReshardOut, 200: ReshardOut})
    def post(self, request: Request, job_id: int) -> Response:
        job = get_apply_job_for_user(user=request.user, job_id=job_id)
        data = ReshardIn(data=request.data)
        data.is_valid(raise_exception=True)
        before = set(job.reshards.exclude(status="failed").values_list("id", flat=True))
        try:
            reshard = reshard_job_create(apply_job=job, created_by=request.user, **data.validated_data)
        except ApplyError as exc:
            return bad_request(exc)
        code = status.HTTP_200_OK if reshard.id in before else status.HTTP_201_CREATED
        return Response(ReshardOut(reshard).data, status=code)


class ReshardDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ReshardOut)
    def get(self, request: Request, reshard_id: int) -> Response:
        return Response(ReshardOut(reshard_get(reshard_id=reshard_id)).data)
