"""Indexes, dedup and contamination through services, the API and the commands (real PostgreSQL)."""
from __future__ import annotations

from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from classifier.ml.neighbours import load_uid_list, subtract_uid_list, uids_from_array
from classifier.models.neighbours import ContaminationMatch, VectorIndex
from classifier.services.neighbours import (
    contamination_exclusion_path,
    contamination_report_create,
    contamination_report_execute,
    dedup_run_create,
    dedup_run_execute,
    vector_index_build,
    vector_index_create,
)
from domainsieve.jobs import JobStatus
from labeling.models import Image
from tests.classifier.neighbour_factories import EXTRACTOR, World, unit, write_embeddings
from tests.factories import make_dataset, make_image


@pytest.fixture
def world(db: None, media_root: Path) -> World:
    return World()


def built_index(world: World) -> VectorIndex:
    index = vector_index_create(embedding_sets=[world.pool_set], enqueue=False)
    return vector_index_build(index_id=index.id)


def uid(image: Image) -> str:
    image.refresh_from_db()
    return image.uid


def test_it_records_what_an_index_was_built_from(world: World) -> None:
    index = built_index(world)
    assert index.status == JobStatus.SUCCEEDED and index.extractor == EXTRACTOR
    assert (index.rows, index.size, index.factory, index.done, index.total) == (12, 12, "Flat", 12, 12)
    assert index.index_bytes > 0 and index.peak_memory_bytes > 0 and index.build_seconds is not None
    assert index.parameters["shards"] == 1 and index.parameters["dim"] == 16


def test_it_dedups_a_pool_keeping_the_largest_image_of_each_cluster(world: World) -> None:
    run = dedup_run_execute(run_id=dedup_run_create(index=built_index(world), thresholds=[0.95, 0.975],
                                                    enqueue=False).id)
    low, high = run.counts
    assert (low["threshold"], low["clusters"], low["in_clusters"], low["removed"], low["kept"]) == (0.95, 2, 5, 3, 9)
    # At 0.975 only p0-p1 (0.98) remain linked; p0-p2 (0.97) and p3-p4 (0.96) fall apart.
    assert (high["clusters"], high["removed"]) == (1, 1)
    kept = load_uid_list(Path(settings.ARTIFACTS_ROOT) / low["keep_path"])
    hexes = uids_from_array(kept)
    assert kept.dtype == np.dtype("u8,u8") and hexes == sorted(set(hexes))  # sorted DataComp list
    kept_uids = set(hexes)
    assert uid(world.p[2]) in kept_uids  # most pixels wins its cluster
    assert not {uid(world.p[0]), uid(world.p[1])} & kept_uids
    assert len({uid(world.p[3]), uid(world.p[4])} & kept_uids) == 1  # same pixels: the lower uid stays
    assert min(uid(world.p[3]), uid(world.p[4])) in kept_uids
    removed = set(uids_from_array(load_uid_list(Path(settings.ARTIFACTS_ROOT) / low["removed_path"])))
    assert removed | kept_uids == {uid(i) for i in world.p} and not removed & kept_uids


def test_it_reports_test_images_with_pool_twins_and_an_exclusion_list(world: World) -> None:
    report = contamination_report_create(index=built_index(world), testsets=[world.testset, world.empty],
                                         threshold=0.9, k=3, enqueue=False)
    report = contamination_report_execute(report_id=report.id)
    by_name = {s["name"]: s for s in report.summary}
    test = by_name["testset"]
    assert (test["images"], test["with_twin"], test["fraction"]) == (4, 2, 0.5)
    assert 0.92 < test["similarity"]["min"] < 0.94 and 0.98 < test["similarity"]["max"] < 1.0
    assert sum(test["histogram"]["counts"]) == 2
    assert by_name["empty-testset"] == {**by_name["empty-testset"], "images": 0, "with_twin": 0, "similarity": None}
    pairs = {(m.test_image_id, m.pool_image_id) for m in ContaminationMatch.objects.filter(report=report)}
    assert pairs == {(world.t[0].id, world.p[5].id), (world.t[1].id, world.p[6].id)}
    exclusion = contamination_exclusion_path(report=report)
    assert set(uids_from_array(load_uid_list(exclusion))) == {uid(world.p[5]), uid(world.p[6])}
    # The documented helper drops them from a subset.
    subset = subtract_uid_list([uid(i) for i in world.p], exclusion)
    assert len(subset) == 10 and uid(world.p[5]) not in uids_from_array(subset)


