"""Datasets and imports through HTTP: roles, validation, the researcher page, the real worker."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from labeling.models import Dataset, Image, ImportJob
from labeling.services.campaigns import campaign_create
from tests.conftest import wait_for
from tests.factories import make_dataset, make_images
from tests.labeling.test_import_support import run_import, write_images

pytestmark = pytest.mark.django_db


def test_it_lists_datasets_with_counts_to_researchers_and_annotators_theirs(api, annotator, researcher,
                                                                            media_root: Path) -> None:
    dataset = make_dataset(name="pool-a")
    make_images(dataset=dataset, n=3)
    make_images(dataset=make_dataset(name="pool-b"), n=1)
    campaign_create(name="labels pool-a", datasets=[dataset], user=researcher)
    everything = api(researcher).get("/api/v1/datasets/").json()
    assert [(d["name"], d["image_count"]) for d in everything] == [("pool-a", 3), ("pool-b", 1)]
    response = api(annotator).get("/api/v1/datasets/")
    assert response.status_code == 200
    assert [(d["name"], d["image_count"]) for d in response.json()] == [("pool-a", 3)]
    detail = api(annotator).get(f"/api/v1/datasets/{dataset.id}/")
    assert detail.json()["image_count"] == 3


def test_it_lets_researchers_create_datasets_and_refuses_annotators(api, annotator, researcher) -> None:
    body = {"name": "imagenet-sketch", "kind": "testset", "expected_domain": "rendition"}
    assert api(annotator).post("/api/v1/datasets/", body, format="json").status_code == 403
    assert api(None).post("/api/v1/datasets/", body, format="json").status_code in (401, 403)
    created = api(researcher).post("/api/v1/datasets/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["kind"] == "testset" and created.json()["image_count"] == 0
    again = api(researcher).post("/api/v1/datasets/", body, format="json")
    assert again.status_code == 400 and "exists already" in again.json()["name"][0]
    bad = api(researcher).post("/api/v1/datasets/", {"name": "x", "expected_domain": "cartoon"}, format="json")
    assert bad.status_code == 400 and "expected_domain" in bad.json()


def test_it_queues_an_import_for_researchers_only(api, annotator, researcher, media_root: Path, tmp_path: Path) -> None:
    dataset = make_dataset(name="pool")
    write_images(tmp_path / "src", range(2))
    body = {"source": str(tmp_path / "src"), "sample": 1, "seed": 3}
    assert api(annotator).post(f"/api/v1/datasets/{dataset.id}/imports/", body, format="json").status_code == 403
    response = api(researcher).post(f"/api/v1/datasets/{dataset.id}/imports/", body, format="json")
    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.options, job.created_by) == ("queued", {"sample": 1, "seed": 3, "class_names": "auto"},
                                                         researcher)
    assert api(annotator).get(f"/api/v1/imports/{job.id}/").status_code == 403
    assert api(researcher).get(f"/api/v1/imports/{job.id}/").json()["status"] == "queued"


def test_it_answers_400_for_a_source_outside_the_import_roots(api, researcher, media_root: Path) -> None:
    dataset = make_dataset()
    for source in ("/etc", "relative/path", f"{media_root}/../../../etc"):
        response = api(researcher).post(f"/api/v1/datasets/{dataset.id}/imports/", {"source": source}, format="json")
        assert response.status_code == 400, source
        assert "source" in response.json()
    assert not ImportJob.objects.exists()


def test_it_reports_progress_and_serves_the_rejects_csv(api, researcher, annotator, media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "src", range(2))
    (tmp_path / "src" / "broken.jpg").write_bytes(b"")
    job = run_import(tmp_path / "src")
    detail = api(researcher).get(f"/api/v1/imports/{job.id}/").json()
    assert {k: detail[k] for k in ("status", "total", "done", "imported", "rejected")} == {
        "status": "succeeded", "total": 3, "done": 3, "imported": 2, "rejected": 1}
    assert detail["summary"].startswith("imported 2, duplicate 0, rejected 1")
    csv_response = api(researcher).get(detail["rejects_url"])
    assert csv_response.status_code == 200 and csv_response["Content-Type"] == "text/csv"
    assert b"broken.jpg,empty file (0 bytes)" in b"".join(csv_response.streaming_content)
    assert api(annotator).get(detail["rejects_url"]).status_code == 403


def test_it_pages_a_datasets_images(api, annotator, researcher, media_root: Path) -> None:
    dataset = make_dataset()
    make_images(dataset=dataset, n=3)
    campaign_create(name="covers it", datasets=[dataset], user=researcher)
    page = api(annotator).get(f"/api/v1/datasets/{dataset.id}/images/").json()
    assert page["count"] == 3 and len(page["results"]) == 3
    assert page["results"][0]["thumb_url"] == f"/api/v1/images/{page['results'][0]['id']}/thumb/"
    assert api(annotator).get("/api/v1/datasets/999999/images/").status_code == 404


def test_it_still_builds_the_api_schema(api, annotator) -> None:
    response = api(annotator).get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/datasets/{dataset_id}/imports/" in response.content


def test_it_shows_the_datasets_page_and_starts_an_import_from_it(client: Client, researcher, annotator,
                                                               media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "src", range(2))
    client.force_login(annotator)
    assert client.get("/datasets/").status_code == 403
    client.force_login(researcher)
    page = client.get("/datasets/")
    assert page.status_code == 200 and b"Start import" in page.content and b"js/datasets.js" in page.content
    response = client.post("/datasets/", {"dataset": "new-pool", "kind": "pool", "source": str(tmp_path / "src"),
                                          "format": "auto", "seed": 0})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.dataset.name == "new-pool" and job.status == "queued"
    page = client.get("/datasets/")
    assert f'data-import-id="{job.id}"'.encode() in page.content
    refused = client.post("/datasets/", {"dataset": "other", "kind": "pool", "source": "/etc", "format": "auto"})
    assert refused.status_code == 200 and b"outside the import roots" in refused.content
    assert not Dataset.objects.filter(name="other").exists()  # no dataset left behind by a refused import
    detail = client.get(f"/datasets/{job.dataset_id}/")
    assert detail.status_code == 200 and b"new-pool" in detail.content


@pytest.mark.worker
def test_it_runs_a_posted_import_on_a_real_worker(api, researcher, celery_worker_proc, tmp_path: Path) -> None:
    write_images(tmp_path / "src", range(3))
    dataset = make_dataset(name="queued-pool")
    response = api(researcher).post(f"/api/v1/datasets/{dataset.id}/imports/", {"source": str(tmp_path / "src")},
                                    format="json")
    assert response.status_code == 202
    job_id = response.json()["id"]
    wait_for(lambda: ImportJob.objects.get(pk=job_id).status in ("succeeded", "failed"), timeout=90)
    job = ImportJob.objects.get(pk=job_id)
    assert job.status == "succeeded", job.error
    assert job.imported == 3 and Image.objects.filter(dataset=dataset).count() == 3


def test_it_keeps_import_jobs_from_everyone_but_researchers(annotator, researcher, admin_user, outsider,
                                                           media_root: Path) -> None:
    from django.http import Http404

    from labeling.selectors.datasets import import_get, import_list

    dataset = make_dataset(name="pool-imports")
    make_images(dataset=dataset, n=2)
    job = ImportJob.objects.create(dataset=dataset, source="/data/secret-folder", created_by=researcher)
    campaign_create(name="labels pool-imports", datasets=[dataset], user=researcher)  # the annotator sees the dataset
    for reader in (researcher, admin_user):
        assert import_list(user=reader) == [job] == import_list(user=reader, dataset=dataset)
        assert import_get(user=reader, job_id=job.id) == job
    for reader in (annotator, outsider):
        assert import_list(user=reader) == [] == import_list(user=reader, dataset=dataset)
        with pytest.raises(Http404):
            import_get(user=reader, job_id=job.id)
