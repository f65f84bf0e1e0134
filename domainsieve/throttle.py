"""Login throttling glue for django-axes: who the client is, and what a locked-out client sees.

Axes counts failed logins per username and per client address in the database (shared by every
web process) and refuses further attempts during the cool-off once either reaches the limit. The
client address is REMOTE_ADDR unless ``TRUSTED_PROXY_COUNT`` reverse proxies sit in front: each
appends the address it saw to X-Forwarded-For, so the client is the entry the outermost trusted
proxy appended, and anything further left was written by the client and is ignored.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str:
    """The client's address as far as the configured proxies can vouch for it."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if count <= 0:
        return remote
    hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(hops) < count:
        return remote  # fewer hops than proxies: the header is not what our proxies wrote
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return f"Too many failed logins for this account or address. Try again in {minutes} minutes."


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """429 with Retry-After: JSON for the API, the login page with the reason for people."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": lockout_message()}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": lockout_message()}, status=429)
    response["Retry-After"] = retry_after
    return response
