"""Accounts: token expiry and revocation, password validators on user-set passwords, and bulk
user creation from CSV (command and admin page), all or none."""
from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from domainsieve.auth import user_role
from labeling.services.campaigns import campaign_create
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db


def get_token(username: str) -> str:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": f"{username}-pw"},
                                format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def not_authenticated(response: Any, reason: str = "") -> bool:
    # DRF answers 403 rather than 401 when session auth is the first authentication class.
    return response.status_code in (401, 403) and reason in response.json()["detail"]


def as_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- tokens --------------------------------------------------------------------------------------

def test_it_refuses_tokens_older_than_the_ttl(annotator: Any, settings: Any) -> None:
    settings.TOKEN_TTL_DAYS = 7
    key = get_token("ann")
    assert as_token(key).get("/api/v1/campaigns/").status_code == 200
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=8))
    assert not_authenticated(as_token(key).get("/api/v1/campaigns/"), "expired")
    fresh = get_token("ann")  # logging in again replaces the expired token
    assert fresh != key and as_token(fresh).get("/api/v1/campaigns/").status_code == 200


def test_it_keeps_tokens_without_a_ttl(annotator: Any, settings: Any) -> None:
    settings.TOKEN_TTL_DAYS = 0
    key = get_token("ann")
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=3650))
    assert as_token(key).get("/api/v1/campaigns/").status_code == 200


def test_it_lets_the_owner_revoke_their_token(annotator: Any) -> None:
    key = get_token("ann")
    assert as_token(key).delete("/api/v1/auth/token/").status_code == 204
    assert not_authenticated(as_token(key).get("/api/v1/campaigns/"), "Invalid token")
    assert APIClient().delete("/api/v1/auth/token/").status_code in (401, 403)


