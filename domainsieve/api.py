"""Project-wide API endpoints: token login and health."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from .accounts import token_expires_at, token_issue, token_revoke
from .auth import IsAdmin, user_role
from .celery import app as celery_app
from .throttle import lockout_message


class TokenLoginThrottle(AnonRateThrottle):
    rate = "30/min"


class TokenApi(APIView):
    """Trade a username and password for an API token (for scripts); DELETE revokes the caller's own.

    Failed logins count towards django-axes' lockout (per account and per client address); a locked
    client gets 429 even with the right password until the cool-off ends.
    """

    throttle_classes = [TokenLoginThrottle]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, style={"input_type": "password"}, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        role = serializers.CharField(allow_null=True)
        expires = serializers.DateTimeField(allow_null=True)

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        self._revoking = request.method == "DELETE"  # read by get_authenticators, called from here
        return super().initialize_request(request, *args, **kwargs)

    def get_authenticators(self) -> list[Any]:
        # Logging in needs no credentials (and must not trip over a stale session's CSRF check);
        # revoking needs the caller's session or token.
        return super().get_authenticators() if getattr(self, "_revoking", False) else []

    def get_permissions(self) -> list[Any]:
        return [IsAuthenticated()] if self.request.method == "DELETE" else [AllowAny()]

    def get_throttles(self) -> list[Any]:
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, 429: dict})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if getattr(request._request, "axes_locked_out", False):
            return Response({"detail": lockout_message()}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        if user is None:
            return Response({"detail": "Unable to log in with the given username and password."},
                            status=status.HTTP_400_BAD_REQUEST)
        token = token_issue(user=user)
        return Response({"token": token.key, "role": user_role(user), "expires": token_expires_at(token)})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserTokenApi(APIView):
    """Admins revoke any user's API token (the user's scripts get 401 from then on)."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={204: None, 404: dict})
    def delete(self, request: Request, username: str) -> Response:
        user = User.objects.filter(username=username).first()
        if user is None:
            return Response({"detail": f"no user {username!r}"}, status=status.HTTP_404_NOT_FOUND)
        token_revoke(user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
