"""Pages: datasets and imports (researchers)."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from domainsieve.api_errors import INT32_MAX
from domainsieve.auth import RESEARCHER, role_required
from labeling.domains import DOMAIN_CHOICES
from labeling.ingest import FORMATS
from labeling.models import Dataset
from labeling.selectors.datasets import dataset_get, dataset_images, dataset_list, import_list
from labeling.services.datasets import dataset_create, import_create


class ImportForm(forms.Form):
    dataset = forms.CharField(max_length=200, help_text="an existing dataset, or a new name to create one")
    kind = forms.ChoiceField(choices=Dataset.Kind.choices, initial=Dataset.Kind.POOL,
                             help_text="for a new dataset")
    expected_domain = forms.ChoiceField(choices=[("", "(none)"), *DOMAIN_CHOICES], required=False,
                                        help_text="for a new test set")
    source = forms.CharField(max_length=1000, help_text="server path inside the import roots")
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="auto")
    sample = forms.IntegerField(min_value=1, max_value=INT32_MAX, required=False, help_text="import N random items")
    seed = forms.IntegerField(initial=0, min_value=0, max_value=INT32_MAX, required=False)


@role_required(RESEARCHER)
def dataset_list_page(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                dataset = Dataset.objects.filter(name=data["dataset"].strip()).first() or dataset_create(
                    name=data["dataset"], kind=data["kind"], expected_domain=data["expected_domain"],
                    user=request.user)
                job = import_create(dataset=dataset, source=data["source"], format=data["format"],
                                    sample=data["sample"], seed=data["seed"] or 0, user=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Import {job.id} into {dataset.name} queued.")
            return redirect("dataset-list")
    return render(request, "labeling/datasets.html", {
        "datasets": dataset_list(user=request.user),
        "jobs": import_list(user=request.user, limit=30),
        "form": form,
        "import_roots": [str(root) for root in settings.IMPORT_ROOTS],
    })


@role_required(RESEARCHER)
def dataset_detail_page(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = dataset_get(user=request.user, dataset_id=dataset_id)
    return render(request, "labeling/dataset_detail.html", {
        "dataset": dataset,
        "images": dataset_images(dataset=dataset, user=request.user)[:100],
        "jobs": import_list(user=request.user, dataset=dataset, limit=30),
    })
