"""Image metadata, thumbnails and files: logged-in users only, cached privately by content hash."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from labeling.models import Image
from tests.factories import make_dataset, make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(media_root: Path) -> Image:
    return make_image(dataset=make_dataset(), domain="natural", class_name="boat")


def test_it_refuses_images_to_anonymous_and_roleless_users(api, outsider, image) -> None:
    for suffix in ("", "thumb/", "file/"):
        assert api(None).get(f"/api/v1/images/{image.id}/{suffix}").status_code in (401, 403)
        assert api(outsider).get(f"/api/v1/images/{image.id}/{suffix}").status_code == 403


def test_it_serves_image_metadata_to_annotators(api, annotator, image) -> None:
    body = api(annotator).get(f"/api/v1/images/{image.id}/").json()
    assert (body["sha256"], body["class_name"], body["intended_domain"]) == (image.sha256, "boat", "natural")
    assert body["file_url"] == f"/api/v1/images/{image.id}/file/"


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