def test_it_does_not_count_a_test_image_as_its_own_twin(world: World) -> None:
    both = vector_index_create(embedding_sets=[world.pool_set, world.test_set], enqueue=False)
    both = vector_index_build(index_id=both.id)
    report = contamination_report_execute(report_id=contamination_report_create(
        index=both, testsets=[world.testset], threshold=0.9, enqueue=False).id)
    assert report.summary[0]["with_twin"] == 2


def test_it_gives_an_empty_report_for_an_empty_test_set(world: World) -> None:
    report = contamination_report_execute(report_id=contamination_report_create(
        index=built_index(world), testsets=[world.empty], threshold=0.5, enqueue=False).id)
    assert report.status == JobStatus.SUCCEEDED and report.exclusion_count == 0
    assert report.summary[0]["images"] == 0 and report.summary[0]["with_twin"] == 0


def test_it_dedups_an_empty_pool_to_empty_counts(db: None, media_root: Path) -> None:
    empty = make_dataset(name="empty-pool")
    embedding_set = write_embeddings(empty, [], np.zeros((0, 16), np.float32))
    index = vector_index_build(index_id=vector_index_create(embedding_sets=[embedding_set], enqueue=False).id)
    run = dedup_run_execute(run_id=dedup_run_create(index=index, thresholds=[0.9], enqueue=False).id)
    assert run.status == JobStatus.SUCCEEDED and run.counts[0]["total"] == 0 and run.counts[0]["removed"] == 0


# ---------------------------------------------------------------- API: bad input is a 400 with the reason


def test_it_refuses_thresholds_outside_zero_one_over_the_api(world: World, api: type, researcher: User) -> None:
    index = built_index(world)
    for threshold in (1.5, -0.1):
        response = api(researcher).post("/api/v1/contamination-reports/", {
            "index": index.id, "testsets": [world.testset.id], "threshold": threshold}, format="json")
        assert response.status_code == 400 and "[0, 1]" in response.json()["detail"]
        response = api(researcher).post("/api/v1/dedup-runs/", {"index": index.id, "thresholds": [0.9, threshold]},
                                        format="json")
        assert response.status_code == 400 and "[0, 1]" in response.json()["detail"]


def test_it_refuses_a_test_set_embedded_by_another_extractor(world: World, api: type, researcher: User) -> None:
    other = make_dataset(name="other-testset")
    images = [make_image(dataset=other, seed=900 + i) for i in range(2)]
    write_embeddings(other, images, unit(np.random.default_rng(1), 2), extractor="openclip:ViT-B-32/openai")
    index = built_index(world)
    response = api(researcher).post("/api/v1/contamination-reports/", {
        "index": index.id, "testsets": [other.id], "threshold": 0.9}, format="json")
    assert response.status_code == 400
    assert "extractor mismatch" in response.json()["detail"] and "openclip:ViT-B-32/openai" in response.json()["detail"]
    response = api(researcher).post("/api/v1/contamination-reports/", {
        "index": index.id, "testsets": [world.testset.id], "threshold": 0.9,
        "extractor": "openclip:ViT-B-32/openai"}, format="json")
    assert response.status_code == 400 and "extractor mismatch" in response.json()["detail"]


def test_it_refuses_an_index_over_two_extractors(world: World, api: type, researcher: User) -> None:
    other = write_embeddings(world.testset, world.t, unit(np.random.default_rng(2), 4), extractor="timm:resnet50")
    response = api(researcher).post("/api/v1/vector-indexes/", {"embedding_sets": [world.pool_set.id, other.id]},
                                    format="json")
    assert response.status_code == 400 and "different extractors" in response.json()["detail"]
    response = api(researcher).post("/api/v1/vector-indexes/", {"embedding_sets": [world.pool_set.id],
                                                                "factory": "HNSW32;touch /tmp/x"}, format="json")
    assert response.status_code == 400 and "not allowed" in response.json()["detail"]


