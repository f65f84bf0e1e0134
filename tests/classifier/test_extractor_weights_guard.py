"""Extractor weights named by a path are loaded with torch.load on a gpu worker: only files that
resolve (symlinks followed) inside the data roots are accepted; each refusal is a 400."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from classifier.ml.extractors import save_tiny_checkpoint, tiny_extractor_string
from classifier.models import ClassifierRun, EmbeddingSet
from labeling.models import Dataset

pytestmark = pytest.mark.django_db


def _post_run(api: type, user: User, dataset: Dataset, extractor: str) -> tuple[int, str]:
    out = api(user).post("/api/v1/classifier-runs/", {
        "method": "centroid", "extractor": extractor, "labels_source": "intended_domain", "datasets": [dataset.id],
        "classes": ["natural", "rendition"]}, format="json")
    return out.status_code, out.json().get("detail", "")


def test_it_refuses_weights_outside_the_data_roots(api: type, researcher: User, labelled_pool: Dataset,
                                                   tmp_path_factory: pytest.TempPathFactory, media_root: Path) -> None:
    outside = save_tiny_checkpoint(tmp_path_factory.mktemp("elsewhere") / "tiny.pt")
    link = media_root.parent / "linked.pt"
    link.symlink_to(outside)
    for extractor in (tiny_extractor_string(outside), tiny_extractor_string(link), "openclip:ds-tiny-vit/../../x.pt"):
        status, detail = _post_run(api, researcher, labelled_pool, extractor)
        assert status == 400 and "extractor weights" in detail and "outside the data roots" in detail, detail
        out = api(researcher).post("/api/v1/embedding-sets/", {"dataset": labelled_pool.id, "extractor": extractor},
                                   format="json")
        assert out.status_code == 400 and "outside the data roots" in out.json()["detail"]
    assert not ClassifierRun.objects.exists() and not EmbeddingSet.objects.exists()


def test_it_accepts_weights_inside_the_data_roots(api: type, researcher: User, labelled_pool: Dataset,
                                                  media_root: Path) -> None:
    inside = save_tiny_checkpoint(media_root.parent / "artifacts" / "weights" / "tiny.pt")
    status, detail = _post_run(api, researcher, labelled_pool, tiny_extractor_string(inside))
    assert status == 201, detail
