"""/api/v1/apply-jobs/ and the apply pages: roles, validation, progress, cancel/resume, the command."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from classifier.models import ApplyJob
from classifier.services.apply import apply_job_finalize, apply_shard_run
from tests.classifier.apply_factories import make_run_pair, write_shards

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(media_root: Path) -> tuple:
    return make_run_pair(Path(settings.ARTIFACTS_ROOT))


@pytest.fixture
def shards(media_root: Path) -> Path:
    folder = media_root.parent / "shards"
    write_shards(folder, 2, n=3)
    return folder


def test_it_creates_a_job_for_researchers_only(api, researcher, annotator, outsider, runs, shards) -> None:
    body = {"name": "laion", "shards": str(shards / "{00000..00001}.tar"), "natural_run": runs[0].id,
            "rendition_run": runs[1].id}
    assert api(None).post("/api/v1/apply-jobs/", body, format="json").status_code in (401, 403)
    assert api(outsider).post("/api/v1/apply-jobs/", body, format="json").status_code == 403
    assert api(annotator).get("/api/v1/apply-jobs/").status_code == 403
    response = api(researcher).post("/api/v1/apply-jobs/", body, format="json")
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["shards_total"] == 2 and job["status"] == "running"
    assert job["thresholds"]["strict"] == {"natural": 0.6, "rendition": 0.6}
    assert job["progress"]["shards"]["queued"] == 2
    listed = api(researcher).get("/api/v1/apply-jobs/").json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]


def test_it_rejects_bad_input_with_reasons(api, researcher, runs, shards, tmp_path) -> None:
    base = {"natural_run": runs[0].id, "rendition_run": runs[1].id}
    cases = [
        ({"shards": ""}, "exactly one input"),
        ({"shards": str(shards / "{00000..00005}.tar")}, "4 shard(s)"),
        ({"shards": "/etc/*.conf"}, "outside the allowed folders"),
    ]
    for extra, reason in cases:
        response = api(researcher).post("/api/v1/apply-jobs/", {**base, **extra}, format="json")
        assert response.status_code == 400 and reason in response.json()["detail"], response.content
    runs[1].extractor = "timm:efficientnet_lite0/pypi"
    runs[1].save()
    response = api(researcher).post("/api/v1/apply-jobs/", {**base, "shards": str(shards / "*.tar")}, format="json")
    assert response.status_code == 400 and "different extractors" in response.json()["detail"]


def test_it_shows_progress_summary_and_cancels(api, researcher, client, runs, shards) -> None:
    body = {"shards": str(shards / "*.tar"), "natural_run": runs[0].id, "rendition_run": runs[1].id,
            "device": "cpu"}
    job_id = api(researcher).post("/api/v1/apply-jobs/", body, format="json").json()["id"]
    for shard in ApplyJob.objects.get(pk=job_id).shards.all():
        apply_shard_run(shard_id=shard.id)
    apply_job_finalize(job_id=job_id)
    detail = api(researcher).get(f"/api/v1/apply-jobs/{job_id}/").json()
    assert detail["status"] == "succeeded" and detail["summary"]["total"] == 6
    assert detail["progress"]["rows"] == 6 and detail["progress"]["percent"] == 100.0
    client.force_login(researcher)
    page = client.get(f"/classifier/apply/{job_id}/").content.decode()
    assert 'id="table7"' in page and "natural_strict" in page
    assert f"data-job=\"{job_id}\"" in client.get("/classifier/apply/").content.decode()
    # Cancel a second job: its status and flag change; resume puts it back to running.
    job2 = api(researcher).post("/api/v1/apply-jobs/", body, format="json").json()["id"]
    assert api(researcher).post(f"/api/v1/apply-jobs/{job2}/cancel/").json()["status"] == "cancelled"
    resumed = api(researcher).post(f"/api/v1/apply-jobs/{job2}/resume/").json()
    assert resumed["status"] == "running" and resumed["cancel_requested"] is False


def test_it_keeps_pages_behind_the_researcher_role(client, annotator, runs) -> None:
    client.force_login(annotator)
    assert client.get("/classifier/apply/").status_code == 403
    assert client.get("/classifier/clean/").status_code == 403


def test_it_runs_the_command_in_process_and_reruns_as_a_noop(runs, shards, capsys) -> None:
    pattern = str(shards / "{00000..00001}.tar")
    call_command("apply_classifier", shards=pattern, natural_run=runs[0].id, rendition_run=runs[1].id,
                 device="cpu", verbosity=0)
    out = capsys.readouterr().out
    assert "| natural |" in out and ": succeeded, 2/2 shards, 6 rows" in out
    job = ApplyJob.objects.get()
    call_command("apply_classifier", resume=job.id, verbosity=0)
    assert "0 shard(s) put back" in capsys.readouterr().out
    with pytest.raises(CommandError, match="do not exist"):
        call_command("apply_classifier", shards=str(shards / "{00000..00009}.tar"), natural_run=runs[0].id,
                     rendition_run=runs[1].id)
    with pytest.raises(CommandError, match="--natural-run"):
        call_command("apply_classifier", shards=pattern)
    out_dir = Path(job.out_dir).parent / "resharded"
    call_command("reshard", job=job.id, subset="natural_default", out=str(out_dir), shard_size=2, verbosity=0)
    assert "resharded" in capsys.readouterr().out and (out_dir / "manifest.json").exists()


def test_it_keeps_apply_jobs_and_cleanings_from_everyone_but_researchers(researcher, admin_user, annotator,
                                                                         outsider) -> None:
    from django.http import Http404

    from classifier.models import CleanTestset
    from classifier.selectors.apply import (
        apply_jobs_for_user,
        cleans_for_user,
        get_apply_job_for_user,
        get_clean_for_user,
    )
    from tests.factories import make_dataset

    job = ApplyJob.objects.create(name="pool", extractor="x", natural_head_path="n", rendition_head_path="r")
    clean = CleanTestset.objects.create(source=make_dataset(kind="testset", expected_domain="rendition"),
                                        result_name="clean", extractor="x", natural_head_path="n",
                                        rendition_head_path="r")
    for reader in (researcher, admin_user):
        assert list(apply_jobs_for_user(user=reader)) == [job] and list(cleans_for_user(user=reader)) == [clean]
        assert get_apply_job_for_user(user=reader, job_id=job.id) == job
        assert get_clean_for_user(user=reader, clean_id=clean.id) == clean
    for reader in (annotator, outsider):
        assert not apply_jobs_for_user(user=reader).exists() and not cleans_for_user(user=reader).exists()
        with pytest.raises(Http404):
            get_apply_job_for_user(user=reader, job_id=job.id)
        with pytest.raises(Http404):
            get_clean_for_user(user=reader, clean_id=clean.id)
