from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class DomainSieveConfig(AppConfig):
    name = "domainsieve"
    verbose_name = "DomainSieve"


class DomainSieveAdminConfig(AdminConfig):
    default_site = "domainsieve.admin_site.DomainSieveAdminSite"
