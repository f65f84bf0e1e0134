"""The account page and the admin's users page in real Chromium, under the Content-Security-Policy:
an annotator revokes their API token with the button; an admin creates users from a CSV upload."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from domainsieve.auth import user_role
from tests.browser import login

pytestmark = [pytest.mark.e2e]


def watch_policy(page: Any) -> list[str]:
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    return violations


def test_it_revokes_the_token_with_the_account_page_button(page: Any, live_server: Any, annotator: User) -> None:
    Token.objects.create(user=annotator)
    violations = watch_policy(page)
    login(page, live_server.url, "ann", "ann-pw")
    page.click("a.who")  # the name in the top bar leads to the account page
    page.wait_for_url(f"{live_server.url}/account/")
    page.click("#revoke-token")
    page.wait_for_selector("text=Your API token is revoked")
    assert not Token.objects.filter(user=annotator).exists()
    assert "You have no API token" in page.inner_text("#token-state")
    assert violations == []


def test_it_creates_users_from_an_uploaded_csv(page: Any, live_server: Any, admin_user: User, tmp_path: Path) -> None:
    csv_file = tmp_path / "users.csv"
    csv_file.write_text("username,email,role,campaigns\ndora,dora@example.org,researcher,\n")
    violations = watch_policy(page)
    login(page, live_server.url, "adm", "adm-pw")
    page.click("nav >> text=Users")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("button:has-text('Create users')")
    page.wait_for_selector("#bulk-created")
    password = page.inner_text("#bulk-created tbody tr td code")
    dora = User.objects.get(username="dora")
    assert user_role(dora) == "researcher" and dora.check_password(password)
    assert violations == []
