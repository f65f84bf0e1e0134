"""Pages: consensus settings and annotator pauses (admins), chart CSVs, likely label errors with
"relabel these", and an annotator's own quality page."""
from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from domainsieve.auth import ADMIN, ANNOTATOR, RESEARCHER, has_role, role_required
from domainsieve.ids import parse_id
from labeling.agreement.consensus import ConsensusInputError
from labeling.models import Campaign
from labeling.selectors.campaigns import get_campaign_for_user
from labeling.selectors.consensus import (
    annotator_own_quality,
    campaign_charts,
    campaign_label_issues,
    relabel_history,
)
from labeling.selectors.quality import get_campaign_for_researcher
from labeling.services.campaigns import CampaignError, campaign_update_settings
from labeling.services.consensus import annotator_pause, annotator_unpause, relabel_campaign_create
from labeling.services.quality import QualityError, campaign_quality_update

CHART_NAMES = ("confusion", "accuracy", "over_time", "pr")


@role_required(ADMIN)
@require_POST
def consensus_settings(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The final label rule and the accuracy floor, from the agreement page."""
    campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
    try:
        rule = request.POST.get("final_label_rule", campaign.final_label_rule)
        if rule not in Campaign.FinalLabelRule.values:
            raise CampaignError(f"unknown final label rule {rule!r}")
        campaign_update_settings(campaign=campaign, changes={"final_label_rule": rule})
        raw = request.POST.get("accuracy_floor", "").strip()
        if raw:
            try:
                floor = float(raw)
            except ValueError:
                raise QualityError("the accuracy floor is a number in [0, 1]") from None
            campaign_quality_update(campaign=campaign, accuracy_floor=floor)
        messages.success(request, f"Final label rule: {campaign.get_final_label_rule_display()}.")
    except (CampaignError, QualityError) as error:
        messages.error(request, str(error))
    return redirect("campaign-agreement", campaign_id=campaign.id)


@role_required(ADMIN)
@require_POST
def annotator_pause_view(request: HttpRequest, campaign_id: int, user_id: int) -> HttpResponse:
    campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
    if request.POST.get("action") == "unpause":
        if annotator_unpause(campaign=campaign, annotator_id=user_id):
            messages.success(request, "Pause lifted: the annotator gets items again.")
        else:
            messages.error(request, "That annotator was not paused.")
    else:
        try:
            pause = annotator_pause(campaign=campaign, annotator_id=user_id, paused_by=request.user,
                                    reason=request.POST.get("reason", ""))
            messages.success(request, f"Paused: {pause.reason}")
        except QualityError as error:
            messages.error(request, str(error))
    return redirect("campaign-agreement", campaign_id=campaign.id)


@role_required(RESEARCHER)
@require_GET
def chart_csv(request: HttpRequest, campaign_id: int, name: str) -> HttpResponse:
    """One agreement-page chart's rows as CSV (the numbers the picture draws)."""
    if name not in CHART_NAMES:
        raise Http404("No such chart.")
    campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
    chart = campaign_charts(campaign=campaign)[name]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(chart["columns"])
    writer.writerows(["" if v is None else v for v in row] for row in chart["rows"])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign{campaign.id}-{name}.csv"'
    return response


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def label_issues_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Likely label errors (cleanlab on out-of-fold probabilities), "relabel these" for admins, and
    the history of relabel campaigns."""
    campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
    if request.method == "POST":
        if not has_role(request.user, ADMIN):
            messages.error(request, "Only admins start relabel campaigns.")
            return redirect(request.path)
        try:
            made = relabel_campaign_create(source=campaign, n=_whole(request.POST.get("n"), "n"),
                                           k=_whole(request.POST.get("k"), "k"), created_by=request.user,
                                           name=request.POST.get("name", ""))
        except QualityError as error:
            messages.error(request, str(error))
            return redirect(request.path)
        messages.success(request, f"Campaign {made.target.name} made: {len(made.items)} items, {made.k} fresh "
                                  f"labels each; {made.target.annotator_pauses.count()} earlier annotators excluded.")
        return redirect("campaign-detail", campaign_id=made.target_id)
    issues, problem = None, ""
    try:
        issues = campaign_label_issues(campaign=campaign, limit=_whole(request.GET.get("limit") or "50", "limit"))
    except (ConsensusInputError, QualityError) as error:
        problem = str(error)
    return render(request, "labeling/label_issues.html", {
        "campaign": campaign, "issues": issues, "problem": problem, "history": relabel_history(campaign=campaign),
    })


def _whole(raw: str | None, name: str) -> int:
    value = parse_id(raw) if raw is not None else None
    if value is None:
        raise QualityError(f"{name} must be a whole number")
    return value


@role_required(ANNOTATOR)
def own_quality_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    return render(request, "labeling/own_quality.html", {
        "campaign": campaign, "me": annotator_own_quality(campaign=campaign, annotator=request.user)})
