"""Login, admin login and the token endpoint are throttled per account and per client address, in
the database (django-axes), with X-Forwarded-For believed only behind configured proxies."""
from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT


def login_page(client: Client, username: str, password: str, ip: str = "10.0.0.1", **extra: str) -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def token(client: Client, username: str, password: str, ip: str = "10.0.0.1", **extra: str) -> Any:
    return client.post("/api/v1/auth/token/", {"username": username, "password": password},
                       content_type="application/json", REMOTE_ADDR=ip, **extra)


def test_it_locks_an_account_after_failures_from_many_addresses(client: Client, annotator: Any) -> None:
    statuses = [login_page(client, "ann", "wrong", ip=f"10.0.1.{i}").status_code for i in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429]  # the form again, then the lockout
    response = login_page(client, "ann", "ann-pw", ip="10.0.2.1")  # right password, fresh address
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert response["Retry-After"] == str(15 * 60)
    assert token(client, "ann", "ann-pw", ip="10.0.2.2").status_code == 429
    # The count lives in the database, where every web process reads it.
    assert AccessAttempt.objects.filter(username="ann").exists()


def test_it_locks_an_address_that_tries_many_accounts(client: Client, annotator: Any, researcher: Any) -> None:
    for i in range(LIMIT):
        login_page(client, f"guess{i}", "wrong", ip="10.0.3.3")
    assert login_page(client, "res", "res-pw", ip="10.0.3.3").status_code == 429
    # Another address is not affected, and the right password there logs in.
    response = login_page(client, "res", "res-pw", ip="10.0.3.4")
    assert response.status_code == 302


def test_it_throttles_the_token_endpoint_with_json(client: Client, annotator: Any) -> None:
    statuses = [token(client, "ann", "wrong").status_code for _ in range(LIMIT)]
    assert statuses == [400] * (LIMIT - 1) + [429]
    response = token(client, "ann", "ann-pw")
    assert response.status_code == 429
    assert "Too many failed logins" in response.json()["detail"]


def test_it_throttles_the_admin_login(client: Client, admin_user: Any) -> None:
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "adm", "password": "wrong"}, REMOTE_ADDR="10.0.4.4")
    response = client.post("/admin/login/?next=/admin/", {"username": "adm", "password": "adm-pw"},
                           REMOTE_ADDR="10.0.4.5")
    assert response.status_code == 429


def test_it_lets_people_in_below_the_limit(client: Client, annotator: Any) -> None:
    for _ in range(LIMIT - 1):
        login_page(client, "ann", "wrong")
    assert login_page(client, "ann", "ann-pw").status_code == 302


def test_it_ignores_forwarded_for_without_a_configured_proxy(client: Client, annotator: Any) -> None:
    for i in range(LIMIT):
        login_page(client, f"guess{i}", "wrong", ip="10.0.5.5", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    # Rotating the header does not give the attacker a fresh address.
    response = login_page(client, "ann", "ann-pw", ip="10.0.5.5", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429


def test_it_reads_the_client_from_forwarded_for_behind_a_trusted_proxy(client: Client, annotator: Any,
                                                                       settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.9.9.9"
    for i in range(LIMIT):
        # The client forges a left-most entry; the proxy appends the real address on the right.
        login_page(client, f"guess{i}", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 198.51.100.7")
    locked = login_page(client, "ann", "ann-pw", ip=proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7")
    assert locked.status_code == 429
    # Another client behind the same proxy is its own address.
    other = login_page(client, "ann", "ann-pw", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 302
