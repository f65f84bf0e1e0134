"""Apply jobs through the services (task functions called directly; the queue is tested in test_apply_workers)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from classifier.apply.scoring import Thresholds, assign_domains
from classifier.apply.uids import array_to_uids, load_uid_list
from classifier.models import ApplyJob, ApplyShard, ClassifierRun
from classifier.selectors.apply import (
    apply_job_progress,
)
from classifier.services.apply import (
    ApplyError,
    _claim,
    apply_job_cancel,
    apply_job_create,
    apply_job_finalize,
    apply_job_resume,
    apply_shard_run,
    head_spec_from_runs,
)
from domainsieve.jobs import JobStatus
from tests.classifier.apply_factories import tiny_spec, write_centroid_heads, write_shards

pytestmark = pytest.mark.django_db


def run_all(job: ApplyJob) -> list[str]:
    return [apply_shard_run(shard_id=s.id) for s in job.shards.order_by("index")]


def test_it_applies_a_job_and_finalizes_with_table7_and_subsets(tmp_path: Path, media_root: Path) -> None:
    write_shards(tmp_path / "shards", 3, n=7, corrupt=(3,))
    job = apply_job_create(name="t", spec=tiny_spec(tmp_path / "heads"), pattern=str(tmp_path / "shards/*.tar"),
                           batch_size=4, device="cpu", enqueue=False)
    assert job.shards_total == 3 and job.status == JobStatus.RUNNING
    assert run_all(job) == ["succeeded", "succeeded", "succeeded"]
    job.refresh_from_db()
    assert job.status == JobStatus.FINALIZING
    job = apply_job_finalize(job_id=job.id)
    assert job.status == JobStatus.SUCCEEDED
    s = job.summary
    assert (s["total"], s["skipped"], s["shards_done"]) == (18, 3, 3)
    frame = pd.concat([pq.read_table(sh.out_path).to_pandas() for sh in job.shards.all()])
    assert len(frame) == 18 and frame.uid.is_unique
    strict = Thresholds(**job.thresholds["strict"])
    assert frame.domain.tolist() == assign_domains(frame.p_natural, frame.p_rendition, strict).tolist()
    for d in ("natural", "rendition"):
        ids = load_uid_list(Path(job.out_dir) / "subsets" / f"{d}_strict.npy")
        assert array_to_uids(ids) == sorted(frame.uid[frame.domain == d])
    assert sum(r["strict_count"] for r in s["rows"]) == sum(r["default_count"] for r in s["rows"]) == 18
    assert "| natural |" in s["table_markdown"]
    # Re-running a finished job does nothing.
    assert run_all(job) == ["not claimable"] * 3
    assert apply_job_resume(job=job, enqueue=False) == 0
    progress = apply_job_progress(job=job)
    assert progress["shards"]["succeeded"] == 3 and progress["rows"] == 18 and progress["percent"] == 100.0


def test_it_fails_missing_and_corrupt_shards_loudly_and_resumes_them(tmp_path: Path, media_root: Path) -> None:
    paths = write_shards(tmp_path / "shards", 3, n=4)
    job = apply_job_create(name="t", spec=tiny_spec(tmp_path / "heads"), pattern=str(tmp_path / "shards/*.tar"),
                           device="cpu", enqueue=False)
    paths[1].unlink()
    paths[2].write_bytes(b"garbage" * 100)
    assert run_all(job) == ["succeeded", "failed", "failed"]
    job = apply_job_finalize(job_id=job.id)
    assert job.status == JobStatus.FAILED
    assert "2 of 3 shards failed" in job.error and "00001.tar" in job.error
    assert job.summary["total"] == 4 and job.summary["shards_failed"] == 2
    write_shards(tmp_path / "shards", 3, n=4)  # the operator restores the files
    assert apply_job_resume(job=job, enqueue=False) == 2
    assert run_all(job)[1:] == ["succeeded", "succeeded"]
    job = apply_job_finalize(job_id=job.id)
    assert job.status == JobStatus.SUCCEEDED and job.summary["total"] == 12


def test_it_refuses_bad_input_with_clear_errors(tmp_path: Path, media_root: Path) -> None:
    spec = tiny_spec(tmp_path / "heads")
    with pytest.raises(ApplyError, match="empty shard pattern|exactly one input"):
        apply_job_create(name="t", spec=spec, pattern="", enqueue=False)
    with pytest.raises(ApplyError, match="do not exist"):
        apply_job_create(name="t", spec=spec, pattern=str(tmp_path / "{00000..00003}.tar"), enqueue=False)
    nat, ren = write_centroid_heads(media_root.parent / "artifacts" / "runs")
    common = dict(labels_source="intended_domain", method="centroid", classes=["natural", "rendition", "ambiguous"],
                  status="succeeded", thresholds={"natural": 0.7, "rendition": 0.8})
    a = ClassifierRun.objects.create(extractor="openclip:ds-tiny-vit/random", artifacts={"model": "runs/natural.pkl"},
                                     **common)
    b = ClassifierRun.objects.create(extractor="timm:efficientnet_lite0/pypi", artifacts={"model": "runs/rendition.pkl"},
                                     **common)
    with pytest.raises(ApplyError, match="different extractors"):
        head_spec_from_runs(natural_run=a, rendition_run=b)
    b.extractor = a.extractor
    spec = head_spec_from_runs(natural_run=a, rendition_run=b)
    assert spec.strict == {"natural": 0.7, "rendition": 0.8} and spec.default == {"natural": 0.5, "rendition": 0.5}
    b.thresholds = {"natural": 0.7}
    with pytest.raises(ApplyError, match="no rendition threshold"):
        head_spec_from_runs(natural_run=a, rendition_run=b)
    a.method = "ft-paper"  # FT runs are accepted (test_apply_ft.py), but only with their ft.pt checkpoint
    with pytest.raises(ApplyError, match="not an ft.pt checkpoint"):
        head_spec_from_runs(natural_run=a, rendition_run=a)


def test_it_cancels_and_leaves_no_partial_output(tmp_path: Path, media_root: Path) -> None:
    write_shards(tmp_path / "shards", 2, n=4)
    job = apply_job_create(name="t", spec=tiny_spec(tmp_path / "heads"), pattern=str(tmp_path / "shards/*.tar"),
                           device="cpu", enqueue=False)
    apply_job_cancel(job=job)
    assert run_all(job) == ["not claimable"] * 2
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and not list(Path(job.out_dir, "scores").iterdir())
    apply_job_resume(job=job, enqueue=False)
    assert run_all(job) == ["succeeded", "succeeded"]


def test_it_reclaims_a_stale_shard_and_ignores_the_late_worker(tmp_path: Path, media_root: Path) -> None:
    write_shards(tmp_path / "shards", 1, n=4)
    job = apply_job_create(name="t", spec=tiny_spec(tmp_path / "heads"), pattern=str(tmp_path / "shards/*.tar"),
                           device="cpu", enqueue=False)
    shard = job.shards.get()
    claimed, old_token = _claim(shard.id)  # worker A claims, then goes silent
    assert claimed is not None
    assert apply_shard_run(shard_id=shard.id) == "not claimable"  # A's heartbeat is fresh
    ApplyShard.objects.filter(pk=shard.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert apply_shard_run(shard_id=shard.id) == "succeeded"  # B takes over
    late = ApplyShard.objects.filter(pk=shard.id, claim_token=old_token).update(status="succeeded", rows=999)
    shard.refresh_from_db()
    assert late == 0 and shard.rows == 4 and shard.attempts == 2


def test_it_classifies_a_stored_embedding_set_chunk_by_chunk(tmp_path: Path, media_root: Path) -> None:
    from django.conf import settings

    from classifier.ml.embed import embed_images
    from classifier.ml.extractors import build_extractor
    from classifier.models import EmbeddingSet
    from tests.factories import make_dataset, make_images

    dataset = make_dataset(name="pool")
    images = make_images(dataset=dataset, n=7)
    spec = tiny_spec(tmp_path / "heads")
    extractor = build_extractor(spec.extractor)
    out = Path(settings.ARTIFACTS_ROOT) / "emb" / "pool"
    embed_images(extractor, [Path(settings.MEDIA_ROOT) / im.file for im in images], out,
                 ids=[im.id for im in images], chunk_size=3)
    es = EmbeddingSet.objects.create(dataset=dataset, extractor=spec.extractor, path="emb/pool", dim=extractor.dim,
                                     count=7, done=7, status="succeeded")
    job = apply_job_create(name="emb", spec=spec, embedding_set=es, enqueue=False)
    assert job.shards_total == 3 and job.source == ApplyJob.Source.EMBEDDINGS
    assert run_all(job) == ["succeeded"] * 3
    job = apply_job_finalize(job_id=job.id)
    frame = pd.concat([pq.read_table(s.out_path).to_pandas() for s in job.shards.all()])
    assert job.status == "succeeded" and job.summary["total"] == 7
    assert frame.uid.tolist() == [im.uid for im in images]
    other = EmbeddingSet.objects.create(dataset=make_dataset(name="p2"), extractor="timm:efficientnet_lite0/pypi",
                                        path="emb/pool")
    with pytest.raises(ApplyError, match="embedding set was made with"):
        apply_job_create(name="bad", spec=spec, embedding_set=other, enqueue=False)


def test_it_gives_up_on_a_shard_that_keeps_killing_its_worker(tmp_path: Path, media_root: Path) -> None:
    from classifier.services.apply import apply_reap_stale

    write_shards(tmp_path / "shards", 1, n=2)
    job = apply_job_create(name="t", spec=tiny_spec(tmp_path / "heads"), pattern=str(tmp_path / "shards/*.tar"),
                           device="cpu", enqueue=False)
    shard = job.shards.get()
    ApplyShard.objects.filter(pk=shard.pk).update(status="running", attempts=3,
                                                  heartbeat_at=timezone.now() - timedelta(hours=1))
    assert apply_reap_stale(job_id=job.id) == 0
    shard.refresh_from_db()
    job.refresh_from_db()
    assert shard.status == "failed" and "worker lost 3 times" in shard.error
    assert job.status == JobStatus.FINALIZING
