"""Pages: indexes and near-duplicate removal, contamination reports (test image beside its pool
twins), and "find more like this" on a campaign's images (researcher role)."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from classifier.ml.neighbours import NeighbourInputError
from classifier.models import EmbeddingSet
from classifier.models.neighbours import VectorIndex
from classifier.selectors.neighbours import (
    contamination_matches,
    contamination_reports_for_user,
    dedup_runs_for_user,
    get_contamination_report_for_user,
    vector_indexes_for_user,
)
from classifier.services.neighbours import (
    campaign_create_from_neighbours,
    contamination_report_create,
    dedup_run_create,
    default_index_for,
    vector_index_create,
)
from domainsieve.auth import RESEARCHER, role_required
from domainsieve.jobs import JobStatus
from labeling.models import CampaignItem, Dataset, Image
from labeling.selectors.campaigns import get_campaign_for_user


def _int_or_none(value: Any) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _ready_indexes(request: HttpRequest) -> list[VectorIndex]:
    return list(vector_indexes_for_user(user=request.user).filter(status=JobStatus.SUCCEEDED)[:100])


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def neighbours_page(request: HttpRequest) -> HttpResponse:
    """Indexes (with the build form) and dedup runs (with the run form and counts per threshold)."""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "index":
                sets = list(EmbeddingSet.objects.filter(id__in=[i for i in request.POST.getlist("embedding_sets")
                                                                if i.isdigit()]))
                index = vector_index_create(name=request.POST.get("name", "").strip(), embedding_sets=sets,
                                            factory=request.POST.get("factory", "").strip(), created_by=request.user)
                messages.success(request, f"Index {index.id} queued over {index.total} embeddings.")
            else:
                index = VectorIndex.objects.filter(pk=_int_or_none(request.POST.get("index"))).first()
                if index is None:
                    raise NeighbourInputError("choose an index")
                thresholds = [t for t in request.POST.get("thresholds", "").replace(" ", "").split(",") if t]
                run = dedup_run_create(index=index, thresholds=thresholds, k=request.POST.get("k") or 16,
                                       created_by=request.user)
                messages.success(request, f"Dedup run {run.id} queued.")
            return redirect("classifier-neighbours")
        except NeighbourInputError as exc:
            messages.error(request, f"Not started: {exc}")
    indexes = list(vector_indexes_for_user(user=request.user)[:100])
    runs = list(dedup_runs_for_user(user=request.user)[:100])
    return render(request, "classifier/neighbours.html", {
        "indexes": indexes, "runs": runs, "ready": [i for i in indexes if i.status == JobStatus.SUCCEEDED],
        "embedding_sets": EmbeddingSet.objects.filter(status=JobStatus.SUCCEEDED).select_related("dataset")[:500],
        "refresh": any(x.is_active for x in [*indexes, *runs]),
    })


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def contamination_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            index = VectorIndex.objects.filter(pk=_int_or_none(request.POST.get("index"))).first()
            if index is None:
                raise NeighbourInputError("choose a pool index")
            testsets = list(Dataset.objects.filter(id__in=[i for i in request.POST.getlist("testsets") if i.isdigit()]))
            report = contamination_report_create(index=index, testsets=testsets,
                                                 threshold=request.POST.get("threshold", ""),
                                                 k=request.POST.get("k") or 5, created_by=request.user)
        except NeighbourInputError as exc:
            messages.error(request, f"Not started: {exc}")
        else:
            messages.success(request, f"Contamination report {report.id} queued.")
            return redirect("classifier-contamination", report_id=report.id)
    reports = list(contamination_reports_for_user(user=request.user)[:100])
    return render(request, "classifier/contamination_list.html", {
        "reports": reports, "indexes": _ready_indexes(request),
        "testsets": Dataset.objects.filter(kind=Dataset.Kind.TESTSET).order_by("name"),
        "refresh": any(r.is_active for r in reports),
    })


@role_required(RESEARCHER)
def contamination_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    """The summary per test set, then each test image with a twin beside its pool neighbours."""
    report = get_contamination_report_for_user(user=request.user, report_id=report_id)
    dataset_id = _int_or_none(request.GET.get("dataset"))
    matches = contamination_matches(report=report, dataset_id=dataset_id)
    test_ids = list(dict.fromkeys(matches.values_list("test_image_id", flat=True)))
    page = Paginator(test_ids, 25).get_page(request.GET.get("page"))
    grouped: dict[int, list[Any]] = {i: [] for i in page.object_list}
    for match in matches.filter(test_image_id__in=page.object_list):
        grouped[match.test_image_id].append(match)
    tests = {i.id: i for i in Image.objects.filter(id__in=page.object_list).select_related("dataset")}
    return render(request, "classifier/contamination_detail.html", {
        "report": report, "page": page, "dataset_id": dataset_id,
        "rows": [(tests[i], grouped[i]) for i in page.object_list if i in tests],
        "refresh": report.is_active,
    })


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def campaign_similar(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A campaign's images, each with "Find more like this"; chosen seeds make a new campaign."""
    campaign = get_campaign_for_user(user=request.user, campaign_id=campaign_id)
    if request.method == "POST":
        try:
            ids = [int(i) for i in request.POST.getlist("seeds") if i.isdigit()]
            seeds = list(Image.objects.filter(id__in=ids, campaign_items__campaign=campaign).distinct())
            if not seeds:
                raise NeighbourInputError("choose at least one seed image")
            index = VectorIndex.objects.filter(pk=_int_or_none(request.POST.get("index"))).first() or \
                default_index_for(image=seeds[0])
            if index is None:
                raise NeighbourInputError("no finished index fits these images; build one on the Neighbours page")
            new = campaign_create_from_neighbours(name=request.POST.get("name", "").strip(), seeds=seeds, index=index,
                                                  k=request.POST.get("k") or 10, user=request.user)
        except (NeighbourInputError, ValueError) as exc:
            messages.error(request, f"Not created: {exc}")
        else:
            messages.success(request, f"Campaign {new.name} created with {new.items.count()} items.")
            return redirect("campaign-detail", campaign_id=new.id)
    items = (CampaignItem.objects.filter(campaign=campaign).select_related("image")
             .order_by("-labels_count", "sort_key"))
    page = Paginator(items, 48).get_page(request.GET.get("page"))
    return render(request, "classifier/campaign_similar.html", {
        "campaign": campaign, "page": page, "indexes": _ready_indexes(request),
        "config": {"campaign": campaign.id, "k": 12},
    })