def test_it_hides_neighbour_jobs_from_annotators(world: World, api: type, annotator: User) -> None:
    index = built_index(world)
    assert api(annotator).get("/api/v1/vector-indexes/").status_code == 403
    assert api(annotator).get(f"/api/v1/images/{world.p[0].id}/similar/").status_code == 403
    assert index.id


# ---------------------------------------------------------------- find more like this


def test_it_finds_unlabeled_pool_images_like_a_campaign_image(world: World, api: type, researcher: User) -> None:
    from labeling.models import CampaignItem
    from labeling.services.campaigns import campaign_create

    built_index(world)
    campaign = campaign_create(name="c", datasets=[world.pool], user=researcher)
    CampaignItem.objects.filter(campaign=campaign, image=world.p[1]).update(labels_count=1)  # p1 is labeled
    response = api(researcher).get(f"/api/v1/images/{world.p[0].id}/similar/?k=2&campaign={campaign.id}")
    assert response.status_code == 200, response.content
    got = response.json()["neighbours"]
    assert [n["image"] for n in got][:1] == [world.p[2].id]  # p1 is nearer but labeled; p0 itself is left out
    assert world.p[0].id not in [n["image"] for n in got] and world.p[1].id not in [n["image"] for n in got]
    assert got[0]["similarity"] > 0.96 and got[0]["thumb"] == f"/api/v1/images/{world.p[2].id}/thumb/"
    outside = make_image(dataset=make_dataset(name="elsewhere"), seed=999)
    response = api(researcher).get(f"/api/v1/images/{outside.id}/similar/?campaign={campaign.id}")
    assert response.status_code == 400 and "not in campaign" in response.json()["detail"]
    response = api(researcher).get(f"/api/v1/images/{outside.id}/similar/")
    assert response.status_code == 400 and "no finished index" in response.json()["detail"]


def test_it_creates_a_campaign_from_the_neighbours_of_seeds(world: World, api: type, researcher: User) -> None:
    index = built_index(world)
    response = api(researcher).post("/api/v1/campaigns/from-neighbours/", {
        "name": "more like p0 and p3", "seeds": [world.p[0].id, world.p[3].id], "k": 2, "index": index.id},
        format="json")
    assert response.status_code == 201, response.content
    from labeling.models import Campaign

    campaign = Campaign.objects.get(pk=response.json()["id"])
    items = set(campaign.items.values_list("image_id", flat=True))
    assert {world.p[0].id, world.p[1].id, world.p[2].id, world.p[3].id, world.p[4].id} <= items
    assert len(items) == response.json()["items"] <= 6


# ---------------------------------------------------------------- commands


def test_it_dedups_from_the_command_line(world: World, tmp_path: Path) -> None:
    out = StringIO()
    call_command("dedup", datasets="pool", extractor=EXTRACTOR, thresholds="0.95,0.975", out=str(tmp_path / "lists"),
                 stdout=out, verbosity=0)
    text = out.getvalue()
    assert "t=0.95: 12 images, 2 clusters holding 5, removed 3, kept 9" in text
    assert text.strip().splitlines()[-1].startswith("dedup run ") and "removed 3 of 12" in text
    assert {p.name for p in (tmp_path / "lists").iterdir()} == {"keep_t0.95.npy", "removed_t0.95.npy",
                                                                "keep_t0.975.npy", "removed_t0.975.npy"}
    # The index is reused by a second run rather than rebuilt.
    call_command("dedup", datasets="pool", extractor=EXTRACTOR, thresholds="0.9", stdout=StringIO(), verbosity=0)
    assert VectorIndex.objects.count() == 1


