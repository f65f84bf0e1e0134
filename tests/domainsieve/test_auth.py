"""Login, roles and token auth, through HTTP."""
from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_pages_to_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_serves_the_login_page_without_login(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_it_answers_401_or_403_for_anonymous_api(client: Client) -> None:
    for path in ("/api/v1/health/", "/api/v1/schema/", "/api/v1/docs/"):
        assert client.get(path).status_code in (401, 403), path


def test_it_logs_in_and_shows_home(client: Client, annotator) -> None:
    response = client.post("/login/", {"username": "ann", "password": "ann-pw"})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b"ann" in home.content


def test_it_refuses_a_user_without_role(client: Client, outsider) -> None:
    client.force_login(outsider)
    assert client.get("/").status_code == 403
    assert client.get("/api/v1/health/").status_code == 403


def test_it_refuses_annotators_the_researcher_pages(client: Client, annotator, researcher) -> None:
    client.force_login(annotator)
    assert client.get("/datasets/").status_code == 403
    client.force_login(researcher)
    assert client.get("/datasets/").status_code == 200


def test_it_opens_django_admin_to_admins_only(client: Client, researcher, admin_user) -> None:
    researcher.is_staff = True
    researcher.save()
    client.force_login(researcher)
    assert client.get("/admin/").status_code == 302  # bounced to the admin login
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200


def test_it_trades_password_for_token_and_uses_it(client: Client, researcher) -> None:
    bad = client.post("/api/v1/auth/token/", {"username": "res", "password": "wrong"})
    assert bad.status_code == 400
    response = client.post("/api/v1/auth/token/", {"username": "res", "password": "res-pw"})
    assert response.status_code == 200
    token = response.json()["token"]
    assert response.json()["role"] == "researcher"
    schema = Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Token {token}")
    assert schema.status_code == 200
    assert b"/api/v1/campaigns/" in schema.content or b"openapi" in schema.content


def test_it_serves_browsable_docs_offline(client: Client, annotator) -> None:
    client.force_login(annotator)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn.jsdelivr" not in response.content


def test_it_enforces_csrf_on_session_api_posts(annotator) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    response = client.post("/api/v1/auth/token/", {"username": "ann", "password": "ann-pw"})
    assert response.status_code == 200  # token login itself uses no session
    logout = client.post("/logout/")
    assert logout.status_code == 403  # no CSRF token: refused


def test_it_reads_the_role_with_the_token(annotator, researcher, admin_user, outsider,
                                          django_assert_num_queries) -> None:
    """Token auth answers who the caller is and what it may do in one query; every role and the
    refusals (no role, inactive user, unknown token) behave as with sessions."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    def get(user_or_key: object, path: str) -> int:
        key = user_or_key if isinstance(user_or_key, str) else Token.objects.get_or_create(user=user_or_key)[0].key
        return Client().get(path, HTTP_AUTHORIZATION=f"Token {key}").status_code

    researcher_only = "/api/v1/datasets/999999/imports/"
    assert [get(u, researcher_only) == 403 for u in (annotator, researcher, admin_user)] == [True, False, False]
    assert [get(u, "/api/v1/campaigns/") for u in (annotator, researcher, admin_user, outsider)] == [200, 200, 200, 403]
    root = User.objects.create_superuser("root", password="root-pw")  # no group: superusers are admins
    assert get(root, researcher_only) != 403
    key = Token.objects.create(user=User.objects.create_user("gone", password="x")).key
    User.objects.filter(username="gone").update(is_active=False)
    assert get(key, "/api/v1/campaigns/") in (401, 403)
    assert get("0" * 40, "/api/v1/campaigns/") in (401, 403)
    token = Token.objects.get(user=annotator).key
    with django_assert_num_queries(2):  # token with user and role; the campaign list
        assert Client().get("/api/v1/campaigns/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
