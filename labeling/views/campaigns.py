"""Pages: campaign list, creation, progress, and the grid and single-image labeling pages."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from domainsieve.api_errors import INT32_MAX
from domainsieve.auth import ANNOTATOR, RESEARCHER, has_role, role_required
from domainsieve.ids import parse_id
from domainsieve.jobs import JobStatus
from labeling.guidelines import render_guidelines
from labeling.models import Campaign, Dataset
from labeling.selectors.campaigns import (
    campaign_item_counts,
    campaign_lease_cap,
    campaign_progress,
    campaigns_for_user,
    get_campaign_for_user,
    guideline_examples,
)
from labeling.selectors.mywork import MyLabelsFilterError, my_labels_filters, my_progress
from labeling.services.campaigns import (
    CampaignError,
    campaign_create,
    campaign_set_members,
    campaign_set_status,
    campaign_update_settings,
)

PAGE_SIZES = (9, 16, 25, 36, 49)


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    datasets = forms.ModelMultipleChoiceField(queryset=Dataset.objects.all(),
                                              widget=forms.CheckboxSelectMultiple)
    sample = forms.IntegerField(required=False, min_value=1, max_value=INT32_MAX,
                                help_text="leave empty to cover every image")
    seed = forms.IntegerField(initial=0, min_value=0, max_value=INT32_MAX)
    k = forms.IntegerField(initial=1, min_value=1, max_value=50, label="Labels per item (k)",
                           help_text="k labels per item: every item is labeled by k different annotators")
    agreement_fraction = forms.FloatField(initial=0.1, min_value=0, max_value=1,
                                          label="Agreement subset (fraction of items)",
                                          help_text="agreement subset: this fraction of the items gets m labels "
                                                    "instead of k, so agreement can be measured")
    agreement_k = forms.IntegerField(initial=3, min_value=1, max_value=50, label="Labels per agreement item (m)",
                                     help_text="m labels on each item of the agreement subset")
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
    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True, groups__name=ANNOTATOR).order_by("username"),
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text="who may label it; with no members and no groups, every annotator")
    member_groups = forms.ModelMultipleChoiceField(queryset=Group.objects.order_by("name"), required=False,
                                                   widget=forms.CheckboxSelectMultiple, label="Member groups")

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
    from classifier.models import ClassifierRun

    return list(ClassifierRun.objects.filter(status=JobStatus.SUCCEEDED).order_by("-finished_at", "-id")[:limit])


@role_required(ANNOTATOR)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Researchers and admins get the campaign's settings and progress; annotators their own view
    of it (what to do, their figures, links to label and to review their labels)."""
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    progress = campaign_progress(campaign=campaign, user=request.user)
    if not has_role(request.user, RESEARCHER):
        mine = next(iter(my_progress(user=request.user, campaign_id=campaign.id)["campaigns"]), None)
        return render(request, "labeling/campaign_annotator.html", {
            "campaign": campaign, "progress": progress, "mine": mine,
            "guidelines_html": render_guidelines(campaign.guidelines),
        })
    return render(request, "labeling/campaign_detail.html", {
        "campaign": campaign, "progress": progress, "datasets": campaign.datasets.all(),
        "members": campaign.members.order_by("username"), "member_groups": campaign.member_groups.order_by("name"),
        "runs": _finished_runs(), "orderings": Campaign.Ordering.choices,
        "measures": Campaign.UncertaintyMeasure.choices,
        "settings_form": CampaignSettingsForm(initial={
            "description": campaign.description, "guidelines": campaign.guidelines, "gold_rate": campaign.gold_rate,
            "lease_minutes": campaign.lease_minutes, "final_label_rule": campaign.final_label_rule}),
        "status_actions": [a for a, (_, allowed) in STATUS_ACTIONS.items() if campaign.status in allowed],
        "members_form": CampaignMembersForm(initial={"members": campaign.members.all(),
                                                     "member_groups": campaign.member_groups.all()}),
    })


class CampaignSettingsForm(forms.Form):
    """What can change after creation (``EDITABLE_SETTINGS``); items, labels, k and datasets stay."""

    description = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2}))
    guidelines = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), strip=False, help_text="markdown")
    gold_rate = forms.FloatField(min_value=0, max_value=0.99, label="Gold rate",
                                 help_text="share of each page drawn from gold items")
    lease_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, label="Lease minutes")
    final_label_rule = forms.ChoiceField(choices=Campaign.FinalLabelRule.choices, label="Final label rule")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("description", "guidelines"):  # browsers send textareas with CRLF line ends
            if isinstance(data.get(name), str):
                data[name] = data[name].replace("\r\n", "\n")
        return data


