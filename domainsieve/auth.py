"""Roles and the access checks every page and endpoint goes through.

Three roles, each a Django group, ordered: annotator < researcher < admin. A role check passes
for that role or any higher one, so an admin may do what a researcher may. Superusers count as
admins. A user in no group has no role and is refused everywhere but the login page.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Max, Value, When
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

ANNOTATOR = "annotator"
RESEARCHER = "researcher"
ADMIN = "admin"
ROLES = (ANNOTATOR, RESEARCHER, ADMIN)
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def user_role(user: Any) -> str | None:
    """The highest role the user holds, or None. Cached on the user object per request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, "_domainsieve_role", False)
    if cached is not False:
        return cached
    if user.is_superuser:
        role: str | None = ADMIN
    else:
        names = set(user.groups.values_list("name", flat=True))
        held = [r for r in ROLES if r in names]
        role = held[-1] if held else None
    user._domainsieve_role = role
    return role


def has_role(user: Any, role: str) -> bool:
    held = user_role(user)
    return held is not None and _RANK[held] >= _RANK[role]


def role_required(role: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Page decorator: 403 unless the logged-in user holds ``role`` or higher."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, role):
                raise PermissionDenied(f"This page needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, with the user's role read in the same query (a scripted
    client pays one query for who it is and what it may do, not two). Tokens older than
    ``TOKEN_TTL_DAYS`` (when set) are refused."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        rank = Max(Case(*(When(user__groups__name=role, then=Value(i)) for i, role in enumerate(ROLES)),
                        default=Value(-1), output_field=IntegerField()))
        try:
            token = self.get_model().objects.select_related("user").annotate(role_rank=rank).get(key=key)
        except self.get_model().DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        ttl_days = int(getattr(settings, "TOKEN_TTL_DAYS", 0) or 0)
        if ttl_days > 0 and token.created + timedelta(days=ttl_days) <= timezone.now():
            raise exceptions.AuthenticationFailed("Token expired; log in again for a new one.")
        user._domainsieve_role = ADMIN if user.is_superuser else (ROLES[token.role_rank] if token.role_rank >= 0 else None)
        return user, token


class _RolePermission(BasePermission):
    role = ANNOTATOR

    def has_permission(self, request: Any, view: Any) -> bool:
        if not has_role(request.user, self.role):
            self.message = (
                "Authentication credentials were not provided."
                if not request.user.is_authenticated
                else f"This endpoint needs the {self.role} role."
            )
            return False
        return True


class IsAnnotator(_RolePermission):
    role = ANNOTATOR


class IsResearcher(_RolePermission):
    role = RESEARCHER


class IsAdmin(_RolePermission):
    role = ADMIN


class PagesLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's login-required middleware for pages; the API answers 401/403 itself.

    API views use token as well as session auth, which only DRF resolves, so DRF's default
    permission class (IsAnnotator) guards them instead of a redirect to the login page.
    """

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        if request.path.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = user_role(user)
    return {
        "role": role,
        "is_researcher": role in (RESEARCHER, ADMIN),
        "is_admin": role == ADMIN,
    }
