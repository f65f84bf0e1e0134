"""Page: fixed training subsets drawn from an apply job's output (list + form), beside ``make_subset``."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from classifier.apply.subsets import SubsetError
from classifier.models import ApplyJob, SubsetJob
from classifier.services.subsets import POOL_SUBSETS, subset_job_create
from domainsieve.auth import RESEARCHER, role_required
from domainsieve.jobs import JobStatus


@role_required(RESEARCHER)
@require_http_methods(["GET", "POST"])
def subset_list(request: HttpRequest) -> HttpResponse:
    form = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        try:
            apply_job = ApplyJob.objects.filter(pk=int(request.POST.get("apply_job") or 0)).first()
            if apply_job is None:
                raise SubsetError("choose a finished apply job")
            job = subset_job_create(name=request.POST.get("name", ""), apply_job=apply_job,
                                    n=request.POST.get("n", ""), seed=int(request.POST.get("seed") or 0),
                                    subset=request.POST.get("subset", "all"),
                                    exclude_path=request.POST.get("exclude", ""),
                                    reshard=request.POST.get("reshard") == "on", created_by=request.user)
        except (SubsetError, ValueError) as exc:
            messages.error(request, f"Not started: {exc}")
        else:
            messages.success(request, f"Subset {job.name} queued.")
            return redirect("classifier-subsets")
    jobs = list(SubsetJob.objects.select_related("apply_job")[:200])
    return render(request, "classifier/subsets.html", {
        "jobs": jobs, "apply_jobs": ApplyJob.objects.filter(status=JobStatus.SUCCEEDED)[:200],
        "pools": POOL_SUBSETS, "form": form, "refresh": any(j.is_active for j in jobs)})
