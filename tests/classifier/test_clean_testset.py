"""Cleaning test sets: keep the set's own domain at strict thresholds, mask empty classes, Table 12."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from classifier.models import CleanTestset
from classifier.services.apply import ApplyError, clean_testset_create, clean_testset_run, head_spec_from_runs
from labeling.models import Dataset
from tests.classifier.apply_factories import make_run_pair
from tests.factories import make_dataset, make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def testset(media_root: Path) -> Dataset:
    dataset = make_dataset(name="IN-Val", kind=Dataset.Kind.TESTSET, expected_domain="natural")
    for i in range(12):
        make_image(dataset=dataset, domain="rendition" if i % 3 == 0 else "natural", class_name=f"c{i % 4}")
    return dataset


@pytest.fixture
def spec(media_root: Path) -> object:
    natural, rendition = make_run_pair(Path(settings.ARTIFACTS_ROOT))
    return head_spec_from_runs(natural_run=natural, rendition_run=rendition)


def test_it_keeps_what_the_sets_own_classifier_labels_its_domain(testset: Dataset, spec) -> None:
    spec = dataclasses.replace(spec, strict={"natural": 0.6, "rendition": 0.2})  # both fire on some images
    clean = clean_testset_create(source=testset, spec=spec, enqueue=False)
    clean = clean_testset_run(clean_id=clean.id, device="cpu")
    assert clean.status == "succeeded" and clean.result.name == "IN-Val (clean)" and clean.rule == "own_classifier"
    scores = pd.read_parquet(clean.scores_path)
    # The paper's rule: the natural classifier alone decides for a natural set.
    assert scores.kept.tolist() == (scores.p_natural >= 0.6).tolist()
    assert ((scores.p_natural >= 0.6) & (scores.p_rendition >= 0.2)).any()  # the two-head rule would drop these
    kept_ids = set(scores.image_id[scores.kept])
    copied = clean.result.images.all()
    assert {im.meta["cleaned_from"] for im in copied} == kept_ids
    assert all(im.file for im in copied) and clean.result.expected_domain == "natural"
    c = clean.counts
    assert (c["images"], c["images_total"]) == (len(kept_ids), 12)
    kept_classes = set(scores.class_name[scores.kept])
    assert c["classes"] == len(kept_classes) and c["masked_classes"] == sorted({"c0", "c1", "c2", "c3"} - kept_classes)


def test_it_keeps_the_two_head_rule_as_an_option(testset: Dataset, spec) -> None:
    clean = clean_testset_run(clean_id=clean_testset_create(source=testset, spec=spec, rule="two_head",
                                                            enqueue=False).id, device="cpu")
    scores = pd.read_parquet(clean.scores_path)
    natural = (scores.p_natural >= 0.6) & ~(scores.p_rendition >= 0.6)
    assert scores.kept.tolist() == natural.tolist() and clean.counts["rule"] == "two_head"
    with pytest.raises(ApplyError, match="unknown cleaning rule"):
        clean_testset_create(source=testset, spec=spec, rule="vote", result_name="x", enqueue=False)


def test_it_masks_every_class_when_nothing_passes_and_exports_table12(testset: Dataset, spec, tmp_path: Path,
                                                                      api, researcher) -> None:
    everything = dataclasses.replace(spec, strict={"natural": 0.0, "rendition": 2.0})
    nothing = dataclasses.replace(spec, strict={"natural": 2.0, "rendition": 2.0})
    all_kept = clean_testset_run(clean_id=clean_testset_create(source=testset, spec=everything, result_name="all",
                                                               enqueue=False).id, device="cpu")
    none_kept = clean_testset_run(clean_id=clean_testset_create(source=testset, spec=nothing, result_name="none",
                                                                enqueue=False).id, device="cpu")
    assert (all_kept.counts["images"], all_kept.counts["classes"], all_kept.counts["masked_classes"]) == (12, 4, [])
    assert (none_kept.counts["images"], none_kept.counts["classes"]) == (0, 0)
    assert none_kept.counts["masked_classes"] == ["c0", "c1", "c2", "c3"]
    csv = api(researcher).get("/api/v1/clean-testsets/?export=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines() == [
        "test_set,classes,classes_total,images,images_total,images_pct", "IN-Val,4,4,12,12,100.0", "IN-Val,0,4,0,12,0.0"]
    call_command("clean_testset", table_only=True, export=str(tmp_path / "t12.csv"), verbosity=0)
    assert (tmp_path / "t12.csv").read_text().count("IN-Val") == 2


def test_it_refuses_sets_without_a_domain_and_taken_names(testset: Dataset, spec, media_root: Path) -> None:
    pool = make_dataset(name="pool")
    make_image(dataset=pool)
    with pytest.raises(ApplyError, match="claims no natural or rendition domain"):
        clean_testset_create(source=pool, spec=spec, enqueue=False)
    with pytest.raises(ApplyError, match="already exists"):
        clean_testset_create(source=testset, spec=spec, result_name="pool", enqueue=False)
    with pytest.raises(CommandError, match="no dataset named"):
        call_command("clean_testset", dataset="nope", natural_run=1, rendition_run=2)
    assert not CleanTestset.objects.exists()


def test_it_cleans_through_the_api_and_command(testset: Dataset, api, researcher, annotator, media_root: Path) -> None:
    natural, rendition = make_run_pair(Path(settings.ARTIFACTS_ROOT))
    body = {"dataset": testset.id, "natural_run": natural.id, "rendition_run": rendition.id, "name": "api-clean"}
    assert api(annotator).post("/api/v1/clean-testsets/", body, format="json").status_code == 403
    response = api(researcher).post("/api/v1/clean-testsets/", body, format="json")
    assert response.status_code == 201 and response.json()["status"] == "queued"
    call_command("clean_testset", dataset="IN-Val", natural_run=natural.id, rendition_run=rendition.id,
                 name="cli-clean", device="cpu", verbosity=0)
    clean = CleanTestset.objects.get(result_name="cli-clean")
    assert clean.status == "succeeded" and Dataset.objects.filter(name="cli-clean").exists()
    detail = api(researcher).get(f"/api/v1/clean-testsets/{clean.id}/").json()
    assert detail["counts"]["images_total"] == 12


def test_it_shows_the_clean_pages(testset: Dataset, spec, client, researcher) -> None:
    clean = clean_testset_run(clean_id=clean_testset_create(source=testset, spec=spec, enqueue=False).id,
                              device="cpu")
    client.force_login(researcher)
    listing = client.get("/classifier/clean/").content.decode()
    assert 'id="table12"' in listing and "IN-Val (clean)" in listing and "export=csv" in listing
    assert "Table 12: classes and images per clean set" in listing and "own_classifier" in listing
    detail = client.get(f"/classifier/clean/{clean.id}/").content.decode()
    assert f"of {clean.counts['images_total']} images" in detail
