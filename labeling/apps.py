from __future__ import annotations

from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self) -> None:
        from domainsieve import accounts

        from .models import Campaign

        accounts.campaign_names = lambda: set(Campaign.objects.values_list("name", flat=True))
