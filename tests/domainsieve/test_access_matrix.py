"""Every URL the project serves refuses anonymous users and users without a role.

The URL list is read from the resolver, so a new page or endpoint is covered the day it is added.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

OPEN = {"/login/", "/api/v1/auth/token/"}


def _walk(patterns: list, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def _concrete(route: str) -> str | None:
    if route.startswith("admin/") or route.startswith("^"):
        return None  # Django admin has its own login and its own test
    path = re.sub(r"<int:\w+>", "1", route)
    path = re.sub(r"<(?:str|slug):\w+>", "x", path)
    path = re.sub(r"<path:\w+>", "x/y", path)
    return None if "<" in path or "(" in path else "/" + path


def project_urls() -> list[str]:
    return sorted({url for route in _walk(get_resolver().url_patterns) if (url := _concrete(route))})


def test_it_lists_the_contract_urls() -> None:
    urls = project_urls()
    for expected in ("/api/v1/datasets/", "/api/v1/campaigns/", "/api/v1/campaigns/1/next/",
                     "/api/v1/campaigns/1/agreement/", "/api/v1/classifier-runs/", "/api/v1/apply-jobs/",
                     "/api/v1/training-runs/", "/api/v1/eval-results/", "/api/v1/health/"):
        assert expected in urls


@pytest.mark.parametrize("url", project_urls())
def test_it_refuses_anonymous_users(client: Client, url: str) -> None:
    if url in OPEN:
        return
    for method in (client.get, client.post):
        response = method(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), (method.__name__, url, response.status_code)
        else:
            assert response.status_code == 302 and response["Location"].startswith("/login/"), (
                method.__name__, url, response.status_code)


@pytest.mark.parametrize("url", project_urls())
def test_it_refuses_users_without_a_role(client: Client, outsider, url: str) -> None:
    if url in OPEN or url == "/logout/":
        return
    client.force_login(outsider)
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code in (403, 405), (method.__name__, url, response.status_code)


# What an annotator may reach: labeling, its own progress, images, docs and health. Everything
# else (imports, agreement, adjudication, exports, classifiers, apply jobs, training) is refused.
ANNOTATOR_REACHES = {
    "/", "/guidelines/", "/campaigns/", "/campaigns/1/grid/", "/campaigns/1/single/",
    "/api/v1/campaigns/", "/api/v1/campaigns/1/", "/api/v1/campaigns/1/next/",
    "/api/v1/campaigns/1/annotations/", "/api/v1/campaigns/1/progress/",
    "/api/v1/datasets/", "/api/v1/datasets/1/", "/api/v1/datasets/1/images/",
    "/api/v1/images/1/", "/api/v1/images/1/file/", "/api/v1/images/1/thumb/",
    "/api/v1/docs/", "/api/v1/schema/", "/api/v1/health/",
    "/account/", "/account/token/revoke/", "/account/password/",
}


@pytest.mark.parametrize("url", [u for u in project_urls() if u not in ANNOTATOR_REACHES | OPEN | {"/logout/"}])
def test_it_refuses_annotators_everything_beyond_labeling(client: Client, annotator, url: str) -> None:
    client.force_login(annotator)
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code in (403, 405), (method.__name__, url, response.status_code)
