"""API: agreement, disagreements and adjudication, gold items, label snapshots, splits, exports.

Annotators see none of this (403): agreement figures and other people's labels are for
researchers and admins; adjudication, quality settings, snapshots and splits are written by admins.
"""
from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domainsieve.api_errors import INT32_MAX, bad_request
from domainsieve.auth import IsAdmin, IsResearcher
from domainsieve.ids import parse_id
from labeling import exports
from labeling.agreement.consensus import ConsensusInputError
from labeling.exports.annotations import ANNOTATION_FORMATS, write_annotations
from labeling.models import CampaignItem, LabelSnapshot, Split
from labeling.selectors.exports import annotation_frame, annotations_by_image
from labeling.selectors.quality import (
    campaign_agreement,
    disagreement_queue,
    export_frame,
    get_campaign_for_researcher,
    get_snapshot,
    get_split,
)
from labeling.services.labelstudio import labels_import_labelstudio
from labeling.services.quality import (
    QualityError,
    adjudication_record,
    campaign_quality_update,
    gold_set,
    snapshot_create,
    split_create,
)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        raise serializers.ValidationError({name: "must be an integer"}) from None
    if not low <= value <= high:
        raise serializers.ValidationError({name: f"must lie in {low}..{high}"})
    return value


class AgreementApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("n_boot", int, description="bootstrap resamples (default 1000)"),
                               OpenApiParameter("seed", int)],
                   responses=inline_serializer("Agreement", {"percent_agreement": serializers.DictField()}))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        return Response(campaign_agreement(campaign=campaign, n_boot=_int_param(request, "n_boot", 1000, 0, 20000),
                                           seed=_int_param(request, "seed", 0, 0, 2**31)))


class DisagreementsApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
                   responses=inline_serializer("Disagreements", {"count": serializers.IntegerField(),
                                                                 "results": serializers.ListField()}))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        try:
            return Response(disagreement_queue(campaign=campaign, limit=_int_param(request, "limit", 50, 1, 500),
                                               offset=_int_param(request, "offset", 0, 0, 10**9)))
        except ConsensusInputError as error:
            return Response({"detail": str(error), "reason": error.reason}, status=status.HTTP_409_CONFLICT)


class AdjudicationInput(serializers.Serializer):
    item = serializers.IntegerField()
    label = serializers.CharField(max_length=32)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    make_gold = serializers.BooleanField(required=False, default=False)


class AdjudicationsApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=AdjudicationInput,
                   responses={201: inline_serializer("Adjudication", {"id": serializers.IntegerField()})})
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        data = AdjudicationInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = get_object_or_404(CampaignItem, pk=data.validated_data["item"], campaign=campaign)
        try:
            decision = adjudication_record(item=item, label=data.validated_data["label"],
                                           reason=data.validated_data["reason"], decided_by=request.user,
                                           make_gold=data.validated_data["make_gold"])
        except QualityError as error:
            return bad_request(str(error))
        return Response({"id": decision.id, "item": item.id, "label": decision.label, "reason": decision.reason,
                         "made_gold": decision.made_gold, "decided_by": request.user.username,
                         "decided_at": decision.decided_at.isoformat()}, status=status.HTTP_201_CREATED)


class QualitySettingsInput(serializers.Serializer):
    queue_ambiguous = serializers.BooleanField(required=False)
    gold_min_accuracy = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    gold_min_answers = serializers.IntegerField(required=False, min_value=1, max_value=INT32_MAX)
    accuracy_floor = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)


class QualitySettingsApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=QualitySettingsInput, responses=QualitySettingsInput)
    def patch(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        data = QualitySettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        settings = campaign_quality_update(campaign=campaign, **data.validated_data)
        return Response({"queue_ambiguous": settings.queue_ambiguous, "gold_min_accuracy": settings.gold_min_accuracy,
                         "gold_min_answers": settings.gold_min_answers, "accuracy_floor": settings.accuracy_floor})


class GoldApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=inline_serializer("GoldInput", {"items": serializers.DictField(
        child=serializers.CharField(allow_blank=True), help_text='{"item id": "label" or "" to unmark}')}),
        responses=inline_serializer("GoldResult", {"changed": serializers.IntegerField()}))
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        items = request.data.get("items") if isinstance(request.data, dict) else None
        if not isinstance(items, dict) or not all(parse_id(k) is not None and isinstance(v, str) for k, v in items.items()):
            return bad_request('send {"items": {"<item id>": "<label>", ...}}')
        try:
            changed = gold_set(campaign=campaign, labels={parse_id(k): v for k, v in items.items()})
        except QualityError as error:
            return bad_request(str(error))
        return Response({"changed": changed})


