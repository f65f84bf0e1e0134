"""Pages: campaign list, creation, progress, and the grid and single-image labeling pages."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from domainsieve.api_errors import INT32_MAX
from domainsieve.auth import ANNOTATOR, RESEARCHER, role_required
from domainsieve.ids import parse_id
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
    sample = forms.IntegerField(required=False, min_value=1, max_value=INT32_MAX,
                                help_text="leave empty to cover every image")
    seed = forms.IntegerField(initial=0, min_value=0, max_value=INT32_MAX)
    k = forms.IntegerField(initial=1, min_value=1, max_value=50, label="Labels per item (k)")
    agreement_fraction = forms.FloatField(initial=0.1, min_value=0, max_value=1,
                                          label="Agreement subset (fraction of items)")
    agreement_k = forms.IntegerField(initial=3, min_value=1, max_value=50, label="Labels per agreement item")
    ordering = forms.ChoiceField(choices=Campaign.Ordering.choices, initial=Campaign.Ordering.RANDOM)
    show_suggestions = forms.BooleanField(required=False, label="Show the classifier's suggestion")
    # Optional, so that forms posted without them keep working: empty means the default.
    uncertainty_measure = forms.ChoiceField(choices=Campaign.UncertaintyMeasure.choices, required=False,
                                            initial=Campaign.UncertaintyMeasure.MARGIN)
    prediction_source = forms.ChoiceField(choices=Campaign.PredictionSource.choices, required=False,
                                          initial=Campaign.PredictionSource.NONE, label="Order by predictions of")
    lease_minutes = forms.IntegerField(initial=10, min_value=1, max_value=24 * 60)
    guidelines = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), required=False,
                                 help_text="markdown; prefilled with the texture-centric rules")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["uncertainty_measure"] = data.get("uncertainty_measure") or Campaign.UncertaintyMeasure.MARGIN
        data["prediction_source"] = data.get("prediction_source") or Campaign.PredictionSource.NONE
        return data


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
            _start_following(campaign)
            return redirect("campaign-detail", campaign_id=campaign.id)
    return render(request, "labeling/campaign_new.html", {"form": form})


def _start_following(campaign: Campaign) -> None:
    """A new campaign that follows the latest run gets that run's predictions at once (queued)."""
    if campaign.prediction_source == Campaign.PredictionSource.LATEST_RUN:
        from classifier.services import campaign_predictions_configure

        campaign_predictions_configure(campaign=campaign, ordering=campaign.ordering,
                                       uncertainty_measure=campaign.uncertainty_measure,
                                       show_suggestions=campaign.show_suggestions)


def _finished_runs(limit: int = 50) -> list[Any]:
    # Imported here: classifier depends on labeling, never the reverse at import time.
    from classifier.models import ClassifierRun, JobStatus

    return list(ClassifierRun.objects.filter(status=JobStatus.SUCCEEDED).order_by("-finished_at", "-id")[:limit])


@role_required(RESEARCHER)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    progress = campaign_progress(campaign=campaign, user=request.user)
    return render(request, "labeling/campaign_detail.html", {
        "campaign": campaign, "progress": progress, "datasets": campaign.datasets.all(),
        "runs": _finished_runs(), "orderings": Campaign.Ordering.choices,
        "measures": Campaign.UncertaintyMeasure.choices,
    })


@role_required(RESEARCHER)
@require_POST
def campaign_predictions(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The "Order by predictions" form: ordering, uncertainty measure, suggestions, and the source
    (``source``: "keep", "latest" to follow the newest finished run, "none" to stop, or a run id)."""
    from classifier.services import ClassifierInputError, campaign_predictions_configure

    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    source = request.POST.get("source", "keep").strip()
    kwargs: dict[str, Any] = {"prediction_source": None, "run_id": None}
    if source == "latest":
        kwargs["prediction_source"] = Campaign.PredictionSource.LATEST_RUN
    elif source == "none":
        kwargs["prediction_source"] = Campaign.PredictionSource.NONE
    elif parse_id(source) is not None:
        kwargs["run_id"] = parse_id(source)
    elif source != "keep":
        messages.error(request, f"Not saved: unknown prediction source {source!r}")
        return redirect("campaign-detail", campaign_id=campaign.id)
    try:
        run = campaign_predictions_configure(
            campaign=campaign, ordering=request.POST.get("ordering", campaign.ordering),
            uncertainty_measure=request.POST.get("uncertainty_measure", campaign.uncertainty_measure),
            show_suggestions=request.POST.get("show_suggestions") == "on", **kwargs)
    except ClassifierInputError as error:
        messages.error(request, f"Not saved: {error}")
    else:
        messages.success(request, "Saved." + (f" Predictions of run {run.id} are being computed; the next pages "
                                              "leased follow them." if run is not None else ""))
    return redirect("campaign-detail", campaign_id=campaign.id)


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
    path("campaigns/<int:campaign_id>/predictions/", campaign_predictions, name="campaign-predictions"),
    path("campaigns/<int:campaign_id>/grid/", campaign_grid, name="campaign-grid"),
    path("campaigns/<int:campaign_id>/single/", campaign_single, name="campaign-single"),
]
