"""API: annotator-aware consensus, likely label errors, relabel campaigns, pausing annotators, and an
annotator's own quality.

Consensus that cannot run on a campaign's labels answers 409 with ``detail`` (what to do) and
``reason`` ("needs_overlap": one annotator or no item labelled twice; "needs_classifier": no
classifier run can give out-of-fold probabilities), never a fallback to another rule.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domainsieve.api_errors import bad_request
from domainsieve.auth import IsAdmin, IsAnnotator, IsResearcher
from domainsieve.ids import parse_id
from labeling.agreement.consensus import METHODS, ConsensusInputError
from labeling.agreement.final import CONSENSUS_RULES
from labeling.selectors.campaigns import get_campaign_for_user
from labeling.selectors.consensus import (
    annotator_own_quality,
    campaign_consensus_report,
    campaign_label_issues,
    relabel_history,
)
from labeling.selectors.quality import get_campaign_for_researcher
from labeling.services.consensus import annotator_pause, annotator_unpause, relabel_campaign_create
from labeling.services.quality import QualityError


def _conflict(error: ConsensusInputError) -> Response:
    return Response({"detail": str(error), "reason": error.reason}, status=status.HTTP_409_CONFLICT)



class ConsensusApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("method", str, enum=list(METHODS),
                                                description="default: the campaign's rule if annotator-aware, "
                                                            "else dawid-skene"),
                               OpenApiParameter("limit", int, description="items listed, 0..1000 (default 50), "
                                                                          "least trustworthy consensus first"),
                               OpenApiParameter("offset", int)],
                   responses={200: inline_serializer("Consensus", {"method": serializers.CharField(),
                                                                   "annotators": serializers.ListField()}),
                              409: inline_serializer("ConsensusRefused", {"detail": serializers.CharField(),
                                                                          "reason": serializers.CharField()})})
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        default = campaign.final_label_rule if campaign.final_label_rule in CONSENSUS_RULES else "dawid-skene"
        method = request.query_params.get("method", default)
        if method not in METHODS:
            return bad_request(f"method must be one of {', '.join(METHODS)}")
        limit, offset = request.query_params.get("limit", "50"), request.query_params.get("offset", "0")
        limit_n, offset_n = parse_id(limit), parse_id(offset)
        if limit_n is None or offset_n is None or limit_n > 1000:
            return bad_request("limit (0..1000) and offset must be whole numbers")
        try:
            return Response(campaign_consensus_report(campaign=campaign, method=method, limit=limit_n,
                                                      offset=offset_n))
        except ConsensusInputError as error:
            return _conflict(error)


class LabelIssuesApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="1..1000 (default 50)")],
                   responses=inline_serializer("LabelIssues", {"count": serializers.IntegerField(),
                                                               "results": serializers.ListField()}))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        raw = request.query_params.get("limit", "50")
        limit_n = parse_id(raw)
        if limit_n is None or not 1 <= limit_n <= 1000:
            return bad_request("limit must be a whole number in 1..1000")
        try:
            return Response(campaign_label_issues(campaign=campaign, limit=limit_n))
        except ConsensusInputError as error:
            return _conflict(error)


class RelabelInput(serializers.Serializer):
    n = serializers.IntegerField(min_value=1, max_value=5000)
    k = serializers.IntegerField(min_value=1, max_value=50)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class RelabelApi(APIView):
    """GET: relabel campaigns made from this one and what their fresh labels changed. POST (admins):
    a campaign of the top ``n`` likely label errors for ``k`` fresh annotators."""

    def get_permissions(self) -> list:
        return [IsAdmin()] if self.request.method == "POST" else [IsResearcher()]

    @extend_schema(responses=inline_serializer("RelabelHistory", {"results": serializers.ListField()}))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        return Response({"results": relabel_history(campaign=campaign)})

    @extend_schema(request=RelabelInput, responses={201: inline_serializer(
        "Relabel", {"campaign": serializers.IntegerField(), "items": serializers.IntegerField()})})
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        data = RelabelInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            made = relabel_campaign_create(source=campaign, created_by=request.user, **data.validated_data)
        except QualityError as error:
            return bad_request(str(error))
        return Response({"id": made.id, "campaign": made.target_id, "name": made.target.name, "k": made.k,
                         "items": len(made.items),
                         "excluded": made.target.annotator_pauses.count()}, status=status.HTTP_201_CREATED)


class PauseInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AnnotatorPauseApi(APIView):
    """POST: pause an annotator whose estimated accuracy is under the campaign's floor; DELETE: lift it."""

    permission_classes = [IsAdmin]

    @extend_schema(request=PauseInput, responses={201: inline_serializer("Pause", {"reason": serializers.CharField()})})
    def post(self, request: Request, campaign_id: int, user_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        annotator = get_object_or_404(get_user_model(), pk=user_id)
        data = PauseInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            pause = annotator_pause(campaign=campaign, annotator_id=annotator.pk, paused_by=request.user,
                                    reason=data.validated_data["reason"])
        except QualityError as error:
            return bad_request(str(error))
        return Response({"annotator": annotator.get_username(), "kind": pause.kind, "reason": pause.reason},
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, campaign_id: int, user_id: int) -> Response:
        campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
        if not annotator_unpause(campaign=campaign, annotator_id=user_id):
            return Response({"detail": "this annotator is not paused here"}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnQualityApi(APIView):
    """The caller's own gold accuracy and pace in a campaign they may label; nobody else's."""

    permission_classes = [IsAnnotator]

    @extend_schema(responses=inline_serializer("OwnQuality", {"gold": serializers.DictField(),
                                                              "pace": serializers.DictField()}))
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
        return Response(annotator_own_quality(campaign=campaign, annotator=request.user))
