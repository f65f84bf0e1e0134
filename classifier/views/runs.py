"""Pages: classifier runs (list + retrain form), one run's report, and a comparison of runs."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from classifier.ml.finetune_presets import DEFAULT_FT_PRESET, FT_PRESET_NOTES
from classifier.ml.methods import ALL_METHODS, IMAGE_METHODS, RENAME_NOTE
from classifier.selectors.runs import classifier_runs_for_user, get_classifier_run_for_user
from classifier.services.runs import ClassifierInputError, classifier_run_create
from classifier.views.calibration import compare_context, run_report_context
from domainsieve.auth import RESEARCHER, role_required
from domainsieve.ids import parse_id
from labeling.domains import DOMAINS
from labeling.models import Dataset, Split

DEFAULT_EXTRACTOR = "timm:efficientnet_lite0/pypi"


def _ft_hyperparameters(request: HttpRequest) -> dict[str, str]:
    """FT preset and training transform from the form; only FT-family methods use them."""
    method = request.POST.get("method", "")
    if method not in IMAGE_METHODS:
        return {}
    return {"preset": request.POST.get("ft_preset") or DEFAULT_FT_PRESET,
            "train_transform": request.POST.get("train_transform") or "train"}


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest) -> HttpResponse:
    """Runs with live status, and the Retrain form (creates a run queued on the gpu queue)."""
    if request.method == "POST":
        try:
            run = classifier_run_create(
                created_by=request.user, method=request.POST.get("method", ""),
                extractor=request.POST.get("extractor", "").strip() or DEFAULT_EXTRACTOR,
                labels_source=request.POST.get("labels_source", ""),
                datasets=list(Dataset.objects.filter(id__in=request.POST.getlist("datasets"))),
                split=Split.objects.filter(id=request.POST.get("split") or None).first(),
                classes=request.POST.getlist("classes") or None, name=request.POST.get("name", ""),
                target_precision=float(request.POST.get("target_precision") or 0.98),
                hyperparameters=_ft_hyperparameters(request))
        except (ClassifierInputError, ValueError) as exc:
            messages.error(request, f"Not started: {exc}")
        else:
            messages.success(request, f"Run {run.id} queued.")
            return redirect("classifier-run", run_id=run.id)
    return render(request, "classifier/runs.html", {
        "runs": classifier_runs_for_user(user=request.user)[:200], "methods": ALL_METHODS, "rename_note": RENAME_NOTE, "classes": DOMAINS,
        "ft_presets": FT_PRESET_NOTES, "default_ft_preset": DEFAULT_FT_PRESET,
        "datasets": Dataset.objects.all(), "splits": Split.objects.select_related("snapshot")[:200],
        "default_extractor": DEFAULT_EXTRACTOR,
    })


@role_required(RESEARCHER)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_classifier_run_for_user(user=request.user, run_id=run_id)
    return render(request, "classifier/run_detail.html", run_report_context(run))


@role_required(RESEARCHER)
def run_compare(request: HttpRequest) -> HttpResponse:
    """``?runs=1,2,3`` (default: the latest 6 finished runs)."""
    ids = [i for raw in request.GET.get("runs", "").split(",") if (i := parse_id(raw)) is not None]
    runs = classifier_runs_for_user(user=request.user).filter(status="succeeded")
    runs = list(runs.filter(id__in=ids) if ids else runs[:6])
    return render(request, "classifier/compare.html", compare_context(runs))
