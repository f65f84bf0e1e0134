from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class DomainSieveConfig(AppConfig):
    name = "domainsieve"
    verbose_name = "DomainSieve"

    def ready(self) -> None:
        # The Celery app, made current here so tasks queued from any Django process use its broker.
        from domainsieve import celery  # noqa: F401


class DomainSieveAdminConfig(AdminConfig):
    default_site = "domainsieve.admin_site.DomainSieveAdminSite"
