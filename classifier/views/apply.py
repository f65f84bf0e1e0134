"""Pages: apply jobs (list + start form, one job's progress and Table 7) and test-set cleaning (Table 12)."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from classifier.apply.summary import TABLE_ORDER
from classifier.models import ApplyJob, ClassifierRun
from classifier.selectors.apply import (
    apply_job_progress,
    apply_jobs_for_user,
    apply_jobs_with_progress,
    cleans_for_user,
    get_apply_job_for_user,
    get_clean_for_user,
)
from classifier.selectors.runs import classifier_heads_for_user
from classifier.services.apply import (
    ApplyError,
    apply_job_cancel,
    apply_job_create,
    apply_job_resume,
    clean_testset_create,
    head_spec_from_runs,
)
from classifier.services.reshard import reshard_job_create
from domainsieve.auth import RESEARCHER, role_required
from domainsieve.jobs import JobStatus
from labeling.models import Dataset


def _heads(request: HttpRequest) -> list[dict[str, object]]:
    """The natural and rendition choices of a form: usable runs, why the others are missing, and
    the run chosen before (the POST being redisplayed, or ``?natural_run=`` from a run's page)."""
    source = request.POST if request.method == "POST" else request.GET
    return [{"name": head, **choices, "selected": str(source.get(f"{head}_run", ""))}
            for head, choices in classifier_heads_for_user(user=request.user).items()]


def _spec_from_post(request: HttpRequest) -> object:
    try:
        natural = ClassifierRun.objects.get(pk=int(request.POST.get("natural_run") or 0))
        rendition = ClassifierRun.objects.get(pk=int(request.POST.get("rendition_run") or 0))
    except (ClassifierRun.DoesNotExist, ValueError):
        raise ApplyError("choose a natural and a rendition classifier run") from None
    return head_spec_from_runs(natural_run=natural, rendition_run=rendition)


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def apply_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            job = apply_job_create(
                name=request.POST.get("name", ""), spec=_spec_from_post(request),
                pattern=request.POST.get("shards", "").strip(), level=request.POST.get("level", "strict"),
                batch_size=int(request.POST.get("batch_size") or 256), device=request.POST.get("device") or "auto",
                created_by=request.user, roots=list(settings.IMPORT_ROOTS))
        except (ApplyError, ValueError) as exc:
            messages.error(request, f"Not started: {exc}")
        else:
            messages.success(request, f"Apply job {job.id} queued: {job.shards_total} shards.")
            return redirect("classifier-apply-job", job_id=job.id)
    jobs = list(apply_jobs_with_progress(apply_jobs_for_user(user=request.user))[:100])
    rows = [(job, apply_job_progress(job=job)) for job in jobs]
    # A refused form comes back filled in, with the reason, as a 400.
    return render(request, "classifier/apply_list.html", {"rows": rows, "heads": _heads(request), "form": request.POST},
                  status=400 if request.method == "POST" else 200)


@role_required(RESEARCHER)
def apply_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_apply_job_for_user(user=request.user, job_id=job_id)
    reshards = {r.subset: r for r in job.reshards.all()}
    can_reshard = job.status == JobStatus.SUCCEEDED and job.source == ApplyJob.Source.SHARDS
    subsets = [{"name": name, "list": s, "reshard": reshards.get(name),
                "button": can_reshard and bool(s.get("count")) and (
                    name not in reshards or reshards[name].status == "failed"),
                "train_field": "natural" if name.startswith("natural") else "rendition"}
               for name, s in ((job.summary or {}).get("subsets") or {}).items()]
    return render(request, "classifier/apply_detail.html", {
        "job": job, "progress": apply_job_progress(job=job), "summary": job.summary or None,
        "order": TABLE_ORDER, "failed": job.shards.filter(status="failed")[:50], "subsets": subsets,
    })


@role_required(RESEARCHER)
@require_POST
def apply_reshard(request: HttpRequest, job_id: int) -> HttpResponse:
    """The Reshard button of one subset: queue its shards, back to the job page (which polls)."""
    job = get_apply_job_for_user(user=request.user, job_id=job_id)
    try:
        reshard = reshard_job_create(apply_job=job, subset=request.POST.get("subset", ""),
                                     shard_size=int(request.POST.get("shard_size") or 10_000), created_by=request.user)
    except (ApplyError, ValueError) as exc:
        messages.error(request, f"Not resharded: {exc}")
    else:
        messages.success(request, f"Resharding {reshard.subset}: shards appear in {reshard.out_dir}.")
    return redirect("classifier-apply-job", job_id=job.id)


@role_required(RESEARCHER)
@require_POST
def apply_action(request: HttpRequest, job_id: int, action: str) -> HttpResponse:
    if action not in ("cancel", "resume"):
        raise Http404("unknown action")
    job = get_apply_job_for_user(user=request.user, job_id=job_id)
    if action == "cancel":
        apply_job_cancel(job=job)
        messages.success(request, "Cancel requested: running shards stop at their next batch.")
    else:
        revived = apply_job_resume(job=job)
        messages.success(request, f"Resumed: {revived} shard(s) put back in the queue.")
    return redirect("classifier-apply-job", job_id=job.id)


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def clean_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            source = Dataset.objects.filter(pk=int(request.POST.get("dataset") or 0)).first()
            if source is None:
                raise ApplyError("choose a test set")
            clean = clean_testset_create(source=source, spec=_spec_from_post(request),
                                         result_name=request.POST.get("name", "").strip(),
                                         rule=request.POST.get("rule") or "own_classifier", created_by=request.user)
        except (ApplyError, ValueError) as exc:
            messages.error(request, f"Not started: {exc}")
        else:
            messages.success(request, f"Cleaning {clean.source.name} queued.")
            return redirect("classifier-clean", clean_id=clean.id)
    cleans = list(cleans_for_user(user=request.user)[:200])
    return render(request, "classifier/clean_list.html", status=400 if request.method == "POST" else 200, context={
        "cleans": cleans, "heads": _heads(request), "testsets": Dataset.objects.filter(kind=Dataset.Kind.TESTSET),
    })


@role_required(RESEARCHER)
def clean_detail(request: HttpRequest, clean_id: int) -> HttpResponse:
    clean = get_clean_for_user(user=request.user, clean_id=clean_id)
    return render(request, "classifier/clean_detail.html", {
        "clean": clean, "c": clean.counts or {}})
