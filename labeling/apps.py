from __future__ import annotations

from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self) -> None:
        from domainsieve import accounts

        from .models import Campaign

        accounts.campaign_names = lambda: set(Campaign.objects.values_list("name", flat=True))
        accounts.campaign_members_add = _add_to_campaigns


def _add_to_campaigns(user: object, names: list[str]) -> None:
    """create_users' campaigns column: the new user becomes a member of each named campaign (a
    campaign with members is labeled by them only; see campaign_set_members)."""
    from .models import Campaign

    for campaign in Campaign.objects.filter(name__in=names):
        campaign.members.add(user)
