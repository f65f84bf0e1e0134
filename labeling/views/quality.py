"""Pages: agreement (researchers), adjudication (admins), snapshots and splits."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from domainsieve.auth import ADMIN, RESEARCHER, has_role, role_required
from domainsieve.ids import parse_id
from labeling.agreement.consensus import ConsensusInputError
from labeling.agreement.final import CONSENSUS_RULES
from labeling.models import Campaign, CampaignItem, Split
from labeling.selectors.consensus import campaign_charts, campaign_consensus_report
from labeling.selectors.quality import (
    adjudication_history,
    campaign_agreement,
    campaign_label_table,
    campaign_quality,
    disagreement_queue,
    get_campaign_for_researcher,
    get_snapshot,
)
from labeling.services.quality import QualityError, adjudication_record, snapshot_create, split_create


def _matrix_rows(classes: list[str], matrix: list[list[int]]) -> list[dict[str, Any]]:
    return [{"name": name, "cells": row} for name, row in zip(classes, matrix, strict=True)]


@role_required(RESEARCHER)
def agreement_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
    table = campaign_label_table(campaign=campaign)
    report = campaign_agreement(campaign=campaign, n_boot=1000, table=table)
    classes = report["classes"]
    for entry in report["annotators"]:
        entry["majority_rows"] = _matrix_rows(classes, entry["vs_majority"]["confusion"])
    method = campaign.final_label_rule if campaign.final_label_rule in CONSENSUS_RULES else "dawid-skene"
    consensus, consensus_error = None, ""
    try:
        consensus = campaign_consensus_report(campaign=campaign, method=method, table=table)
    except ConsensusInputError as error:
        consensus_error = str(error)
    charts = campaign_charts(campaign=campaign, table=table)
    return render(request, "labeling/agreement.html", {
        "campaign": campaign, "report": report, "settings": campaign_quality(campaign=campaign),
        "overall_rows": _matrix_rows(classes, report["confusion_vs_majority"]),
        "coincidence_rows": _matrix_rows(classes, [[round(x, 2) for x in row]
                                                   for row in report["krippendorff_alpha"]["coincidence"]]),
        "flagged": [g for g in report["gold"]["annotators"] if g["flagged"]],
        "consensus": consensus, "consensus_error": consensus_error, "rules": Campaign.FinalLabelRule.choices,
        "charts": charts, "chart_list": [(name, charts[name]) for name in ("confusion", "accuracy", "over_time")],
        "pr_chart": charts["pr"],
    })


QUICK_REASONS = ("majority is right", "texture survives (natural)", "texture lost (rendition)",
                 "collage or mostly text (ambiguous)", "guideline edge case", "annotator error")


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def adjudicate_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Review by keyboard: the most contested item large, who said what and what the latest
    classifier predicts; a label key and Enter decide and move on to the next one."""
    campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
    if request.method == "POST":
        item = get_object_or_404(CampaignItem, pk=request.POST.get("item") or 0, campaign=campaign)
        try:
            adjudication_record(item=item, label=request.POST.get("label", ""), reason=request.POST.get("reason", ""),
                                decided_by=request.user, make_gold=request.POST.get("make_gold") == "on")
            messages.success(request, f"Item {item.id}: final label {request.POST.get('label')} recorded.")
        except QualityError as error:
            messages.error(request, str(error))
            return redirect(f"{request.path}?item={item.id}")
        return redirect(request.path)
    try:
        queue = disagreement_queue(campaign=campaign, limit=200)
    except ConsensusInputError as error:
        messages.error(request, f"No disagreement queue under the {campaign.final_label_rule} rule: {error}")
        return redirect("campaign-agreement", campaign_id=campaign.id)
    genuine = [entry for entry in queue["results"] if entry["kind"] == "disagreement"]
    ambiguous = [entry for entry in queue["results"] if entry["kind"] != "disagreement"]
    current = None
    if (chosen := parse_id(request.GET.get("item", ""))) is not None:
        current = next((entry for entry in queue["results"] if entry["item"] == chosen), None)
    if current is None and (genuine or ambiguous):
        current = (genuine or ambiguous)[0]
    history = []
    if current is not None:
        history = adjudication_history(item=CampaignItem.objects.get(pk=current["item"]))
    return render(request, "labeling/adjudicate.html", {
        "campaign": campaign, "queue": queue, "current": current, "history": history,
        "genuine": genuine, "ambiguous": ambiguous, "label_choices": campaign.label_choices,
        "quick_reasons": QUICK_REASONS,
    })


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def snapshots_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_campaign_for_researcher(user=request.user, campaign_id=campaign_id)
    if request.method == "POST":
        if not has_role(request.user, ADMIN):
            messages.error(request, "Only admins freeze snapshots.")
            return redirect(request.path)
        try:
            snapshot = snapshot_create(campaign=campaign, name=request.POST.get("name", ""),
                                       description=request.POST.get("description", ""), created_by=request.user)
            messages.success(request, f"Snapshot {snapshot.name} frozen: {snapshot.n_labelled} labels.")
        except QualityError as error:
            messages.error(request, str(error))
        return redirect(request.path)
    return render(request, "labeling/snapshots.html", {
        "campaign": campaign, "snapshots": campaign.snapshots.order_by("-id").prefetch_related("splits"),
    })


def _ratios(raw: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in raw.replace(",", " ").split())
    except ValueError:
        raise QualityError("ratios are three numbers, e.g. 0.8 0.1 0.1") from None
    if len(parts) != 3:
        raise QualityError("ratios are three numbers, e.g. 0.8 0.1 0.1")
    return parts  # type: ignore[return-value]


def _optional_int(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    if (number := parse_id(raw)) is None:
        raise QualityError(f"{raw!r} is not a whole number")
    return number


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def splits_page(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    snapshot = get_snapshot(ref=snapshot_id)
    if request.method == "POST":
        if not has_role(request.user, ADMIN):
            messages.error(request, "Only admins make splits.")
            return redirect(request.path)
        try:
            preset = request.POST.get("preset", "paper")
            options: dict[str, Any] = {}
            if preset == Split.Preset.RATIO:
                options["ratios"] = _ratios(request.POST.get("ratios", ""))
            else:
                options = {k: _optional_int(request.POST.get(k)) for k in ("train", "val_per_class", "test_per_class")}
            split = split_create(snapshot=snapshot, name=request.POST.get("name", ""), preset=preset,
                                 seed=_optional_int(request.POST.get("seed")) or 0, created_by=request.user, **options)
            messages.success(request, f"Split {split} frozen.")
        except QualityError as error:
            messages.error(request, str(error))
        return redirect(request.path)
    splits = list(snapshot.splits.order_by("name", "-version"))
    for split in splits:
        split.param_rows = [(key.replace("_", " "), _param_text(value)) for key, value in sorted((split.params or {}).items())]
        split.rows = [{"subset": subset, "cells": [per_class.get(n, 0) for n in snapshot.class_names],
                       "total": sum(per_class.values())} for subset, per_class in split.counts.items()]
    return render(request, "labeling/splits.html", {"snapshot": snapshot, "splits": splits,
                                                    "campaign": snapshot.campaign})


def _param_text(value: Any) -> str:
    """A split parameter for reading: lists as "0.8 / 0.1 / 0.1", None as "default"."""
    if value is None:
        return "default"
    if isinstance(value, (list, tuple)):
        return " / ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)
