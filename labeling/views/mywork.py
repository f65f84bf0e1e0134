"""Pages for an annotator's own work: "my labels" (filter, then reopen in the grid to correct)
and "my progress" (labels, pace, gold accuracy). Only the caller's rows, for every role."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from domainsieve.auth import ANNOTATOR, role_required
from labeling.domains import DOMAINS
from labeling.models import Annotation, Campaign
from labeling.selectors.mywork import MyLabelsFilterError, my_labels, my_labels_filters, my_progress

PER_PAGE = 60


@role_required(ANNOTATOR)
def my_labels_page(request: HttpRequest) -> HttpResponse:
    error = ""
    try:
        filters = my_labels_filters(user=request.user, params=request.GET)
    except MyLabelsFilterError as exc:
        error, filters = str(exc), {}
    annotations = my_labels(user=request.user, **filters)
    page = Paginator(annotations, PER_PAGE).get_page(request.GET.get("page"))
    labeled_in = Campaign.objects.filter(
        pk__in=Annotation.objects.filter(annotator=request.user).values("item__campaign_id")).order_by("-id")
    labels = sorted({name for c in labeled_in for name in c.label_names} or set(DOMAINS))
    review_query = "&".join(f"{k}={v}" for k, v in (("label", filters.get("label")), ("day", filters.get("day")))
                            if v)
    return render(request, "labeling/my_labels.html", {
        "page": page, "filters": filters, "error": error, "campaigns": labeled_in, "labels": labels,
        "review_query": review_query,
    })


@role_required(ANNOTATOR)
def my_progress_page(request: HttpRequest) -> HttpResponse:
    return render(request, "labeling/my_progress.html", {"progress": my_progress(user=request.user)})
