"""API: classifier runs and embedding sets (researcher role and up).

POST validates synchronously (unknown extractor or method, a class without labels, too few
labels for a validation split, an embedding set of another extractor: 400 with the reason) and
queues the fit on the gpu queue; the response is the queued run.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier.ml.methods import ALL_METHODS, RENAME_NOTE
from classifier.models import ClassifierRun, EmbeddingSet
from classifier.selectors.runs import (
    classifier_runs_for_user,
    embedding_sets_for_user,
    get_classifier_run_for_user,
)
from classifier.services.runs import ClassifierInputError, classifier_run_create, embedding_set_request
from domainsieve.api_errors import bad_request
from domainsieve.auth import IsResearcher
from labeling.domains import DOMAINS
from labeling.models import Dataset, Split


class ClassifierRunOut(serializers.ModelSerializer):
    datasets = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = ClassifierRun
        fields = ["id", "name", "labels_source", "datasets", "split", "extractor", "method", "classes",
                  "hyperparameters", "target_precision", "status", "progress", "error", "duration_s",
                  "thresholds", "artifacts", "created_by", "created_at", "started_at", "finished_at"]


class ClassifierRunDetailOut(ClassifierRunOut):
    class Meta(ClassifierRunOut.Meta):
        fields = [*ClassifierRunOut.Meta.fields, "metrics"]


class ClassifierRunIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    method = serializers.ChoiceField(choices=ALL_METHODS, help_text=RENAME_NOTE)
    extractor = serializers.CharField(max_length=500, default="timm:efficientnet_lite0/pypi")
    labels_source = serializers.ChoiceField(choices=ClassifierRun.LabelsSource.choices)
    datasets = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), many=True, required=False)
    split = serializers.PrimaryKeyRelatedField(queryset=Split.objects.all(), required=False, allow_null=True)
    classes = serializers.ListField(child=serializers.ChoiceField(choices=DOMAINS), required=False)
    hyperparameters = serializers.DictField(required=False, default=dict)
    target_precision = serializers.FloatField(default=0.98)
    embedding_sets = serializers.PrimaryKeyRelatedField(queryset=EmbeddingSet.objects.all(), many=True,
                                                        required=False)


class ClassifierRunListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = ClassifierRunOut

    def get_queryset(self) -> Any:
        return classifier_runs_for_user(user=self.request.user)

    def post(self, request: Request) -> Response:
        data = ClassifierRunIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = classifier_run_create(created_by=request.user, **data.validated_data)
        except ClassifierInputError as exc:
            return bad_request(exc)
        return Response(ClassifierRunDetailOut(run).data, status=status.HTTP_201_CREATED)


class ClassifierRunDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ClassifierRunDetailOut)
    def get(self, request: Request, run_id: int) -> Response:
        return Response(ClassifierRunDetailOut(get_classifier_run_for_user(user=request.user, run_id=run_id)).data)


class EmbeddingSetOut(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = EmbeddingSet
        fields = ["id", "dataset", "extractor", "path", "dim", "count", "done", "failed", "progress", "status",
                  "error", "created_at", "started_at", "finished_at"]


class EmbeddingSetIn(serializers.Serializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    extractor = serializers.CharField(max_length=500)


class EmbeddingSetListApi(generics.ListAPIView):
    permission_classes = [IsResearcher]
    serializer_class = EmbeddingSetOut

    def get_queryset(self) -> Any:
        return embedding_sets_for_user(user=self.request.user)

    def post(self, request: Request) -> Response:
        data = EmbeddingSetIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            embedding_set = embedding_set_request(created_by=request.user, **data.validated_data)
        except ClassifierInputError as exc:
            return bad_request(exc)
        return Response(EmbeddingSetOut(embedding_set).data, status=status.HTTP_202_ACCEPTED)
