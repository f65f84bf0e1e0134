"""Apply jobs and test-set cleaning with a fine-tuned (FT) natural head next to an embedding-method (DR-R)
rendition head from the same base extractor: the paper's winning pair."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from classifier.apply.lru import LRUCache
from classifier.apply.process import SCHEMA, decode_rgb
from classifier.apply.scoring import FT_NEEDS_IMAGES, HeadPair, Thresholds, assign_domains
from classifier.apply.shards import iter_samples
from classifier.ml.extractors import build_extractor, save_tiny_checkpoint, tiny_extractor_string
from classifier.ml.finetune import finetune, finetune_scores, load_finetuned
from classifier.ml.methods import fit_density_ratio, load_head
from classifier.models import ApplyJob, ClassifierRun, EmbeddingSet
from classifier.services import apply as services_apply
from classifier.services.apply import (
    ApplyError,
    apply_job_create,
    apply_job_finalize,
    apply_shard_run,
    clean_testset_create,
    clean_testset_run,
    head_spec_from_runs,
)
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from tests.classifier.apply_factories import write_shards
from tests.classifier.conftest import TINY
from tests.classifier.ml.conftest import synthetic_images
from tests.factories import make_dataset, make_image

pytestmark = pytest.mark.django_db
CLASSES = ["natural", "rendition", "ambiguous"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A ternary FT model (tiny ViT, one epoch of two steps) and a DR-R head over the same frozen extractor."""
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("ft_models")
    train, y = synthetic_images(24, seed=0)
    val, yv = synthetic_images(9, seed=1)
    result = finetune(build_extractor(TINY, seed=0), train, y, val, yv, CLASSES, method="ft",
                      overrides={"epochs": 1, "batch_size": 8, "lr": 0.05}, max_steps=2)
    result.save(folder / "ft.pt", TINY)
    base = build_extractor(TINY)
    features = base.encode(torch.stack([base.preprocess(decode_rgb(b)) for b in train])).numpy()
    fit_density_ratio(features, y, "rendition").save(folder / "dr.pkl")
    return {"ft": folder / "ft.pt", "dr": folder / "dr.pkl"}


@pytest.fixture(autouse=True)
def _fresh_model_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_HEADS", "_EXTRACTORS", "_PIXELS"):
        monkeypatch.setattr(services_apply, name, LRUCache())


def make_runs(trained: dict[str, Path], *, ft_extractor: str = TINY, other_extractor: str = TINY
              ) -> tuple[ClassifierRun, ClassifierRun]:
    natural = ClassifierRun.objects.create(
        name="ft", labels_source="intended_domain", method="ft", classes=CLASSES, status="succeeded",
        extractor=ft_extractor, artifacts={"model": str(trained["ft"])},
        thresholds={"natural": 0.34, "rendition": 0.9, "ambiguous": 0.9})
    rendition = ClassifierRun.objects.create(
        name="dr", labels_source="intended_domain", method="dr-R", classes=["rendition"], status="succeeded",
        extractor=other_extractor, artifacts={"model": str(trained["dr"])}, thresholds={"rendition": 1.0})
    return natural, rendition


def test_it_applies_an_ft_natural_and_dr_rendition_pair_over_shards(trained: dict[str, Path], tmp_path: Path,
                                                                     media_root: Path) -> None:
    write_shards(tmp_path / "shards", 3, n=5, corrupt=(2,))
    spec = head_spec_from_runs(natural_run=make_runs(trained)[0], rendition_run=make_runs(trained)[1])
    assert spec.extractor == TINY and spec.strict == {"natural": 0.34, "rendition": 1.0}
    assert spec.default == {"natural": 0.5, "rendition": 1.0}
    job = apply_job_create(name="ft", spec=spec, pattern=str(tmp_path / "shards/*.tar"), batch_size=4,
                           device="cpu", enqueue=False)
    assert [apply_shard_run(shard_id=s.id) for s in job.shards.order_by("index")] == ["succeeded"] * 3
    job = apply_job_finalize(job_id=job.id)
    assert job.status == JobStatus.SUCCEEDED and job.summary["total"] == 12 and job.summary["skipped"] == 3
    frames = [pq.read_table(s.out_path) for s in job.shards.order_by("index")]
    assert all(f.schema.equals(SCHEMA) for f in frames) and [f.num_rows for f in frames] == [4, 4, 4]
    frame = pd.concat([f.to_pandas() for f in frames], ignore_index=True)
    # Each shard batch was decoded and preprocessed once for both towers: 2 batches per shard (4 + 1 samples).
    assert services_apply._PIXELS.peek(TINY).computed == 6

    # The same images scored independently: the FT model through finetune_scores, DR-R over the base features.
    data = {s.key: s.image for p in sorted((tmp_path / "shards").glob("*.tar")) for s in iter_samples(p)}
    images = [data[k] for k in frame.key]
    ft_result, ft_extractor = load_finetuned(trained["ft"])
    expected_ft = finetune_scores(ft_result, images, ft_extractor)
    assert np.allclose(frame.p_natural, expected_ft[:, 0], atol=1e-5)
    assert np.allclose(frame.p_ambiguous, expected_ft[:, 2], atol=1e-5)  # the ternary FT head's column
    import torch

    base = build_extractor(TINY)
    features = base.encode(torch.stack([base.preprocess(decode_rgb(b)) for b in images])).numpy()
    assert np.allclose(frame.p_rendition, load_head(trained["dr"]).predict_proba(features)[:, 0], rtol=1e-4)
    strict = Thresholds(**job.thresholds["strict"])
    assert frame.domain.tolist() == assign_domains(frame.p_natural, frame.p_rendition, strict).tolist()
    assert len(set(frame.domain)) >= 2  # the thresholds split these images: the rule is really exercised


