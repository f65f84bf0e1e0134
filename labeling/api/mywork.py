"""API: the caller's own labels and progress (any role; only the caller's rows)."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domainsieve.api_errors import bad_request
from domainsieve.auth import IsAnnotator
from domainsieve.ids import parse_id
from labeling.selectors.mywork import (
    MyLabelsFilterError,
    my_label_row,
    my_labels,
    my_labels_filters,
    my_progress,
)

MAX_LIMIT = 200


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    value = parse_id(raw)
    if value is None or not low <= value <= high:
        raise MyLabelsFilterError(f"{name} must be a whole number in {low}..{high}")
    return value


class MyAnnotationsApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(
        parameters=[OpenApiParameter("campaign", int), OpenApiParameter("label", str),
                    OpenApiParameter("day", str, description="YYYY-MM-DD"),
                    OpenApiParameter("limit", int, description=f"1..{MAX_LIMIT} (default 50)"),
                    OpenApiParameter("offset", int)],
        responses=inline_serializer("MyAnnotations", {"count": serializers.IntegerField(),
                                                      "results": serializers.ListField(child=serializers.DictField())}),
        description="The caller's own labels, oldest first, filtered by campaign, label and day.",
    )
    def get(self, request: Request) -> Response:
        try:
            filters = my_labels_filters(user=request.user, params=request.query_params)
            limit = _int_param(request, "limit", 50, 1, MAX_LIMIT)
            offset = _int_param(request, "offset", 0, 0, 10**9)
        except MyLabelsFilterError as error:
            return bad_request(error)
        queryset = my_labels(user=request.user, **filters)
        rows = [my_label_row(a) for a in queryset[offset: offset + limit]]
        return Response({"count": queryset.count(), "offset": offset, "limit": limit, "results": rows})


class MyProgressApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses=inline_serializer("MyProgress", {"labels": serializers.IntegerField(),
                                                              "campaigns": serializers.ListField(),
                                                              "per_day": serializers.ListField()}))
    def get(self, request: Request) -> Response:
        return Response(my_progress(user=request.user))
