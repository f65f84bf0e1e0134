"""Image metadata, thumbnails and files: logged-in users only, cached privately by content hash;
annotators read only images of campaigns they belong to, without the fields that hint at an answer."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from labeling.models import Campaign, Image
from labeling.services.campaigns import (
    campaign_create,
    campaign_mark_gold,
    campaign_set_members,
    campaign_set_status,
)
from tests.factories import make_dataset, make_image

pytestmark = pytest.mark.django_db

HIDDEN_FROM_ANNOTATORS = ("intended_domain", "meta", "class_name", "source", "caption", "gold_label")


@pytest.fixture
def image(media_root: Path, researcher) -> Image:
    """An image with tell-tale metadata, item of an open campaign (so every annotator may read it)."""
    dataset = make_dataset()
    image = make_image(dataset=dataset, domain="natural", class_name="boat")
    Image.objects.filter(pk=image.pk).update(meta={"gold_label": "natural", "url": "http://x/boat.jpg"},
                                             caption="a photo of a boat")
    campaign_create(name="open", datasets=[dataset], user=researcher)
    image.refresh_from_db()
    return image


def test_it_refuses_images_to_anonymous_and_roleless_users(api, outsider, image) -> None:
    for suffix in ("", "thumb/", "file/"):
        assert api(None).get(f"/api/v1/images/{image.id}/{suffix}").status_code in (401, 403)
        assert api(outsider).get(f"/api/v1/images/{image.id}/{suffix}").status_code == 403


def test_it_serves_image_metadata_to_researchers(api, researcher, admin_user, image) -> None:
    for user in (researcher, admin_user):
        body = api(user).get(f"/api/v1/images/{image.id}/").json()
        assert (body["sha256"], body["class_name"], body["intended_domain"]) == (image.sha256, "boat", "natural")
        assert body["meta"]["gold_label"] == "natural" and body["source"] == image.source


def test_it_shows_annotators_no_field_that_hints_at_the_answer(api, annotator, image) -> None:
    body = api(annotator).get(f"/api/v1/images/{image.id}/").json()
    assert (body["sha256"], body["width"]) == (image.sha256, 96)
    assert body["file_url"] == f"/api/v1/images/{image.id}/file/"
    assert not set(HIDDEN_FROM_ANNOTATORS) & set(body), body
    listed = api(annotator).get(f"/api/v1/datasets/{image.dataset_id}/images/").json()["results"]
    assert [row["id"] for row in listed] == [image.id]
    assert not set(HIDDEN_FROM_ANNOTATORS) & set(listed[0])
    dataset = api(annotator).get(f"/api/v1/datasets/{image.dataset_id}/").json()
    assert "expected_domain" not in dataset


def _urls(image: Image) -> list[str]:
    return [f"/api/v1/images/{image.id}/{suffix}" for suffix in ("", "thumb/", "file/")]


def test_it_refuses_annotators_images_of_no_campaign_of_theirs(api, annotator, researcher, media_root) -> None:
    loose = make_image(dataset=make_dataset(), domain="natural")
    for url in _urls(loose):
        assert api(annotator).get(url).status_code == 404, url
        assert api(researcher).get(url).status_code == 200, url
    assert api(annotator).get(f"/api/v1/datasets/{loose.dataset_id}/").status_code == 404
    assert api(annotator).get(f"/api/v1/datasets/{loose.dataset_id}/images/").status_code == 404
    assert loose.dataset_id not in [d["id"] for d in api(annotator).get("/api/v1/datasets/").json()]


def test_it_serves_a_members_campaign_images_to_members_only(api, annotator, annotator2, image) -> None:
    campaign = Campaign.objects.get(name="open")
    campaign_set_members(campaign=campaign, members=[annotator2])
    for url in _urls(image):
        assert api(annotator).get(url).status_code == 404, url
        assert api(annotator2).get(url).status_code == 200, url


def test_it_stops_serving_images_of_an_archived_campaign(api, annotator, image) -> None:
    campaign_set_status(campaign=Campaign.objects.get(name="open"), status=Campaign.Status.ARCHIVED)
    for url in _urls(image):
        assert api(annotator).get(url).status_code == 404, url


def test_it_serves_gold_items_like_any_other_without_their_label(api, annotator, image) -> None:
    campaign_mark_gold(campaign=Campaign.objects.get(name="open"), gold={image.id: "natural"})
    body = api(annotator).get(f"/api/v1/images/{image.id}/").json()
    assert "natural" not in str(body)
    assert api(annotator).get(f"/api/v1/images/{image.id}/thumb/").status_code == 200


@pytest.mark.parametrize("suffix", ["thumb", "file"])
def test_it_serves_bytes_with_private_caching_and_304(api, annotator, image, suffix: str) -> None:
    client = api(annotator)
    response = client.get(f"/api/v1/images/{image.id}/{suffix}/", HTTP_ACCEPT="image/avif,image/webp,image/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == f"private, max-age={settings.MEDIA_CACHE_SECONDS}"
    assert response["ETag"] == f'"{image.sha256}"'
    relative = image.thumb if suffix == "thumb" else image.file
    assert b"".join(response.streaming_content) == (Path(settings.MEDIA_ROOT) / relative).read_bytes()
    cached = client.get(f"/api/v1/images/{image.id}/{suffix}/", HTTP_IF_NONE_MATCH=f'W/"x", "{image.sha256}"')
    assert cached.status_code == 304 and cached["ETag"] == f'"{image.sha256}"' and not cached.content
    stale = client.get(f"/api/v1/images/{image.id}/{suffix}/", HTTP_IF_NONE_MATCH='"other"')
    assert stale.status_code == 200


def test_it_answers_404_for_unknown_images(api, annotator, media_root: Path) -> None:
    assert api(annotator).get("/api/v1/images/424242/thumb/").status_code == 404