def test_it_refuses_stored_embeddings_for_an_ft_head(trained: dict[str, Path], media_root: Path, api,
                                                     researcher) -> None:
    natural, rendition = make_runs(trained)
    embedding_set = EmbeddingSet.objects.create(dataset=make_dataset(), extractor=TINY, path="embeddings/x")
    spec = head_spec_from_runs(natural_run=natural, rendition_run=rendition)
    with pytest.raises(ApplyError, match="FT runs need images; use shard input"):
        apply_job_create(name="t", spec=spec, embedding_set=embedding_set, enqueue=False)
    response = api(researcher).post("/api/v1/apply-jobs/", {"embedding_set": embedding_set.id,
                                                            "natural_run": natural.id, "rendition_run": rendition.id},
                                    format="json")
    assert response.status_code == 400 and "FT runs need images" in response.json()["detail"]
    with pytest.raises(CommandError, match="FT runs need images"):
        call_command("apply_classifier", "--embedding-set", str(embedding_set.id), "--natural-run", str(natural.id),
                     "--rendition-run", str(rendition.id))
    assert not ApplyJob.objects.exists()
    heads = services_apply._load_heads(ApplyJob(extractor=TINY, device="cpu", natural_head_path=str(trained["ft"]),
                                                  rendition_head_path=str(trained["dr"])))
    assert isinstance(heads, HeadPair) and heads.needs_images
    with pytest.raises(ValueError, match=re.escape(FT_NEEDS_IMAGES)):
        heads.score(np.zeros((2, 32), np.float32))


def test_it_refuses_an_ft_run_from_another_base_extractor(trained: dict[str, Path], tmp_path: Path,
                                                          media_root: Path) -> None:
    natural, rendition = make_runs(trained, other_extractor="timm:efficientnet_lite0/pypi")
    with pytest.raises(ApplyError, match="different extractors"):
        head_spec_from_runs(natural_run=natural, rendition_run=rendition)
    # Both runs claim one extractor, but the ft.pt checkpoint was trained from another: the shard fails clearly.
    other = tiny_extractor_string(save_tiny_checkpoint(tmp_path / "other.pt", seed=3))
    natural, rendition = make_runs(trained, ft_extractor=other, other_extractor=other)
    write_shards(tmp_path / "shards", 1, n=2)
    job = apply_job_create(name="t", spec=head_spec_from_runs(natural_run=natural, rendition_run=rendition),
                           pattern=str(tmp_path / "shards/*.tar"), device="cpu", enqueue=False)
    assert apply_shard_run(shard_id=job.shards.get().id, inline=True) == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "was trained from openclip:ds-tiny-vit/random" in job.error


def test_it_cleans_a_test_set_with_an_ft_natural_head(trained: dict[str, Path], media_root: Path) -> None:
    testset = make_dataset(name="IN-Val", kind=Dataset.Kind.TESTSET, expected_domain="natural")
    for i in range(9):
        make_image(dataset=testset, domain="rendition" if i % 3 == 0 else "natural", class_name=f"c{i % 3}",
                   seed=500 + i)
    natural, rendition = make_runs(trained)
    clean = clean_testset_create(source=testset, spec=head_spec_from_runs(natural_run=natural, rendition_run=rendition),
                                 enqueue=False)
    clean = clean_testset_run(clean_id=clean.id, device="cpu", batch_size=4)
    assert clean.status == "succeeded"
    scores = pd.read_parquet(clean.scores_path)
    files = [str(Path(settings.MEDIA_ROOT) / f) for f in testset.images.order_by("id").values_list("file", flat=True)]
    ft_result, ft_extractor = load_finetuned(trained["ft"])
    assert np.allclose(scores.p_natural, finetune_scores(ft_result, files, ft_extractor)[:, 0], atol=1e-5)
    natural_only = scores.p_natural >= 0.34  # the paper's rule: the natural set's own classifier decides
    assert scores.kept.tolist() == natural_only.tolist()
    assert clean.counts["images"] == int(natural_only.sum()) and clean.counts["images_total"] == 9
    assert {im.meta["cleaned_from"] for im in clean.result.images.all()} == set(scores.image_id[scores.kept])
