"""Pages that belong to no single app: the home dashboard and the guidelines."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from domainsieve.auth import ANNOTATOR, role_required
from labeling.domains import DOMAINS
from labeling.guidelines import DEFAULT_GUIDELINES, render_guidelines
from labeling.models import Image


@role_required(ANNOTATOR)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@role_required(ANNOTATOR)
def guidelines(request: HttpRequest) -> HttpResponse:
    """The default guidelines, with example thumbnails of each domain where demo data has them."""
    examples = {
        domain: list(Image.objects.filter(intended_domain=domain).order_by("id")[:6])
        for domain in DOMAINS
    }
    return render(request, "guidelines.html", {
        "guidelines_html": render_guidelines(DEFAULT_GUIDELINES),
        "examples": {d: imgs for d, imgs in examples.items() if imgs},
    })