class CampaignMembersForm(forms.Form):
    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True, groups__name=ANNOTATOR).order_by("username"),
        required=False, widget=forms.CheckboxSelectMultiple, label="Members",
        help_text="who may label it; with no members and no groups, every annotator")
    member_groups = forms.ModelMultipleChoiceField(queryset=Group.objects.order_by("name"), required=False,
                                                   widget=forms.CheckboxSelectMultiple, label="Member groups")


STATUS_ACTIONS = {  # button -> (new status, allowed from)
    "pause": (Campaign.Status.PAUSED, {Campaign.Status.ACTIVE}),
    "finish": (Campaign.Status.FINISHED, {Campaign.Status.ACTIVE, Campaign.Status.PAUSED}),
    "reopen": (Campaign.Status.ACTIVE, {Campaign.Status.PAUSED, Campaign.Status.FINISHED, Campaign.Status.ARCHIVED}),
    "archive": (Campaign.Status.ARCHIVED, {Campaign.Status.FINISHED}),
}


@role_required(RESEARCHER)
@require_POST
def campaign_settings(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    form = CampaignSettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("campaign-detail", campaign_id=campaign.id)
    changes = {k: v for k, v in form.cleaned_data.items() if getattr(campaign, k) != v}
    try:
        campaign_update_settings(campaign=campaign, changes=changes)
    except CampaignError as error:
        messages.error(request, f"Not saved: {error}")
    else:
        messages.success(request, f"Saved: {', '.join(sorted(changes))}." if changes else "Nothing changed.")
    return redirect("campaign-detail", campaign_id=campaign.id)


@role_required(RESEARCHER)
@require_POST
def campaign_members(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    form = CampaignMembersForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("campaign-detail", campaign_id=campaign.id)
    try:
        campaign_set_members(campaign=campaign, members=form.cleaned_data["members"],
                             member_groups=form.cleaned_data["member_groups"])
    except CampaignError as error:
        messages.error(request, f"Not saved: {error}")
    else:
        who = len(form.cleaned_data["members"]) + len(form.cleaned_data["member_groups"])
        messages.success(request, "Members saved." if who else "Members saved: open to every annotator.")
    return redirect("campaign-detail", campaign_id=campaign.id)


@role_required(RESEARCHER)
@require_POST
def campaign_status(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    action = request.POST.get("action", "")
    if action not in STATUS_ACTIONS:
        messages.error(request, f"Unknown action {action[:40]!r}.")
    elif campaign.status not in STATUS_ACTIONS[action][1]:
        messages.error(request, f"A campaign that is {campaign.status} cannot {action}.")
    else:
        campaign_set_status(campaign=campaign, status=STATUS_ACTIONS[action][0])
        messages.success(request, f"The campaign is {campaign.status} now.")
    return redirect("campaign-detail", campaign_id=campaign.id)


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
            "leaseCap": campaign_lease_cap(campaign=campaign),
        },
    }


@role_required(ANNOTATOR)
def campaign_grid(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The grid; with ``?review=1`` (and optional ``label``, ``day``, ``offset``) it pages through
    the caller's own labels in this campaign instead, each page editable and saved at once."""
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    context = _labeling_context(request, campaign, "grid")
    if request.GET.get("review") == "1":
        try:
            filters = my_labels_filters(user=request.user, params=request.GET)
        except MyLabelsFilterError as error:
            return HttpResponseBadRequest(str(error))
        offset = request.GET.get("offset", "0")
        context["review"] = True
        context["config"]["review"] = {"label": filters.get("label", ""),
                                       "day": filters["day"].isoformat() if "day" in filters else "",
                                       "offset": parse_id(offset) or 0}
    return render(request, "labeling/grid.html", context)


@role_required(ANNOTATOR)
def campaign_single(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    return render(request, "labeling/single.html", _labeling_context(request, campaign, "single"))


urlpatterns = [
    path("campaigns/", campaign_list, name="campaign-list"),
    path("campaigns/new/", campaign_new, name="campaign-new"),
    path("campaigns/<int:campaign_id>/", campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/predictions/", campaign_predictions, name="campaign-predictions"),
    path("campaigns/<int:campaign_id>/settings/", campaign_settings, name="campaign-settings"),
    path("campaigns/<int:campaign_id>/status/", campaign_status, name="campaign-status"),
    path("campaigns/<int:campaign_id>/members/", campaign_members, name="campaign-members"),
    path("campaigns/<int:campaign_id>/grid/", campaign_grid, name="campaign-grid"),
    path("campaigns/<int:campaign_id>/single/", campaign_single, name="campaign-single"),
]
