"""`manage.py demo --setup-only`: data, imports, users and a campaign; a rerun reuses everything."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from domainsieve.auth import user_role
from labeling.models import Campaign, Dataset, Image

pytestmark = pytest.mark.django_db


def test_it_sets_up_the_demo_and_reuses_it(media_root: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("demo", "--setup-only", "--data-dir", str(tmp_path / "demo"), stdout=out)
    text = out.getvalue()
    pool = Dataset.objects.get(name="demo-pool")
    photos = Dataset.objects.get(name="demo-photos")
    renditions = Dataset.objects.get(name="demo-renditions")
    assert pool.images.count() == 360
    # each test set claims one domain and carries a few ambiguous images to clean away
    assert (photos.kind, photos.expected_domain) == (Dataset.Kind.TESTSET, "natural")
    assert (renditions.kind, renditions.expected_domain) == (Dataset.Kind.TESTSET, "rendition")
    assert set(photos.images.values_list("intended_domain", flat=True)) == {"natural", "ambiguous"}
    assert set(renditions.images.values_list("intended_domain", flat=True)) == {"rendition", "ambiguous"}
    assert photos.images.count() + renditions.images.count() == 96
    # the intended domain of every demo image travels into the database
    assert set(Image.objects.values_list("intended_domain", flat=True)) == {"natural", "rendition", "ambiguous"}
    assert Image.objects.filter(dataset__kind="testset", class_name="").count() == 0
    roles = {u.username: user_role(u) for u in User.objects.all()}
    assert roles == {"admin": "admin", "researcher": "researcher", "annotator1": "annotator",
                     "annotator2": "annotator", "annotator3": "annotator"}
    logins = (settings.VAR_DIR / "demo_logins.txt").read_text().split()
    for line in logins:
        username, password = line.split(":", 1)
        assert username in text and password in text
        assert User.objects.get(username=username).check_password(password)
    assert Campaign.objects.filter(name__startswith="demo").count() == 1

    started = time.monotonic()
    again = io.StringIO()
    call_command("demo", "--setup-only", "--data-dir", str(tmp_path / "demo"), stdout=again)
    assert time.monotonic() - started < 15
    assert "already imported" in again.getvalue()
    assert Image.objects.count() == 456
    assert User.objects.count() == 5
    assert Campaign.objects.count() == 1


def test_it_gives_new_demo_accounts_the_demo_password_setting(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    from labeling.management.commands.demo import Command

    settings.VAR_DIR = tmp_path  # no logins file yet: every account is new
    settings.DEMO_PASSWORD = "chosen-demo-password"
    logins = Command()._ensure_users()
    assert {password for _, password, _ in logins} == {"chosen-demo-password"}
    assert User.objects.get(username="researcher").check_password("chosen-demo-password")
