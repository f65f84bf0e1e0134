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


# What an annotator may reach: labeling, its own labels, progress and quality (and its view of a
# campaign's page), images, docs and health. Everything
# else (imports, agreement, adjudication, exports, classifiers, apply jobs, training) is refused.
ANNOTATOR_REACHES = {
    "/", "/guidelines/", "/campaigns/", "/campaigns/1/", "/campaigns/1/grid/", "/campaigns/1/single/",
    "/me/labels/", "/me/progress/", "/api/v1/me/annotations/", "/api/v1/me/progress/",
    "/api/v1/campaigns/", "/api/v1/campaigns/1/", "/api/v1/campaigns/1/next/",
    "/api/v1/campaigns/1/annotations/", "/api/v1/campaigns/1/progress/",
    "/campaigns/1/me/", "/api/v1/campaigns/1/me/quality/",
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


# -- campaign members and non-members ------------------------------------------------------------
# Every URL an annotator reaches that names a campaign, an image or a dataset, built with real ids:
# a member of the campaign gets through (200, or 405/400 where the method or body is wrong); an
# annotator who is not a member gets 404 for each, as for a campaign that does not exist.

def _concrete_with(route: str, ids: dict[str, int]) -> str | None:
    if route.startswith("admin/") or route.startswith("^"):
        return None
    path = re.sub(r"<int:(\w+)>", lambda m: str(ids[m[1]]) if m[1] in ids else "<x>", route)
    return None if "<" in path or "(" in path else "/" + path


def _annotator_urls_with(ids: dict[str, int]) -> list[str]:
    reached = []
    for route in _walk(get_resolver().url_patterns):
        generic = _concrete(route)
        if generic in ANNOTATOR_REACHES and "<int:" in route:
            url = _concrete_with(route, ids)
            if url:
                reached.append(url)
    return sorted(set(reached))


@pytest.fixture
def members_campaign(media_root, researcher, annotator) -> dict[str, int]:
    from labeling.services.campaigns import campaign_create
    from tests.factories import make_dataset, make_images

    dataset = make_dataset(name="members-pool")
    images = make_images(dataset=dataset, n=4)
    campaign = campaign_create(name="members", datasets=[dataset], user=researcher, members=[annotator])
    return {"campaign_id": campaign.id, "image_id": images[0].id, "dataset_id": dataset.id}


def test_it_covers_campaign_image_and_dataset_urls(members_campaign: dict[str, int]) -> None:
    urls = _annotator_urls_with(members_campaign)
    c, i = members_campaign["campaign_id"], members_campaign["image_id"]
    for expected in (f"/campaigns/{c}/grid/", f"/campaigns/{c}/single/", f"/api/v1/campaigns/{c}/next/",
                     f"/api/v1/campaigns/{c}/annotations/", f"/api/v1/campaigns/{c}/progress/",
                     f"/api/v1/images/{i}/", f"/api/v1/images/{i}/thumb/", f"/api/v1/images/{i}/file/"):
        assert expected in urls


def test_it_lets_members_reach_their_campaign(client: Client, annotator, members_campaign) -> None:
    client.force_login(annotator)
    for url in _annotator_urls_with(members_campaign):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (200, 400, 405), (method.__name__, url, response.status_code)


def test_it_answers_non_members_404_for_the_campaign_its_images_and_datasets(
        client: Client, annotator2, members_campaign) -> None:
    client.force_login(annotator2)
    for url in _annotator_urls_with(members_campaign):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (404, 405), (method.__name__, url, response.status_code)
            if response.status_code == 405:  # the method is wrong; the other one must say 404
                assert (client.post if method == client.get else client.get)(url).status_code == 404, url
    listed = client.get("/api/v1/campaigns/").json()
    assert members_campaign["campaign_id"] not in [c["id"] for c in listed]
    assert members_campaign["dataset_id"] not in [d["id"] for d in client.get("/api/v1/datasets/").json()]
