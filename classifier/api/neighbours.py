"""API: vector indexes, dedup runs, contamination reports, "find more like this" (researcher role).

POST validates synchronously (a threshold outside [0, 1], embedding sets of two extractors, a test
set embedded by another extractor than the index: 400 with the reason) and queues the work on the
gpu queue; the response is the queued job.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier.ml.neighbours import NeighbourInputError
from classifier.models import ApplyJob, EmbeddingSet
from classifier.models.neighbours import ContaminationMatch, ContaminationReport, DedupRun, VectorIndex
from classifier.selectors.neighbours import (
    contamination_matches,
    contamination_reports_for_user,
    dedup_runs_for_user,
    get_contamination_report_for_user,
    get_dedup_run_for_user,
    get_vector_index_for_user,
    vector_indexes_for_user,
)
from classifier.services.neighbours import (
    campaign_create_from_neighbours,
    contamination_report_create,
    dedup_run_create,
    default_index_for,
    similar_unlabeled,
    vector_index_create,
    vector_index_resume,
)
from domainsieve.api_errors import bad_request
from domainsieve.auth import IsResearcher
from labeling.models import CampaignItem, Dataset, Image
from labeling.selectors.campaigns import get_campaign_for_user


class VectorIndexOut(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    embedding_sets = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = VectorIndex
        fields = ["id", "name", "extractor", "source", "embedding_sets", "apply_job", "factory", "parameters",
                  "rows", "size", "index_bytes", "peak_memory_bytes", "build_seconds", "status", "done", "total",
                  "progress", "error", "created_at", "started_at", "finished_at"]


class VectorIndexIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    embedding_sets = serializers.PrimaryKeyRelatedField(queryset=EmbeddingSet.objects.all(), many=True,
                                                        required=False, default=list)
    apply_job = serializers.PrimaryKeyRelatedField(queryset=ApplyJob.objects.all(), required=False,
                                                   allow_null=True, default=None)
    factory = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class VectorIndexListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = VectorIndexOut

    def get_queryset(self) -> Any:
        return vector_indexes_for_user(user=self.request.user)

    @extend_schema(request=VectorIndexIn, responses=VectorIndexOut)
    def post(self, request: Request) -> Response:
        data = VectorIndexIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            index = vector_index_create(created_by=request.user, **data.validated_data)
        except NeighbourInputError as exc:
            return bad_request(exc)
        return Response(VectorIndexOut(index).data, status=status.HTTP_202_ACCEPTED)


class VectorIndexDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=VectorIndexOut)
    def get(self, request: Request, index_id: int) -> Response:
        return Response(VectorIndexOut(get_vector_index_for_user(user=request.user, index_id=index_id)).data)


class VectorIndexResumeApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=VectorIndexOut)
    def post(self, request: Request, index_id: int) -> Response:
        index = vector_index_resume(index=get_vector_index_for_user(user=request.user, index_id=index_id))
        return Response(VectorIndexOut(index).data, status=status.HTTP_202_ACCEPTED)


class DedupRunOut(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = DedupRun
        fields = ["id", "index", "thresholds", "k", "rule", "counts", "out_dir", "status", "done", "total",
                  "progress", "error", "created_at", "started_at", "finished_at"]


class DedupRunIn(serializers.Serializer):
    index = serializers.PrimaryKeyRelatedField(queryset=VectorIndex.objects.all())
    thresholds = serializers.ListField(child=serializers.FloatField(), min_length=1)
    k = serializers.IntegerField(default=16)


class DedupRunListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = DedupRunOut

    def get_queryset(self) -> Any:
        return dedup_runs_for_user(user=self.request.user)

    @extend_schema(request=DedupRunIn, responses=DedupRunOut)
    def post(self, request: Request) -> Response:
        data = DedupRunIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = dedup_run_create(created_by=request.user, **data.validated_data)
        except NeighbourInputError as exc:
            return bad_request(exc)
        return Response(DedupRunOut(run).data, status=status.HTTP_202_ACCEPTED)


class DedupRunDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=DedupRunOut)
    def get(self, request: Request, run_id: int) -> Response:
        return Response(DedupRunOut(get_dedup_run_for_user(user=request.user, run_id=run_id)).data)


class ContaminationReportOut(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    testsets = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = ContaminationReport
        fields = ["id", "index", "testsets", "threshold", "k", "summary", "exclusion_path", "exclusion_count",
                  "status", "done", "total", "progress", "error", "created_at", "started_at", "finished_at"]


class ContaminationReportIn(serializers.Serializer):
    index = serializers.PrimaryKeyRelatedField(queryset=VectorIndex.objects.all())
    testsets = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), many=True)
    threshold = serializers.FloatField()
    k = serializers.IntegerField(default=5)
    extractor = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ContaminationReportListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = ContaminationReportOut

    def get_queryset(self) -> Any:
        return contamination_reports_for_user(user=self.request.user)

    @extend_schema(request=ContaminationReportIn, responses=ContaminationReportOut)
    def post(self, request: Request) -> Response:
        data = ContaminationReportIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            report = contamination_report_create(created_by=request.user, **data.validated_data)
        except NeighbourInputError as exc:
            return bad_request(exc)
        return Response(ContaminationReportOut(report).data, status=status.HTTP_202_ACCEPTED)


class ContaminationReportDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ContaminationReportOut)
    def get(self, request: Request, report_id: int) -> Response:
        report = get_contamination_report_for_user(user=request.user, report_id=report_id)
        return Response(ContaminationReportOut(report).data)


class ContaminationMatchOut(serializers.ModelSerializer):
    class Meta:
        model = ContaminationMatch
        fields = ["test_image", "pool_image", "pool_uid", "similarity", "rank"]


class ContaminationMatchListApi(generics.ListAPIView):
    """Matches of a report, best first; ``?dataset=ID`` for one test set."""

    permission_classes = [IsResearcher]
    serializer_class = ContaminationMatchOut

    def get_queryset(self) -> Any:
        report = get_contamination_report_for_user(user=self.request.user, report_id=self.kwargs["report_id"])
        dataset = self.request.query_params.get("dataset")
        return contamination_matches(report=report, dataset_id=int(dataset) if str(dataset).isdigit() else None)


class SimilarOut(serializers.Serializer):
    image = serializers.IntegerField()
    dataset = serializers.CharField()
    similarity = serializers.FloatField()
    thumb = serializers.CharField()


class SimilarImagesApi(APIView):
    """"Find more like this": the k nearest pool images nobody has labeled yet."""

    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("k", int), OpenApiParameter("campaign", int),
                               OpenApiParameter("index", int)], responses=SimilarOut(many=True))
    def get(self, request: Request, image_id: int) -> Response:
        image = Image.objects.filter(pk=image_id).first()
        if image is None:
            return Response({"detail": "no such image"}, status=status.HTTP_404_NOT_FOUND)
        campaign_id = request.query_params.get("campaign")
        if campaign_id:
            if not str(campaign_id).isdigit():
                return bad_request(ValueError("campaign must be an id"))
            campaign = get_campaign_for_user(user=request.user, campaign_id=int(campaign_id))
            if not CampaignItem.objects.filter(campaign=campaign, image=image).exists():
                return bad_request(ValueError(f"image {image.id} is not in campaign {campaign.id}"))
        try:
            index = _index_param(request, image)
            found = similar_unlabeled(image=image, index=index, k=request.query_params.get("k", 12))
        except NeighbourInputError as exc:
            return bad_request(exc)
        names = dict(Image.objects.filter(pk__in=[i for i, _ in found]).values_list("id", "dataset__name"))
        return Response({"image": image.id, "index": index.id, "extractor": index.extractor, "neighbours": [
            {"image": i, "dataset": names.get(i, ""), "similarity": round(s, 4), "thumb": f"/api/v1/images/{i}/thumb/"}
            for i, s in found]})


def _index_param(request: Request, image: Image) -> VectorIndex:
    """The ``?index=`` the caller chose, else the newest finished index that fits ``image``."""
    raw = request.query_params.get("index")
    if raw:
        if not str(raw).isdigit():
            raise NeighbourInputError("index must be an id")
        return get_vector_index_for_user(user=request.user, index_id=int(raw))
    index = default_index_for(image=image)
    if index is None:
        raise NeighbourInputError(f"no finished index uses an extractor that image {image.id}'s dataset is embedded "
                                  "with; build one on the Neighbours page")
    return index


class NeighbourCampaignIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    seeds = serializers.PrimaryKeyRelatedField(queryset=Image.objects.all(), many=True)
    k = serializers.IntegerField(default=10, help_text="neighbours per seed")
    index = serializers.PrimaryKeyRelatedField(queryset=VectorIndex.objects.all(), required=False, allow_null=True,
                                               default=None)
    include_seeds = serializers.BooleanField(default=True)
    labels_per_item = serializers.IntegerField(default=1, min_value=1, max_value=10)


class NeighbourCampaignApi(APIView):
    """Create a campaign from the nearest unlabeled pool images of chosen seed images."""

    permission_classes = [IsResearcher]

    @extend_schema(request=NeighbourCampaignIn, responses={201: None})
    def post(self, request: Request) -> Response:
        data = NeighbourCampaignIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            if not v["seeds"]:
                raise NeighbourInputError("choose at least one seed image")
            index = v["index"] or _index_param(request, v["seeds"][0])
            campaign = campaign_create_from_neighbours(name=v["name"], seeds=v["seeds"], index=index, k=v["k"],
                                                       include_seeds=v["include_seeds"], user=request.user,
                                                       labels_per_item=v["labels_per_item"])
        except NeighbourInputError as exc:
            return bad_request(exc)
        return Response({"id": campaign.id, "name": campaign.name, "items": campaign.items.count(),
                         "index": index.id}, status=status.HTTP_201_CREATED)
