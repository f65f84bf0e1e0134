"""Pages that belong to no single app: the home dashboard, the guidelines, the account page and
bulk user creation."""
from __future__ import annotations

import csv

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from domainsieve.accounts import (
    BulkUserError,
    parse_users_csv,
    token_expires_at,
    token_is_expired,
    token_revoke,
    users_create_bulk,
)
from domainsieve.auth import ADMIN, ANNOTATOR, role_required
from labeling.domains import DOMAINS
from labeling.guidelines import DEFAULT_GUIDELINES, render_guidelines
from labeling.selectors.datasets import images_for_user

MAX_USERS_CSV_BYTES = 1024 * 1024


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


@role_required(ANNOTATOR)
def account(request: HttpRequest) -> HttpResponse:
    """The caller's account: role, API token state (with a revoke button), change password."""
    token = Token.objects.filter(user=request.user).first()
    return render(request, "account.html", {
        "token": token,
        "token_expires": token_expires_at(token) if token else None,
        "token_expired": token_is_expired(token) if token else False,
    })


@role_required(ANNOTATOR)
@require_POST
def account_token_revoke(request: HttpRequest) -> HttpResponse:
    if token_revoke(user=request.user):
        messages.success(request, "Your API token is revoked; scripts using it now get 401.")
    else:
        messages.info(request, "You had no API token.")
    return redirect("account")


class UsersCsvForm(forms.Form):
    file = forms.FileField(label="Users CSV", help_text="columns: username, email, role, campaigns (names separated by ';')")
    links = forms.BooleanField(required=False, label="Set-password links instead of initial passwords")


@role_required(ADMIN)
def users_bulk_create(request: HttpRequest) -> HttpResponse:
    """Admins create accounts from a CSV; the passwords or links are shown once, on this answer."""
    form = UsersCsvForm(request.POST or None, request.FILES or None)
    created = []
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_USERS_CSV_BYTES:
            errors = [f"the file is larger than {MAX_USERS_CSV_BYTES // 1024} KiB"]
        else:
            try:
                rows = parse_users_csv(upload.read().decode("utf-8-sig"))
                created = users_create_bulk(
                    rows=rows, set_password_base_url=request.build_absolute_uri("/") if form.cleaned_data["links"] else None)
            except UnicodeDecodeError:
                errors = ["the file is not UTF-8 text"]
            except (BulkUserError, csv.Error) as error:
                errors = getattr(error, "errors", [str(error)])
    tokens = Token.objects.select_related("user").order_by("user__username")
    response = render(request, "users_bulk.html", {"form": form, "created": created, "errors": errors,
                                                   "tokens": tokens}, status=400 if errors else 200)
    if created:
        response["Cache-Control"] = "no-store"  # one-time secrets
    return response


@role_required(ADMIN)
@require_POST
def user_token_revoke(request: HttpRequest, username: str) -> HttpResponse:
    """Admins revoke anyone's API token (from the users page)."""
    user = get_object_or_404(User, username=username)
    if token_revoke(user=user):
        messages.success(request, f"Revoked the API token of {user.username}.")
    return redirect("users-bulk-create")
