"""API: campaigns, leasing (next), annotations and progress."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domainsieve.api_errors import INT32_MAX, bad_request
from domainsieve.auth import RESEARCHER, IsAnnotator, IsResearcher, has_role
from labeling import hooks
from labeling.models import Campaign, CampaignItem, Dataset
from labeling.selectors.campaigns import (
    campaign_lease_cap,
    campaign_progress,
    campaigns_for_user,
    get_campaign_for_user,
)
from labeling.services.campaigns import (
    AnnotationBatchError,
    AnnotatorPausedError,
    CampaignClosedError,
    CampaignError,
    annotations_submit,
    campaign_create,
    campaign_next_items,
    campaign_set_members,
    campaign_set_status,
    campaign_update_settings,
)

MAX_PAGE = 200
# What leasing and submitting read of a campaign: its guidelines and description stay unloaded.
LABELING_FIELDS = ("id", "status", "ordering", "lease_minutes", "gold_rate", "show_suggestions", "label_choices")


def thumb_url(image_id: int) -> str:
    return f"/api/v1/images/{image_id}/thumb/"


def file_url(image_id: int) -> str:
    return f"/api/v1/images/{image_id}/file/"


class CampaignOutput(serializers.ModelSerializer):
    datasets = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = ["id", "name", "description", "datasets", "label_choices", "k", "agreement_fraction",
                  "agreement_k", "guidelines", "ordering", "show_suggestions", "gold_rate", "lease_minutes",
                  "final_label_rule", "status", "created_at", "uncertainty_measure", "prediction_source",
                  "prediction_run", "predictions_updated_at"]
        read_only_fields = ["prediction_run", "predictions_updated_at"]


class CampaignResearcherOutput(CampaignOutput):
    """Researchers and admins also see who may label it (annotators never see the other members)."""

    members = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")
    member_groups = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta(CampaignOutput.Meta):
        fields = [*CampaignOutput.Meta.fields, "members", "member_groups"]


def campaign_output(user: Any) -> type[CampaignOutput]:
    return CampaignResearcherOutput if has_role(user, RESEARCHER) else CampaignOutput


def _members_field() -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        many=True, required=False, slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        help_text="usernames of the annotators who may label it (with member_groups empty too: everyone)")


def _member_groups_field() -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(many=True, required=False, slug_field="name", queryset=Group.objects.all(),
                                        help_text="names of groups whose members may label it")


class LabelChoiceInput(serializers.Serializer):
    name = serializers.CharField(max_length=32)
    key = serializers.CharField(max_length=1, allow_blank=True, required=False, default="")
    colour = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, default="#868e96")


class CampaignInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    datasets = serializers.PrimaryKeyRelatedField(many=True, queryset=Dataset.objects.all())
    sample = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=INT32_MAX, default=None)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=INT32_MAX)
    k = serializers.IntegerField(required=False, default=1, min_value=1, max_value=50)
    agreement_fraction = serializers.FloatField(required=False, default=0.0, min_value=0.0, max_value=1.0)
    agreement_k = serializers.IntegerField(required=False, default=3, min_value=1, max_value=50)
    label_choices = LabelChoiceInput(many=True, required=False)
    guidelines = serializers.CharField(required=False, allow_blank=True)
    ordering = serializers.ChoiceField(choices=Campaign.Ordering.choices, required=False,
                                       default=Campaign.Ordering.RANDOM)
    show_suggestions = serializers.BooleanField(required=False, default=False)
    uncertainty_measure = serializers.ChoiceField(choices=Campaign.UncertaintyMeasure.choices, required=False,
                                                  default=Campaign.UncertaintyMeasure.MARGIN)
    prediction_source = serializers.ChoiceField(choices=Campaign.PredictionSource.choices, required=False,
                                                default=Campaign.PredictionSource.NONE)
    gold_rate = serializers.FloatField(required=False, default=0.0, min_value=0.0, max_value=0.99)
    lease_minutes = serializers.IntegerField(required=False, default=10, min_value=1, max_value=24 * 60)
    final_label_rule = serializers.ChoiceField(choices=Campaign.FinalLabelRule.choices, required=False,
                                               default=Campaign.FinalLabelRule.ADJUDICATED_UNANIMOUS_MAJORITY)
    members = _members_field()
    member_groups = _member_groups_field()


class CampaignListApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsResearcher()] if self.request.method == "POST" else [IsAnnotator()]

    @extend_schema(responses=CampaignResearcherOutput(many=True))
    def get(self, request: Request) -> Response:
        campaigns = campaigns_for_user(user=request.user).prefetch_related("datasets")
        output = campaign_output(request.user)
        if output is CampaignResearcherOutput:
            campaigns = campaigns.prefetch_related("members", "member_groups")
        return Response(output(campaigns, many=True).data)

    @extend_schema(request=CampaignInput, responses={201: CampaignResearcherOutput})
    def post(self, request: Request) -> Response:
        data = CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            campaign = campaign_create(**data.validated_data, user=request.user)
        except CampaignError as error:
            return bad_request(error)
        if campaign.prediction_source == Campaign.PredictionSource.LATEST_RUN:
            hooks.predictions_configure(campaign=campaign, ordering=campaign.ordering,
                                        uncertainty_measure=campaign.uncertainty_measure,
                                        show_suggestions=campaign.show_suggestions)
        return Response(CampaignResearcherOutput(campaign).data, status=status.HTTP_201_CREATED)


class CampaignUpdateInput(serializers.Serializer):
    """Every field optional; only the ones sent change."""

    description = serializers.CharField(required=False, allow_blank=True)
    guidelines = serializers.CharField(required=False)
    gold_rate = serializers.FloatField(required=False, min_value=0.0, max_value=0.99)
    lease_minutes = serializers.IntegerField(required=False, min_value=1, max_value=24 * 60)
    final_label_rule = serializers.ChoiceField(choices=Campaign.FinalLabelRule.choices, required=False)
    status = serializers.ChoiceField(choices=Campaign.Status.choices, required=False)
    ordering = serializers.ChoiceField(choices=Campaign.Ordering.choices, required=False)
    uncertainty_measure = serializers.ChoiceField(choices=Campaign.UncertaintyMeasure.choices, required=False)
    show_suggestions = serializers.BooleanField(required=False)
    prediction_source = serializers.ChoiceField(choices=Campaign.PredictionSource.choices, required=False)
    members = _members_field()
    member_groups = _member_groups_field()


_QUEUE_FIELDS = ("ordering", "uncertainty_measure", "show_suggestions", "prediction_source")


class CampaignDetailApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsResearcher()] if self.request.method == "PATCH" else [IsAnnotator()]

    @extend_schema(responses=CampaignResearcherOutput)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
        return Response(campaign_output(request.user)(campaign).data)

    @extend_schema(request=CampaignUpdateInput, responses=CampaignResearcherOutput)
    def patch(self, request: Request, campaign_id: int) -> Response:
        """Change settings, status (``active`` reopens a finished campaign) and members (each list
        sent replaces that set); items, labels, k and datasets stay as created (400 if sent)."""
        campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
        if not isinstance(request.data, Mapping):
            return Response({"detail": "send an object of the settings to change"},
                            status=status.HTTP_400_BAD_REQUEST)
        frozen = sorted(set(request.data) - set(CampaignUpdateInput().fields))
        if frozen:
            return Response({"detail": f"cannot change {', '.join(frozen)} after creation"},
                            status=status.HTTP_400_BAD_REQUEST)
        data = CampaignUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        queue = {field: changes.pop(field) for field in _QUEUE_FIELDS if field in changes}
        new_status = changes.pop("status", None)
        members = {field: changes.pop(field) for field in ("members", "member_groups") if field in changes}
        try:
            with transaction.atomic():
                campaign_update_settings(campaign=campaign, changes=changes)
                if members:
                    campaign_set_members(campaign=campaign, **members)
                if new_status is not None:
                    campaign_set_status(campaign=campaign, status=new_status)
                if queue:
                    try:
                        hooks.predictions_configure(
                            campaign=campaign, ordering=queue.get("ordering", campaign.ordering),
                            uncertainty_measure=queue.get("uncertainty_measure", campaign.uncertainty_measure),
                            show_suggestions=queue.get("show_suggestions", campaign.show_suggestions),
                            prediction_source=queue.get("prediction_source"))
                    except hooks.PredictionsError as error:
                        raise CampaignError(str(error)) from error
        except CampaignError as error:
            return bad_request(error)
        campaign.refresh_from_db()
        return Response(CampaignResearcherOutput(campaign).data)


class NextItemOutput(serializers.Serializer):
    item = serializers.IntegerField()
    image = serializers.IntegerField()
    thumb = serializers.CharField()
    file = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    group = serializers.IntegerField(required=False, help_text="predicted group, with grouped ordering")
    suggestion = serializers.CharField(required=False, allow_null=True)


def next_item_payload(item: CampaignItem, *, campaign: Campaign) -> dict[str, Any]:
    """One tile of a leased page; ``item`` comes from campaign_next_items (it carries width, height)."""
    payload: dict[str, Any] = {
        "item": item.id, "image": item.image_id, "thumb": thumb_url(item.image_id), "file": file_url(item.image_id),
        "width": item.width, "height": item.height,
    }
    if campaign.ordering == Campaign.Ordering.PREDICTED_GROUPS:
        # An opaque group number lets the grid band the groups without naming the prediction.
        payload["group"] = _group_number(item.predicted_label, campaign)
    if campaign.show_suggestions:
        payload["suggestion"] = item.predicted_label
    return payload


def _group_number(label: str | None, campaign: Campaign) -> int:
    names = campaign.label_names
    return names.index(label) if label in names else len(names)


class CampaignNextApi(APIView):
    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("n", int, description=f"page size, 1..{MAX_PAGE} (default 25); your live "
                                                           "leases count, and the whole is cut to lease_cap")],
        responses=inline_serializer("NextItems", {"campaign": serializers.IntegerField(),
                                                  "status": serializers.CharField(),
                                                  "lease_minutes": serializers.IntegerField(),
                                                  "lease_cap": serializers.IntegerField(
                                                      help_text="most live leases one annotator may hold here; "
                                                                "n above it is cut to it"),
                                                  "items": NextItemOutput(many=True)}),
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id, fields=LABELING_FIELDS)
        try:
            n = int(request.query_params.get("n", 25))
        except ValueError:
            return Response({"detail": "n must be an integer"}, status=status.HTTP_400_BAD_REQUEST)
        if not 1 <= n <= MAX_PAGE:
            return Response({"detail": f"n must lie in 1..{MAX_PAGE}"}, status=status.HTTP_400_BAD_REQUEST)
        cap = campaign_lease_cap(campaign=campaign)
        try:
            items = campaign_next_items(campaign=campaign, annotator=request.user, n=min(n, cap))
        except AnnotatorPausedError as error:
            return Response({"detail": str(error), "reason": "paused"}, status=status.HTTP_403_FORBIDDEN)
        return Response({
            "campaign": campaign.id, "status": campaign.status, "lease_minutes": campaign.lease_minutes,
            "lease_cap": cap, "items": [next_item_payload(item, campaign=campaign) for item in items],
        })


class AnnotationInput(serializers.Serializer):
    item = serializers.IntegerField()
    label = serializers.CharField()
    seconds = serializers.FloatField(required=False, default=0.0)


class CampaignAnnotationsApi(APIView):
    @extend_schema(
        request=AnnotationInput(many=True),
        responses={200: inline_serializer("AnnotationResult", {"created": serializers.IntegerField(),
                                                               "updated": serializers.IntegerField(),
                                                               "unchanged": serializers.IntegerField()})},
        description="A list of {item, label, seconds}, or {\"annotations\": [...]}. All or nothing.",
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id, fields=LABELING_FIELDS)
        entries = request.data.get("annotations") if isinstance(request.data, dict) else request.data
        if not isinstance(entries, list):
            return Response({"detail": "send a list of {item, label, seconds} or {\"annotations\": [...]}"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            result = annotations_submit(campaign=campaign, annotator=request.user, entries=entries)
        except CampaignClosedError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except AnnotationBatchError as error:
            return Response({"detail": f"nothing was saved: {error}", "errors": error.errors},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response(result)


class CampaignProgressApi(APIView):
    @extend_schema(responses=inline_serializer("CampaignProgress", {"campaign": serializers.IntegerField(),
                                                                    "me": serializers.DictField()}))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
        return Response(campaign_progress(campaign=campaign, user=request.user))
