"""Accounts: API tokens (issue, expire, revoke) and bulk user creation from CSV.

Tokens are DRF's (one per user, created on first login through ``POST /api/v1/auth/token/``). With
``TOKEN_TTL_DAYS`` set, a token older than that is refused by the token authentication class and
replaced by the next login. An owner revokes their token from the API or the account page; an admin
revokes anyone's from the API or Django admin (Auth Token > Tokens).
"""
from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from .auth import ADMIN, ROLES


def token_expires_at(token: Token) -> datetime | None:
    """When ``token`` stops working, or None when tokens do not expire (TOKEN_TTL_DAYS = 0)."""
    days = int(getattr(settings, "TOKEN_TTL_DAYS", 0) or 0)
    return token.created + timedelta(days=days) if days > 0 else None


def token_is_expired(token: Token) -> bool:
    expires = token_expires_at(token)
    return expires is not None and expires <= timezone.now()


@transaction.atomic
def token_issue(*, user: User) -> Token:
    """The user's live token, or a fresh one when they have none or theirs expired."""
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and token_is_expired(token):
        token.delete()
        token = None
    return token or Token.objects.create(user=user)


def token_revoke(*, user: User) -> bool:
    """Delete the user's token; True when there was one. Scripts using it get 401 from now on."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0


# --- bulk creation -------------------------------------------------------------------------------

CSV_COLUMNS = ("username", "email", "role", "campaigns")

# Installed by labeling (LabelingConfig.ready), which owns campaigns: the names that exist, and
# how to make a new user a member of the named campaigns; it runs
# inside the creating transaction. None: names are validated and reported only.
campaign_names: Callable[[], set[str]] = set
campaign_members_add: Callable[[User, list[str]], None] | None = None


class BulkUserError(ValueError):
    """The CSV has bad rows; nothing was created. ``errors`` lists each as 'row N: reason'."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class CreatedUser:
    username: str
    email: str
    role: str
    campaigns: list[str] = field(default_factory=list)
    password: str | None = None  # the initial password, shown once (passwords mode)
    set_password_url: str | None = None  # a one-time link to choose a password (links mode)


def _campaign_names(cell: str) -> list[str]:
    return [name.strip() for name in cell.split(";") if name.strip()]


def parse_users_csv(text: str) -> list[dict[str, Any]]:
    """Rows of a users CSV (header: username, email, role, campaigns; campaigns separated by ';')."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header and c != "campaigns"]
    if missing:
        raise BulkUserError([f"header: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}"])
    rows = []
    for raw in reader:
        row = {(k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items()}
        rows.append(row)
    return rows


def users_create_bulk(*, rows: Iterable[dict[str, Any]], set_password_base_url: str | None = None) -> list[CreatedUser]:
    """Create one account per row, all or none.

    Every row is checked first (username valid and new, also within the file; email valid or empty;
    role one of annotator/researcher/admin; each named campaign exists) and all problems are raised
    together as :class:`BulkUserError` with row numbers (row 2 is the first after the header).
    Without ``set_password_base_url`` each user gets a random initial password, returned once; with
    it, an unusable password and a one-time link (Django's password-reset token, valid for
    PASSWORD_RESET_TIMEOUT) to choose one, which goes through AUTH_PASSWORD_VALIDATORS. Campaign
    names are validated and returned, and passed to the ``campaign_members_add`` hook when one is
    installed.
    """
    rows = list(rows)
    errors: list[str] = []
    seen: set[str] = set()
    known_campaigns = campaign_names()
    for number, row in enumerate(rows, start=2):
        username, email, role = row.get("username", ""), row.get("email", ""), row.get("role", "").lower()
        if not username:
            errors.append(f"row {number}: empty username")
        else:
            try:
                User.username_validator(username)
                if len(username) > 150:
                    raise ValidationError("longer than 150 characters")
            except ValidationError as error:
                errors.append(f"row {number}: username {username!r} is not valid ({'; '.join(error.messages)})")
            if username.lower() in seen:
                errors.append(f"row {number}: duplicate username {username!r} in the file")
            elif User.objects.filter(username__iexact=username).exists():
                errors.append(f"row {number}: username {username!r} already exists")
            seen.add(username.lower())
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(f"row {number}: email {email!r} is not valid")
        if role not in ROLES:
            errors.append(f"row {number}: unknown role {row.get('role', '')!r}; expected one of {', '.join(ROLES)}")
        for name in _campaign_names(row.get("campaigns", "")):
            if name not in known_campaigns:
                errors.append(f"row {number}: no campaign named {name!r}")
    if errors:
        raise BulkUserError(errors)
    if not rows:
        raise BulkUserError(["the file has no rows"])

    created: list[CreatedUser] = []
    with transaction.atomic():
        groups = {role: Group.objects.get_or_create(name=role)[0] for role in ROLES}
        for row in rows:
            role = row["role"].lower()
            user = User(username=row["username"], email=row.get("email", ""), is_staff=role == ADMIN)
            result = CreatedUser(username=user.username, email=user.email, role=role,
                                 campaigns=_campaign_names(row.get("campaigns", "")))
            if set_password_base_url:
                user.set_unusable_password()
            else:
                result.password = secrets.token_urlsafe(12)
                user.set_password(result.password)
            user.save()
            user.groups.add(groups[role])
            if campaign_members_add is not None and result.campaigns:
                campaign_members_add(user, result.campaigns)
            if set_password_base_url:
                result.set_password_url = set_password_url(user=user, base_url=set_password_base_url)
            created.append(result)
    return created


def set_password_url(*, user: User, base_url: str) -> str:
    """A one-time link for ``user`` to choose a password (invalid once used or after the timeout)."""
    path = reverse("set-password", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                           "token": default_token_generator.make_token(user)})
    return base_url.rstrip("/") + path
