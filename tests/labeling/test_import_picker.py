"""Import paths picked from the server's import roots only, and a dataset's image count that
follows its import."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from labeling.models import Dataset, ImportJob
from labeling.services.datasets import import_run
from tests.browser import login
from tests.factories import jpeg_bytes


def _photos(root: Path, n: int = 3) -> Path:
    folder = root / "photos"
    folder.mkdir()
    for i in range(n):
        (folder / f"img{i}.jpg").write_bytes(jpeg_bytes(seed=i))
    return folder


@pytest.mark.django_db
def test_it_lists_only_what_lies_inside_the_import_roots(api: Any, researcher: Any, annotator: Any,
                                                          media_root: Path, tmp_path: Path) -> None:
    root = Path(settings.IMPORT_ROOTS[0])
    folder = _photos(root)
    (folder / "escape").symlink_to("/etc")
    roots = api(researcher).get("/api/v1/files/").json()
    assert [e["path"] for e in roots["entries"]] == [str(root.resolve())] and roots["parent"] is None
    listing = api(researcher).get("/api/v1/files/", {"path": str(folder)}).json()
    assert [(e["name"], e["kind"]) for e in listing["entries"]] == [("img0.jpg", "file"), ("img1.jpg", "file"),
                                                                     ("img2.jpg", "file")]  # the symlink out is hidden
    assert listing["parent"] == str(root.resolve())
    for outside in ("/etc", str(folder / "escape"), f"{folder}/../../..", "relative/path"):
        refused = api(researcher).get("/api/v1/files/", {"path": outside})
        assert refused.status_code == 400, outside
    assert "outside the import roots" in api(researcher).get("/api/v1/files/", {"path": "/etc"}).json()["detail"]
    assert "is not a folder" in api(researcher).get("/api/v1/files/", {"path": str(folder / "img0.jpg")}).json()[
        "detail"]
    assert api(annotator).get("/api/v1/files/").status_code == 403
    assert os.path.isdir("/etc")  # the refusal is the roots', not a missing folder


@pytest.mark.e2e
def test_it_picks_a_folder_and_the_image_count_follows_the_import(transactional_db: None, live_server: Any,
                                                                  page: Any, researcher: Any,
                                                                  media_root: Path) -> None:
    root = Path(settings.IMPORT_ROOTS[0]).resolve()
    folder = _photos(root)
    login(page, live_server.url, "res", "res-pw")
    page.goto(f"{live_server.url}/datasets/")
    page.fill("#import-form [name=dataset]", "picked")
    page.click("#browse-source")
    page.locator(f"#picker-entries button[data-path='{root}']").click()
    page.locator("#picker-entries button", has_text="photos/").click()
    expect(page.locator("#picker-path")).to_have_text(str(folder))
    assert page.locator("#picker-entries button[data-kind=file]").count() == 3
    page.click("#picker-use")
    assert page.locator("#import-form [name=source]").input_value() == str(folder)
    assert page.locator("#file-picker").is_hidden()
    page.click("#import-form button[type=submit]")
    dataset = Dataset.objects.get(name="picked")
    count = page.locator(f"[data-dataset-count='{dataset.id}']")
    assert count.inner_text() == "0"
    import_run(job=ImportJob.objects.get(dataset=dataset))  # what the default worker does; the page is polling
    expect(count).to_have_text("3")
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")
    assert page.locator(f"[data-dataset-count='{dataset.id}']").inner_text() == "3"
