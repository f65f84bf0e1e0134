"""Pages: campaign list, creation, progress, and the grid and single-image labeling pages."""
from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from domainsieve.auth import ANNOTATOR, RESEARCHER, role_required
from labeling.guidelines import render_guidelines
from labeling.models import Campaign, Dataset
from labeling.selectors.campaigns import (
    campaign_item_counts,
    campaign_progress,
    campaigns_for_user,
    get_campaign_for_user,
    guideline_examples,
)
from labeling.services.campaigns import CampaignError, campaign_create

PAGE_SIZES = (9, 16, 25, 36, 49)


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    datasets = forms.ModelMultipleChoiceField(queryset=Dataset.objects.all(),
                                              widget=forms.CheckboxSelectMultiple)
    sample = forms.IntegerField(required=False, min_value=1, help_text="leave empty to cover every image")
    seed = forms.IntegerField(initial=0)
    k = forms.IntegerField(initial=1, min_value=1, max_value=50, label="Labels per item (k)")
    agreement_fraction = forms.FloatField(initial=0.1, min_value=0, max_value=1,
                                          label="Agreement subset (fraction of items)")
    agreement_k = forms.IntegerField(initial=3, min_value=1, max_value=50, label="Labels per agreement item")
    ordering = forms.ChoiceField(choices=Campaign.Ordering.choices, initial=Campaign.Ordering.RANDOM)
    show_suggestions = forms.BooleanField(required=False, label="Show the classifier's suggestion")
    lease_minutes = forms.IntegerField(initial=10, min_value=1, max_value=24 * 60)
    guidelines = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), required=False,
                                 help_text="markdown; prefilled with the texture-centric rules")


@role_required(ANNOTATOR)
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = list(campaigns_for_user(user=request.user))
    rows = [{"campaign": c, "counts": campaign_item_counts(campaign=c)} for c in campaigns]
    return render(request, "labeling/campaign_list.html", {"rows": rows})


@role_required(RESEARCHER)
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, initial={"guidelines": Campaign().guidelines})
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(**form.cleaned_data, user=request.user)
        except CampaignError as error:
            form.add_error(None, str(error))
        else:
            return redirect("campaign-detail", campaign_id=campaign.id)
    return render(request, "labeling/campaign_new.html", {"form": form})


@role_required(RESEARCHER)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    progress = campaign_progress(campaign=campaign, user=request.user)
    return render(request, "labeling/campaign_detail.html", {
        "campaign": campaign, "progress": progress, "datasets": campaign.datasets.all(),
    })


def _labeling_context(request: HttpRequest, campaign: Campaign, mode: str) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "mode": mode,
        "guidelines_html": render_guidelines(campaign.guidelines),
        "examples": guideline_examples(campaign=campaign),
        "config": {
            "campaign": campaign.id, "name": campaign.name, "mode": mode, "labels": campaign.label_choices,
            "user": request.user.username, "pageSizes": PAGE_SIZES, "status": campaign.status,
        },
    }


@role_required(ANNOTATOR)
def campaign_grid(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    return render(request, "labeling/grid.html", _labeling_context(request, campaign, "grid"))


@role_required(ANNOTATOR)
def campaign_single(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    return render(request, "labeling/single.html", _labeling_context(request, campaign, "single"))


urlpatterns = [
    path("campaigns/", campaign_list, name="campaign-list"),
    path("campaigns/new/", campaign_new, name="campaign-new"),
    path("campaigns/<int:campaign_id>/", campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/grid/", campaign_grid, name="campaign-grid"),
    path("campaigns/<int:campaign_id>/single/", campaign_single, name="campaign-single"),
]