def test_it_lets_the_owner_revoke_from_the_account_page(client: Client, annotator: Any) -> None:
    key = get_token("ann")
    client.force_login(annotator)
    page = client.get("/account/").content.decode()
    assert 'id="revoke-token"' in page and "does not expire" in page
    response = client.post("/account/token/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    assert not_authenticated(as_token(key).get("/api/v1/campaigns/"), "Invalid token")
    assert "You have no API token" in client.get("/account/").content.decode()


def test_it_lets_admins_revoke_anyones_token(annotator: Any, researcher: Any, admin_user: Any) -> None:
    key = get_token("ann")
    researcher_client = as_token(get_token("res"))
    assert researcher_client.delete("/api/v1/auth/tokens/ann/").status_code == 403
    assert as_token(key).get("/api/v1/campaigns/").status_code == 200
    admin_client = as_token(get_token("adm"))
    assert admin_client.delete("/api/v1/auth/tokens/ann/").status_code == 204
    assert not_authenticated(as_token(key).get("/api/v1/campaigns/"), "Invalid token")
    assert admin_client.delete("/api/v1/auth/tokens/nobody-here/").status_code == 404


def test_it_lets_admins_revoke_from_the_users_page(client: Client, annotator: Any, researcher: Any,
                                                  admin_user: Any) -> None:
    key = get_token("ann")
    client.force_login(researcher)
    assert client.post("/users/ann/token/revoke/").status_code == 403
    client.force_login(admin_user)
    page = client.get("/users/new/").content.decode()
    assert 'id="tokens"' in page and "<td>ann</td>" in page
    client.post("/users/ann/token/revoke/")
    assert not_authenticated(as_token(key).get("/api/v1/campaigns/"))


# --- password validators -------------------------------------------------------------------------

def test_it_applies_the_password_validators_when_users_change_passwords(client: Client, annotator: Any) -> None:
    client.force_login(annotator)
    for weak in ("12345678", "password", "ann"):
        response = client.post("/account/password/", {"old_password": "ann-pw", "new_password1": weak,
                                                      "new_password2": weak})
        assert response.status_code == 200, weak  # the form again, with the reason
        assert "errorlist" in response.content.decode()
    strong = "copper-lantern-94-orbit"
    response = client.post("/account/password/", {"old_password": "ann-pw", "new_password1": strong,
                                                  "new_password2": strong})
    assert response.status_code == 302
    annotator.refresh_from_db()
    assert annotator.check_password(strong)


# --- bulk creation -------------------------------------------------------------------------------

@pytest.fixture
def campaigns(media_root: Any, researcher: Any) -> None:
    ds = make_dataset(name="pool")
    make_images(dataset=ds, n=2)
    campaign_create(name="Pool A", datasets=[ds], k=1, user=researcher)
    campaign_create(name="Pool B", datasets=[ds], k=1, user=researcher)


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "users.csv"
    path.write_text(text)
    return path


GOOD_CSV = ("username,email,role,campaigns\n"
            "alice,alice@example.org,annotator,Pool A;Pool B\n"
            "bob,,researcher,\n"
            "carol,carol@example.org,admin,Pool A\n")


def test_it_creates_users_from_csv_with_initial_passwords(tmp_path: Path, campaigns: None) -> None:
    out = StringIO()
    call_command("create_users", str(write_csv(tmp_path, GOOD_CSV)), stdout=out, stderr=StringIO())
    lines = out.getvalue().strip().splitlines()
    assert lines[0] == "username,role,campaigns,password"
    passwords = {row.split(",")[0]: row.split(",")[3] for row in lines[1:]}
    assert set(passwords) == {"alice", "bob", "carol"}
    assert "Pool A;Pool B" in lines[1]
    for username, role in (("alice", "annotator"), ("bob", "researcher"), ("carol", "admin")):
        user = User.objects.get(username=username)
        assert user_role(user) == role
        assert user.check_password(passwords[username])
    assert User.objects.get(username="carol").is_staff
    # The campaigns column makes each user a member of the named campaigns.
    assert sorted(User.objects.get(username="alice").member_campaigns.values_list("name", flat=True)) == [
        "Pool A", "Pool B"]
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": passwords["alice"]})
    assert response.status_code == 302


def test_it_prints_set_password_links_that_enforce_the_validators(tmp_path: Path, campaigns: None) -> None:
    out = StringIO()
    call_command("create_users", str(write_csv(tmp_path, GOOD_CSV)), "--links", "https://sieve.example.org",
                 stdout=out, stderr=StringIO())
    rows = {line.split(",")[0]: line.split(",")[3] for line in out.getvalue().strip().splitlines()[1:]}
    link = rows["bob"]
    assert link.startswith("https://sieve.example.org/set-password/")
    assert not User.objects.get(username="bob").has_usable_password()
    client = Client()
    form_url = client.get(link.removeprefix("https://sieve.example.org")).url  # token moves to the session
    weak = client.post(form_url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 200 and "errorlist" in weak.content.decode()
    strong = "copper-lantern-94-orbit"
    done = client.post(form_url, {"new_password1": strong, "new_password2": strong})
    assert done.status_code == 302
    assert User.objects.get(username="bob").check_password(strong)
    # One use only.
    again = Client().get(link.removeprefix("https://sieve.example.org"), follow=True)
    assert "not valid" in again.content.decode()


@pytest.mark.parametrize("csv_text, reason", [
    ("username,email,role,campaigns\nalice,,annotator,\nalice,,researcher,\n", "row 3: duplicate username 'alice'"),
    ("username,email,role,campaigns\nalice,,annotator,\nbob,,superhero,\n", "row 3: unknown role 'superhero'"),
    ("username,email,role,campaigns\nalice,,annotator,\nres,,annotator,\n", "row 3: username 'res' already exists"),
    ("username,email,role,campaigns\nalice,,annotator,No Such Pool\n", "row 2: no campaign named 'No Such Pool'"),
    ("username,email,role,campaigns\nalice,not-an-email,annotator,\n", "row 2: email 'not-an-email' is not valid"),
    ("username,email,role,campaigns\nal ice!,,annotator,\n", "row 2: username 'al ice!' is not valid"),
    ("user,mail\nalice,a@example.org\n", "missing column(s) username, email, role"),
])
def test_it_creates_nobody_when_a_row_is_bad(tmp_path: Path, campaigns: None, csv_text: str, reason: str) -> None:
    before = User.objects.count()
    with pytest.raises(CommandError) as error:
        call_command("create_users", str(write_csv(tmp_path, csv_text)), stdout=StringIO(), stderr=StringIO())
    assert reason in str(error.value)
    assert User.objects.count() == before


def test_it_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("create_users", str(tmp_path / "nope.csv"))


def test_it_creates_users_from_the_admin_page(client: Client, admin_user: Any, campaigns: None) -> None:
    client.force_login(admin_user)
    upload = SimpleUploadedFile("users.csv", GOOD_CSV.encode(), content_type="text/csv")
    response = client.post("/users/new/", {"file": upload})
    page = response.content.decode()
    assert response.status_code == 200 and 'id="bulk-created"' in page
    assert response["Cache-Control"] == "no-store"
    password = re.search(r"<td>alice</td>.*?<code>([^<]+)</code>", page, re.S).group(1)
    assert User.objects.get(username="alice").check_password(password)


def test_it_shows_every_bad_row_on_the_admin_page_and_creates_nobody(client: Client, admin_user: Any,
                                                                     campaigns: None) -> None:
    client.force_login(admin_user)
    bad = "username,email,role,campaigns\nzed,,annotator,\nzed,,wizard,Nope\n"
    response = client.post("/users/new/", {"file": SimpleUploadedFile("u.csv", bad.encode())})
    page = response.content.decode()
    assert response.status_code == 400
    assert "duplicate username" in page and "unknown role" in page and "no campaign named" in page
    assert not User.objects.filter(username="zed").exists()


def test_it_keeps_the_admin_page_to_admins(client: Client, researcher: Any) -> None:
    client.force_login(researcher)
    response = client.post("/users/new/", {"file": SimpleUploadedFile("u.csv", GOOD_CSV.encode())})
    assert response.status_code == 403
    assert not User.objects.filter(username="alice").exists()
