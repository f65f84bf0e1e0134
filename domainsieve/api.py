"""Project-wide API endpoints: token login and health."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from .auth import user_role
from .celery import app as celery_app


class TokenLoginThrottle(AnonRateThrottle):
    rate = "30/min"


class TokenApi(APIView):
    """Trade a username and password for an API token (for scripts)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenLoginThrottle]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        role = serializers.CharField(allow_null=True)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            return Response({"detail": "Unable to log in with the given username and password."},
                            status=status.HTTP_400_BAD_REQUEST)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "role": user_role(user)})


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - health reports any failure as data
        return {"ok": False, "error": str(exc)}


def check_broker() -> dict[str, Any]:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return {"ok": True, "transport": conn.transport_cls}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)}


def check_workers(timeout: float = 1.0) -> dict[str, Any]:
    try:
        replies = celery_app.control.ping(timeout=timeout) or []
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "count": 0, "workers": [], "error": str(exc)}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "count": len(names), "workers": names}


class HealthApi(APIView):
    """Database, broker and worker state. 200 when all are up, 503 otherwise."""

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request: Request) -> Response:
        report = {"database": check_database(), "broker": check_broker()}
        report["workers"] = check_workers() if report["broker"]["ok"] else {
            "ok": False, "count": 0, "workers": [], "error": "broker unreachable"}
        report["ok"] = all(part["ok"] for part in report.values() if isinstance(part, dict))
        return Response(report, status=200 if report["ok"] else 503)