def snapshot_payload(snapshot: LabelSnapshot) -> dict[str, Any]:
    return {"id": snapshot.id, "name": snapshot.name, "campaign": snapshot.campaign_id, "rule": snapshot.rule,
            "classes": snapshot.class_names, "counts": snapshot.counts, "n_labelled": snapshot.n_labelled,
            "n_unlabelled": snapshot.n_unlabelled, "description": snapshot.description,
            "created_at": snapshot.created_at.isoformat(),
            # Sorted here, not by the query, so that a list's prefetched splits are used as they are.
            "splits": [split_payload(s) for s in sorted(snapshot.splits.all(), key=lambda s: (s.name, s.version))]}


def split_payload(split: Split) -> dict[str, Any]:
    return {"id": split.id, "name": split.name, "version": split.version, "snapshot": split.snapshot_id,
            "preset": split.preset, "seed": split.seed, "params": split.params, "counts": split.counts,
            "previous": split.previous_id, "created_at": split.created_at.isoformat()}


class SnapshotInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class SnapshotListApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsAdmin()] if self.request.method == "POST" else [IsResearcher()]

    @extend_schema(responses=inline_serializer("Snapshots", {"results": serializers.ListField()}))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        snapshots = campaign.snapshots.order_by("-id").prefetch_related("splits")
        return Response({"results": [snapshot_payload(s) for s in snapshots]})

    @extend_schema(request=SnapshotInput, responses={201: inline_serializer("Snapshot", {"id": serializers.IntegerField()})})
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        data = SnapshotInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            snapshot = snapshot_create(campaign=campaign, created_by=request.user, **data.validated_data)
        except QualityError as error:
            return bad_request(str(error))
        return Response(snapshot_payload(snapshot), status=status.HTTP_201_CREATED)


class SnapshotDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=inline_serializer("SnapshotDetail", {"id": serializers.IntegerField()}))
    def get(self, request: Request, snapshot_id: int) -> Response:
        return Response(snapshot_payload(get_snapshot(ref=snapshot_id)))


class SplitInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    preset = serializers.ChoiceField(choices=Split.Preset.choices)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=INT32_MAX)
    train = serializers.IntegerField(required=False, min_value=0, max_value=INT32_MAX)
    val_per_class = serializers.IntegerField(required=False, min_value=0, max_value=INT32_MAX)
    test_per_class = serializers.IntegerField(required=False, min_value=0, max_value=INT32_MAX)
    ratios = serializers.ListField(child=serializers.FloatField(min_value=0, max_value=1), min_length=3,
                                   max_length=3, required=False)


class SplitListApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsAdmin()] if self.request.method == "POST" else [IsResearcher()]

    @extend_schema(responses=inline_serializer("Splits", {"results": serializers.ListField()}))
    def get(self, request: Request, snapshot_id: int) -> Response:
        snapshot = get_snapshot(ref=snapshot_id)
        return Response({"results": [split_payload(s) for s in snapshot.splits.order_by("name", "version")]})

    @extend_schema(request=SplitInput, responses={201: inline_serializer("Split", {"id": serializers.IntegerField()})})
    def post(self, request: Request, snapshot_id: int) -> Response:
        snapshot = get_snapshot(ref=snapshot_id)
        data = SplitInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "ratios" in values:
            values["ratios"] = tuple(values["ratios"])
        try:
            split = split_create(snapshot=snapshot, created_by=request.user, **values)
        except QualityError as error:
            return bad_request(str(error))
        return Response(split_payload(split), status=status.HTTP_201_CREATED)


class SplitDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("assignments", bool, description="include {image id: subset}")],
                   responses=inline_serializer("SplitDetail", {"id": serializers.IntegerField()}))
    def get(self, request: Request, split_id: int) -> Response:
        split = get_object_or_404(Split, pk=split_id)
        payload = split_payload(split)
        if request.query_params.get("assignments") in ("1", "true", "yes"):
            payload["assignments"] = dict(split.assignments.values_list("image_id", "subset"))
        return Response(payload)


