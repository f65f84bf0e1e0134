"""Pages: training runs (preview the exact command, then launch), a run's progress and log with
cancel / resume / evaluate / priority, the GPU hosts with the queue of waiting runs, and the results
view (Table 2, Figure 3, CSV). Researchers (and admins) only."""
from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from classifier.services.reshard import resharded_shard_sets
from domainsieve.api_errors import INT32_MAX, INT64_MAX
from domainsieve.auth import RESEARCHER, role_required
from domainsieve.ids import parse_id
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from training.defaults import run_form_initial
from training.mixtures import preset_names
from training.models import EvalResult, TrainingRun
from training.selectors.results import COLUMNS, detail_csv, figure3_svgs, table2, table2_csv
from training.selectors.runs import (
    train_host_list,
    training_queue_list,
    training_queue_positions,
    training_run_get,
    training_run_list,
)
from training.services.placement import PlacementError, training_run_set_priority
from training.services.runs import (
    TrainingInputError,
    run_log_tail,
    training_run_cancel,
    training_run_create,
    training_run_preview,
    training_run_resume,
)
from training.specs import PRECISIONS


class RunForm(forms.Form):
    name = forms.CharField(max_length=120)
    preset = forms.CharField(required=False, help_text=f"e.g. {', '.join(preset_names()[:6])}, mix_<n>_<r>: fixed "
                                                       "subsets of exactly that size (make_subset), one pass per epoch; "
                                                       "..._resampled redraws every epoch; or leave empty and give sources")
    natural = forms.CharField(required=False, help_text="natural subset shards (folder or brace pattern)")
    rendition = forms.CharField(required=False, help_text="rendition subset shards")
    pool = forms.CharField(required=False, help_text="random_<N>M: a fixed N-sample subset of the pool (make_subset)")
    unit = forms.IntegerField(initial=1_000_000, min_value=1, max_value=INT64_MAX, help_text="samples per 'M' in a preset")
    sources = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text='JSON list: [{"name": "nat", "shards": "/d/{00000..00009}.tar", "ratio": 3}, ...]')
    total = forms.IntegerField(required=False, min_value=1, max_value=INT64_MAX, help_text="samples per epoch (with ratios)")
    allow_repeats = forms.BooleanField(required=False)
    model = forms.CharField(initial="ViT-B-32")
    epochs = forms.IntegerField(initial=32, min_value=1, max_value=INT32_MAX)
    global_batch = forms.IntegerField(initial=16384, min_value=1, max_value=INT32_MAX)
    gpus = forms.IntegerField(initial=8, min_value=1, max_value=INT32_MAX, help_text="GPUs per node")
    nodes = forms.IntegerField(initial=1, min_value=1, max_value=INT32_MAX)
    per_gpu_batch = forms.IntegerField(required=False, min_value=1, max_value=INT32_MAX, help_text="empty: global / GPUs")
    max_per_gpu_batch = forms.IntegerField(required=False, min_value=1, max_value=INT32_MAX, help_text="accumulate gradients above this")
    precision = forms.ChoiceField(choices=[(p, p) for p in PRECISIONS], initial="amp")
    workers = forms.IntegerField(initial=6, min_value=0, max_value=INT32_MAX)
    device = forms.ChoiceField(choices=[("cuda", "cuda"), ("cpu", "cpu")], initial="cuda")
    backend = forms.ChoiceField(choices=TrainingRun.Backend.choices, initial="local")
    backend_options = forms.CharField(required=False, initial="{}", help_text='slurm: {"partition": "...", '
                                      '"account": "...", "time": "24:00:00", "setup": ["module load ..."]}')

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["preset"]:
            mixture: dict[str, Any] = {k: data[k] for k in ("preset", "natural", "rendition", "pool", "unit")}
        else:
            try:
                mixture = {"sources": json.loads(data["sources"] or "[]")}
            except ValueError as exc:
                raise TrainingInputError(f"sources: not JSON ({exc})") from exc
        if data["total"]:
            mixture["total"] = data["total"]
        if data["allow_repeats"]:
            mixture["allow_repeats"] = True
        try:
            options = json.loads(data["backend_options"] or "{}")
        except ValueError as exc:
            raise TrainingInputError(f"backend options: not JSON ({exc})") from exc
        if not isinstance(options, dict):
            raise TrainingInputError("backend options: a JSON object")
        keys = ("name", "model", "epochs", "global_batch", "gpus", "nodes", "per_gpu_batch", "max_per_gpu_batch",
                "precision", "workers", "device", "backend")
        return {**{k: data[k] for k in keys}, "mixture": mixture, "backend_options": options}


