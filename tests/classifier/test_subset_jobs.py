"""The subsets page: a fixed seeded subset of an apply job's pool, drawn and resharded on the default queue."""
from __future__ import annotations

import tarfile
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from classifier.apply.subsets import SubsetError
from classifier.apply.uids import array_to_uids, derive_uid, load_uid_list, save_uid_list
from classifier.models import ApplyJob, SubsetJob
from classifier.services.subsets import subset_job_create, subset_job_run
from domainsieve.jobs import JobStatus
from tests.training.conftest import write_shards

pytestmark = pytest.mark.django_db


@pytest.fixture
def apply_job(media_root: Path, tmp_path: Path) -> ApplyJob:
    """A finished apply job over 5 shards x 8 samples, its scores parquet holding every uid."""
    shards = tmp_path / "pool"
    write_shards(shards, shards=5, per_shard=8, seed=7)
    out = Path(settings.ARTIFACTS_ROOT) / "apply" / "1"
    (out / "scores").mkdir(parents=True)
    for i, tar_path in enumerate(sorted(shards.glob("*.tar"))):
        keys = [m.name[:-4] for m in tarfile.open(tar_path) if m.name.endswith(".jpg")]
        pd.DataFrame({"uid": [derive_uid(meta={}, key=k)[0] for k in keys]}).to_parquet(
            out / "scores" / f"{i:06d}.parquet")
    return ApplyJob.objects.create(name="pool", pattern=str(shards), extractor="x", natural_head_path="n",
                                   rendition_head_path="r", out_dir=str(out), status=JobStatus.SUCCEEDED)


def test_it_draws_and_reshards_a_subset_from_the_page(apply_job: ApplyJob, researcher: object) -> None:
    client = Client()
    client.force_login(researcher)
    page = client.get("/classifier/subsets/").content.decode()
    assert 'id="subset-form"' in page and "all scored uids (the whole pool)" in page
    response = client.post("/classifier/subsets/", {"name": "random_12", "apply_job": apply_job.id, "n": "12",
                                                    "seed": "5", "subset": "all", "reshard": "on"})
    assert response.status_code == 302
    job = SubsetJob.objects.get()
    assert (job.status, job.n, job.seed) == ("queued", 12, 5)
    job = subset_job_run(job_id=job.id)
    assert job.status == "succeeded" and job.result["drawn"] == 12 and job.result["pool"] == 40
    assert job.result["resharded"] == 12 and Path(job.result["uid_list"]).is_file()
    # The command draws the very same subset from the same pool, N and seed.
    call_command("make_subset", "--job", str(apply_job.id), "--n", "12", "--seed", "5",
                 "--out", str(Path(settings.ARTIFACTS_ROOT) / "cli.npy"), stdout=StringIO())
    assert array_to_uids(load_uid_list(job.result["uid_list"])) == array_to_uids(
        load_uid_list(Path(settings.ARTIFACTS_ROOT) / "cli.npy"))
    listing = client.get("/classifier/subsets/").content.decode()
    assert "12 / 40" in listing and job.result["pattern"] in listing


def test_it_refuses_bad_subset_requests(apply_job: ApplyJob, tmp_path: Path) -> None:
    with pytest.raises(SubsetError, match="a subset name is"):
        subset_job_create(name="../etc", apply_job=apply_job, n=5, enqueue=False)
    with pytest.raises(SubsetError, match="inside the import roots or ARTIFACTS_ROOT"):
        subset_job_create(name="x", apply_job=apply_job, n=5, exclude_path="/etc/passwd", enqueue=False)
    with pytest.raises(SubsetError, match="not a count"):
        subset_job_create(name="x", apply_job=apply_job, n="many", enqueue=False)
    running = ApplyJob.objects.create(name="r", extractor="x", natural_head_path="n", rendition_head_path="r",
                                      status=JobStatus.RUNNING)
    with pytest.raises(SubsetError, match="draw from a finished job"):
        subset_job_create(name="x", apply_job=running, n=5, enqueue=False)
    exclude = tmp_path / "contaminated.npy"
    save_uid_list(exclude, array_to_uids(load_uid_list_all(apply_job))[:35])
    job = subset_job_create(name="too-big", apply_job=apply_job, n=10, exclude_path=str(exclude), enqueue=False)
    with pytest.raises(SubsetError):
        subset_job_run(job_id=job.id)
    job.refresh_from_db()
    assert job.status == "failed" and "pool holds 5 after exclusion" in job.error


def load_uid_list_all(apply_job: ApplyJob) -> object:
    from classifier.services.subsets import subset_pool

    return subset_pool(apply_job=apply_job)


def test_it_queues_subset_jobs_on_the_default_queue_not_a_gpu_worker() -> None:
    import classifier.tasks  # noqa: F401 - what worker autodiscovery imports
    from domainsieve.celery import app

    assert "classifier.subsets.make_subset" in app.tasks
    route = app.amqp.router.route({}, "classifier.subsets.make_subset")
    assert route["queue"].name == "default"
    assert app.amqp.router.route({}, "classifier.tasks.apply_shard")["queue"].name == "gpu"
