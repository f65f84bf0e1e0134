"""Pages that belong to no single app: the home dashboard and the guidelines."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from domainsieve.auth import ANNOTATOR, role_required
from labeling.domains import DOMAINS
from labeling.guidelines import DEFAULT_GUIDELINES, render_guidelines
from labeling.selectors.datasets import images_for_user


@role_required(ANNOTATOR)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@role_required(ANNOTATOR)
def guidelines(request: HttpRequest) -> HttpResponse:
    """The default guidelines, with example thumbnails of each domain where demo data has them:
    images the user may read (an annotator: of their campaigns), never a gold item."""
    readable = images_for_user(user=request.user).exclude(campaign_items__is_gold=True)
    examples = {
        domain: list(readable.filter(intended_domain=domain).order_by("id")[:6])
        for domain in DOMAINS
    }
    return render(request, "guidelines.html", {
        "guidelines_html": render_guidelines(DEFAULT_GUIDELINES),
        "examples": {d: imgs for d, imgs in examples.items() if imgs},
    })