@role_required(RESEARCHER)
def run_list_page(request: HttpRequest) -> HttpResponse:
    # Shards can come from a run's "train on it" link (?natural=/path/to/resharded/subset).
    picked = {k: request.GET[k] for k in ("natural", "rendition", "pool") if request.GET.get(k)}
    form = RunForm(request.POST or None, initial={**run_form_initial(), **picked})
    for name in ("natural", "rendition", "pool"):
        form.fields[name].widget.attrs["list"] = "shard-sets"
    preview = None
    if request.method == "POST" and form.is_valid():
        try:
            params = form.params()
            if request.POST.get("action") == "launch":
                run = training_run_create(created_by=request.user, **params)
                messages.success(request, f"Run {run.name} queued.")
                return redirect("training-run-detail", run_id=run.id)
            preview = training_run_preview(**params)
        except TrainingInputError as exc:
            form.add_error(None, str(exc))
    runs = list(training_run_list()[:200])
    positions = training_queue_positions()
    for run in runs:
        run.queue_position = positions.get(run.id)
    return render(request, "training/runs.html", {"runs": runs, "form": form, "preview": preview,
                                                  "shard_sets": resharded_shard_sets()},
                  status=400 if form.errors else 200)


@role_required(RESEARCHER)
def run_detail_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = training_run_get(user=request.user, run_id=run_id)
    queue = training_queue_list() if run.status == JobStatus.QUEUED else []
    position = next((i for i, waiting in enumerate(queue, start=1) if waiting.id == run.id), None)
    return render(request, "training/run_detail.html", {
        "run": run, "log": run_log_tail(run=run), "queue_position": position, "queue_length": len(queue),
        "results": EvalResult.objects.filter(training_run=run).order_by("epoch", "test_set", "clean"),
        "testsets": Dataset.objects.filter(kind=Dataset.Kind.TESTSET),
    })


@require_POST
@role_required(RESEARCHER)
def run_action(request: HttpRequest, run_id: int, action: str) -> HttpResponse:
    run = training_run_get(user=request.user, run_id=run_id)
    try:
        if action == "cancel":
            training_run_cancel(run=run)
            messages.success(request, f"Cancel requested for {run.name}.")
        elif action == "resume":
            training_run_resume(run=run)
            messages.success(request, f"{run.name} queued to resume from its latest checkpoint.")
        elif action == "evaluate":
            from training.services.zeroshot import ZeroShotInputError, zeroshot_request_enqueue

            try:
                out = zeroshot_request_enqueue(training_run=run.id, datasets=[int(d) for d in request.POST.getlist("datasets")],
                                               clean=[False, True])
            except (ZeroShotInputError, ValueError) as exc:
                raise TrainingInputError(str(exc)) from exc
            messages.success(request, f"Evaluation of {out['queued']} checkpoint(s) queued.")
        elif action == "priority":
            try:
                priority = int(request.POST.get("priority", ""))
            except ValueError:
                raise TrainingInputError("priority: a whole number") from None
            try:
                training_run_set_priority(run=run, priority=priority)
            except PlacementError as exc:
                raise TrainingInputError(str(exc)) from exc
            messages.success(request, f"Priority of {run.name} set to {priority}.")
        else:
            raise Http404("no such action")
    except TrainingInputError as exc:
        messages.error(request, str(exc))
    if request.POST.get("next") == "hosts":  # the priority form on the hosts page
        return redirect("training-hosts")
    return redirect("training-run-detail", run_id=run.id)


@role_required(RESEARCHER)
def hosts_page(request: HttpRequest) -> HttpResponse:
    """The GPU pool: each host, its devices and their holders, and the queue of waiting runs."""
    queue = training_queue_list()
    for position, run in enumerate(queue, start=1):
        run.queue_position = position
    return render(request, "training/hosts.html", {"hosts": train_host_list(), "queue": queue})


def _chosen_runs(request: HttpRequest) -> list[TrainingRun]:
    ids = [i for raw in request.GET.getlist("runs") for v in raw.split(",") if (i := parse_id(v)) is not None]
    runs = TrainingRun.objects.filter(id__in=ids) if ids else TrainingRun.objects.filter(eval_results__isnull=False)
    return list(runs.distinct().order_by("id"))


@role_required(RESEARCHER)
def results_page(request: HttpRequest) -> HttpResponse:
    runs = _chosen_runs(request)
    clean = request.GET.get("mode", "clean") != "standard"
    rows = table2(runs=runs)
    query = ",".join(str(r.id) for r in runs)
    return render(request, "training/results.html", {
        "rows": rows, "columns": COLUMNS, "figures": figure3_svgs(rows, clean=clean) if rows else {},
        "all_runs": TrainingRun.objects.filter(eval_results__isnull=False).distinct().order_by("id"),
        "chosen": {r.id for r in runs}, "query": query, "mode": "clean" if clean else "standard",
    })


@role_required(RESEARCHER)
def results_csv(request: HttpRequest) -> HttpResponse:
    runs = _chosen_runs(request)
    detail = request.GET.get("detail") == "1"
    body = detail_csv(runs=runs) if detail else table2_csv(table2(runs=runs))
    response = HttpResponse(body, content_type="text/csv")
    name = "eval_results.csv" if detail else "table2.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
