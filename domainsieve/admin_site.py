"""Django admin, open to the admin role only (not to every staff user)."""
from __future__ import annotations

from django.contrib.admin import AdminSite
from django.http import HttpRequest

from .auth import ADMIN, has_role


class DomainSieveAdminSite(AdminSite):
    site_header = "DomainSieve administration"
    site_title = "DomainSieve admin"

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff and has_role(request.user, ADMIN))