def test_it_refuses_bad_input_on_the_command_line(world: World) -> None:
    with pytest.raises(CommandError, match=r"\[0, 1\]"):
        call_command("dedup", datasets="pool", extractor=EXTRACTOR, thresholds="1.2", verbosity=0)
    with pytest.raises(CommandError, match="no dataset named 'nope'"):
        call_command("dedup", datasets="nope", extractor=EXTRACTOR, verbosity=0)
    with pytest.raises(CommandError, match="no finished timm:resnet50 embeddings"):
        call_command("dedup", datasets="pool", extractor="timm:resnet50", verbosity=0)
    index = built_index(world)
    with pytest.raises(CommandError, match="extractor mismatch"):
        call_command("find_contamination", index=index.id, testsets="testset", extractor="timm:resnet50",
                     verbosity=0)
    with pytest.raises(CommandError, match=r"\[0, 1\]"):
        call_command("find_contamination", index=index.id, testsets="testset", threshold="2", verbosity=0)


def test_it_finds_contamination_from_the_command_line(world: World, tmp_path: Path) -> None:
    out = StringIO()
    call_command("find_contamination", datasets="pool", extractor=EXTRACTOR, testsets="testset,empty-testset",
                 threshold="0.9", out=str(tmp_path / "exclude.npy"), stdout=out, verbosity=0)
    text = out.getvalue()
    assert "testset: 2 of 4 test images have a near twin" in text
    assert "empty-testset: 0 of 0 test images have a near twin" in text
    assert "2 pool uids to exclude" in text.splitlines()[-1]
    assert len(load_uid_list(tmp_path / "exclude.npy")) == 2


def test_it_records_a_failed_build_and_resumes_it(world: World, django_capture_on_commit_callbacks: object) -> None:
    chunk = Path(settings.ARTIFACTS_ROOT) / world.pool_set.path / "chunk_00001.npy"
    saved = chunk.read_bytes()
    chunk.unlink()
    index = vector_index_create(embedding_sets=[world.pool_set], enqueue=False)
    with pytest.raises(FileNotFoundError):
        vector_index_build(index_id=index.id)
    index.refresh_from_db()
    assert index.status == JobStatus.FAILED and "chunk_00001.npy" in index.error
    chunk.write_bytes(saved)
    from classifier.services.neighbours import vector_index_resume

    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        assert vector_index_resume(index=index).status == JobStatus.QUEUED
    assert len(callbacks) == 1  # the build task is queued again
    index = vector_index_build(index_id=index.id)
    assert index.status == JobStatus.SUCCEEDED and index.size == 12 and index.error == ""


def test_it_lists_a_reports_matches_per_test_set_over_the_api(world: World, api: type, researcher: User) -> None:
    report = contamination_report_execute(report_id=contamination_report_create(
        index=built_index(world), testsets=[world.testset], threshold=0.9, enqueue=False).id)
    body = api(researcher).get(f"/api/v1/contamination-reports/{report.id}/matches/?dataset={world.testset.id}").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [(m["test_image"], m["pool_image"]) for m in rows] == [(world.t[0].id, world.p[5].id),
                                                                  (world.t[1].id, world.p[6].id)]
    detail = api(researcher).get(f"/api/v1/contamination-reports/{report.id}/").json()
    assert detail["summary"][0]["with_twin"] == 2 and detail["exclusion_count"] == 2


def test_it_indexes_an_apply_jobs_embeddings_and_refuses_a_shard_job(world: World) -> None:
    from classifier.models import ApplyJob
    from classifier.services.neighbours import NeighbourInputError

    on_embeddings = ApplyJob.objects.create(name="a", source=ApplyJob.Source.EMBEDDINGS, extractor=EXTRACTOR,
                                            embedding_set_id=world.pool_set.id, natural_head_path="n",
                                            rendition_head_path="r")
    index = vector_index_build(index_id=vector_index_create(apply_job=on_embeddings, enqueue=False).id)
    assert index.status == JobStatus.SUCCEEDED and index.size == 12 and index.source == "apply_job"
    on_shards = ApplyJob.objects.create(name="b", source=ApplyJob.Source.SHARDS, extractor=EXTRACTOR,
                                        pattern="/d/{0..9}.tar", natural_head_path="n", rendition_head_path="r")
    with pytest.raises(NeighbourInputError, match="stored no features"):
        vector_index_create(apply_job=on_shards, enqueue=False)