class ExportApi(APIView):
    permission_classes = [IsResearcher]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # ?format= is ours (the file format), not DRF's renderer override: never 404 on it.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(parameters=[
        OpenApiParameter("format", str, enum=list(exports.FORMATS), description="default csv"),
        OpenApiParameter("snapshot", str, description="a snapshot id or name (default: live final labels)"),
        OpenApiParameter("split", int, description="a split id: fills the split column"),
        OpenApiParameter("rows", str, enum=["final", "annotations"],
                         description="final (default): one row per item with its final label; annotations: one "
                                     "row per annotation (item, uid, annotator, label, seconds, time, adjudicated), "
                                     "csv/jsonl/parquet"),
        OpenApiParameter("annotators", bool, description="labelstudio: also every annotator's annotation "
                                                         "(completed_by), the final one marked ground_truth")],
        responses={(200, content_type): OpenApiTypes.ANY if content_type.endswith("json") else OpenApiTypes.BINARY
                   for content_type in sorted(set(exports.CONTENT_TYPES.values()))})
    def get(self, request: Request, campaign_id: int) -> HttpResponse:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        fmt = request.query_params.get("format", "csv")
        rows = request.query_params.get("rows", "final")
        if rows not in ("final", "annotations"):
            return bad_request(f"unknown rows {rows!r}; expected final or annotations")
        if rows == "annotations":
            return _annotation_rows_response(campaign, fmt)
        if fmt not in exports.FORMATS:
            return bad_request(f"unknown format {fmt!r}; expected one of {', '.join(exports.FORMATS)}")
        snapshot = get_snapshot(ref=request.query_params["snapshot"]) if request.query_params.get("snapshot") else None
        split = None
        if request.query_params.get("split"):
            split_ref = request.query_params["split"]
            if parse_id(split_ref) is None:
                return bad_request("split must be a split id")
            split = get_split(ref=parse_id(split_ref))
        try:
            frame = export_frame(campaign=campaign, snapshot=snapshot, split=split,
                                 image_url=request.build_absolute_uri("/api/v1/images/{id}/file/").replace(
                                     "%7Bid%7D", "{id}"))
            if fmt == "labelstudio" and request.query_params.get("annotators") in ("1", "true", "yes"):
                body = exports.write_labelstudio(frame, annotations_by_image(campaign=campaign))
            else:
                body = exports.write(frame, fmt)
        except ValueError as error:
            return bad_request(str(error))
        response = HttpResponse(body, content_type=exports.CONTENT_TYPES[fmt])
        stem = snapshot.name if snapshot else campaign.name
        response["Content-Disposition"] = f'attachment; filename="{_safe(stem)}.{exports.EXTENSIONS[fmt]}"'
        return response


def _annotation_rows_response(campaign: Any, fmt: str) -> HttpResponse:
    if fmt not in ANNOTATION_FORMATS:
        return bad_request(f"annotation rows come as {', '.join(ANNOTATION_FORMATS)}, not {fmt!r}")
    body = write_annotations(annotation_frame(campaign=campaign), fmt)
    response = HttpResponse(body, content_type=exports.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = (f'attachment; filename="{_safe(campaign.name)}_annotations.'
                                       f'{exports.EXTENSIONS[fmt]}"')
    return response


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "labels"


class LabelStudioConfigApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses={(200, "application/xml"): str})
    def get(self, request: Request, campaign_id: int) -> HttpResponse:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        return HttpResponse(exports.labelstudio_config(campaign.label_names), content_type="application/xml")


class LabelStudioImportInput(serializers.Serializer):
    tasks = serializers.ListField(help_text="the Label Studio JSON export (a list of tasks)")
    source = serializers.CharField(required=False, max_length=64,
                                   help_text="store unmapped annotators' labels as imported labels of this "
                                             "source (default 'labelstudio' when no annotator_map is sent)")
    annotator_map = serializers.DictField(child=serializers.CharField(max_length=150), required=False,
                                          help_text="the file's completed_by -> username of an existing user")
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text="report what would be imported and skipped; write nothing")


class LabelStudioImportApi(APIView):
    """Import a Label Studio export's labels. No label is written in a user's name unless the
    researcher maps that annotator to the user (``annotator_map``); the others become imported
    labels of ``source``. Items never go past k. The answer lists what was skipped and why."""

    permission_classes = [IsResearcher]

    @extend_schema(request=LabelStudioImportInput,
                   responses=inline_serializer("LabelStudioImportReport", {
                       "source": serializers.CharField(allow_null=True), "dry_run": serializers.BooleanField(),
                       "created": serializers.IntegerField(), "updated": serializers.IntegerField(),
                       "unchanged": serializers.IntegerField(), "skipped_count": serializers.IntegerField(),
                       "skipped_by_reason": serializers.DictField(child=serializers.IntegerField()),
                       "skipped": serializers.ListField(child=serializers.DictField())}))
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        body: Any = request.data
        if "file" in request.FILES:
            try:
                tasks = json.load(request.FILES["file"])
            except (ValueError, RecursionError):
                return bad_request("the file is not JSON")
            body = {key: request.data.get(key) for key in ("source", "dry_run") if request.data.get(key)}
            body["tasks"] = tasks if isinstance(tasks, list) else [tasks]
        elif isinstance(body, list):
            body = {"tasks": body}
        elif not isinstance(body, dict) or "tasks" not in body:
            return bad_request("a Label Studio export is a JSON list of tasks, or {\"tasks\": [...], \"source\": ...}")
        data = LabelStudioImportInput(data=body)
        data.is_valid(raise_exception=True)
        usernames = data.validated_data.get("annotator_map", {})
        users = {u.username: u for u in get_user_model().objects.filter(username__in=usernames.values())}
        unknown = sorted({name for name in usernames.values() if name not in users})
        if unknown:
            return bad_request(f"annotator_map names no such user: {', '.join(unknown)}")
        try:
            report = labels_import_labelstudio(
                campaign=campaign, data=data.validated_data["tasks"], imported_by=request.user,
                source=data.validated_data.get("source"), dry_run=data.validated_data["dry_run"],
                annotator_map={key: users[name] for key, name in usernames.items()})
        except QualityError as error:
            return bad_request(str(error))
        return Response(report.as_dict())
