"""Zero-shot evaluation of a tiny open_clip model on a labeling test set, standard and clean."""
from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling.models import Dataset
from tests.factories import make_dataset, make_image
from training.models import EvalResult, TrainingRun
from training.services import zeroshot as zs
from training.services.zeroshot import ZeroShotInputError, zeroshot_requests_build
from training.zeroshot.evaluate import load_templates


def test_it_ships_the_80_openai_imagenet_templates() -> None:
    templates = load_templates()
    assert len(templates) == 80 and len(set(templates)) == 80
    assert templates[0] == "a bad photo of a {}." and "a tattoo of the {}." in templates


def _testset() -> Dataset:
    dataset = make_dataset(name="IN-Sketch-mini", kind=Dataset.Kind.TESTSET, expected_domain="rendition")
    for i, (cls, domain) in enumerate([("cat", "rendition"), ("cat", "natural"), ("dog", "rendition"),
                                       ("dog", "rendition"), ("fish", "natural"), ("fish", "natural")]):
        image = make_image(dataset=dataset, class_name=cls, domain=domain, seed=100 + i)
        image.meta = {"domain": domain}  # what test-set cleaning records
        image.save(update_fields=["meta"])
    return dataset


@pytest.mark.django_db
def test_it_masks_classes_left_empty_by_cleaning(media_root: Path) -> None:
    dataset = _testset()
    names, samples, mask = zs.test_set_samples(dataset=dataset, clean=False)
    assert names == ["cat", "dog", "fish"] and len(samples) == 6 and mask == [True, True, True]
    names, samples, mask = zs.test_set_samples(dataset=dataset, clean=True)
    assert len(samples) == 3 and mask == [True, True, False]  # no rendition fish left


@pytest.mark.django_db
def test_it_evaluates_a_checkpoint_and_stores_results(media_root: Path, tmp_path: Path) -> None:
    import open_clip
    import torch

    from training.specs import MODEL_CONFIG_DIR

    open_clip.add_model_config(MODEL_CONFIG_DIR / "DS-Tiny.json")
    torch.manual_seed(0)
    model = open_clip.create_model("DS-Tiny")
    checkpoint = tmp_path / "epoch_1.pt"
    # The layout OpenCLIP's trainer saves (DDP prefix included), so the real loader is exercised.
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, checkpoint)
    run = TrainingRun.objects.create(name="tiny", logs_dir=str(tmp_path), model="DS-Tiny", status="succeeded",
                                     checkpoints=[{"epoch": 1, "path": str(checkpoint), "bytes": 1}])
    dataset = _testset()
    with pytest.raises(ZeroShotInputError, match="no checkpoint for epoch"):
        zeroshot_requests_build(training_run=run.id, epochs=[7], datasets=[dataset.id])
    out = StringIO()
    call_command("zeroshot_eval", "--run", "tiny", "--test-set", dataset.name, "--device", "cpu", stdout=out,
                 stderr=StringIO())
    assert "stored 2 eval result(s) for 1 checkpoint(s)" in out.getvalue()
    standard = EvalResult.objects.get(clean=False)
    clean = EvalResult.objects.get(clean=True)
    assert (standard.n, standard.n_classes, clean.n, clean.n_classes) == (6, 3, 3, 2)
    assert (standard.training_run_id, standard.epoch, standard.domain, standard.templates) == (run.id, 1, "rendition", 80)
    # top-1 recomputed image by image, independently of the batched, masked evaluation loop.
    expected = _top1_one_by_one(model, dataset, clean=False)
    assert standard.top1 == pytest.approx(expected) and clean.top1 == pytest.approx(
        _top1_one_by_one(model, dataset, clean=True))
    # A rerun replaces, it does not duplicate.
    call_command("zeroshot_eval", "--run", str(run.id), "--test-set", str(dataset.id), "--mode", "clean",
                 "--device", "cpu", stdout=StringIO(), stderr=StringIO())
    assert EvalResult.objects.count() == 2


def _top1_one_by_one(model: object, dataset: Dataset, *, clean: bool) -> float:
    """Share of images whose best prompt-ensembled class (among the unmasked ones) is their own."""
    import open_clip
    import torch
    from PIL import Image

    from training.zeroshot.evaluate import load_templates

    model.eval()
    tokenizer = open_clip.get_tokenizer("DS-Tiny")
    _, _, preprocess = open_clip.create_model_and_transforms("DS-Tiny")  # the eval transform of this config
    names, samples, mask = zs.test_set_samples(dataset=dataset, clean=clean)
    templates = load_templates()
    hits = 0
    with torch.no_grad():
        text = []
        for name in names:
            emb = model.encode_text(tokenizer([t.format(name) for t in templates]), normalize=True).mean(0)
            text.append(emb / emb.norm())
        text = torch.stack(text)
        for path, label in samples:
            image = model.encode_image(preprocess(Image.open(path).convert("RGB"))[None], normalize=True)[0]
            sims = text @ image
            sims[~torch.tensor(mask)] = -1e9
            hits += int(int(sims.argmax()) == label)
    return hits / len(samples)


@pytest.mark.django_db
def test_it_refuses_bad_evaluation_requests(media_root: Path) -> None:
    dataset = _testset()
    with pytest.raises(CommandError, match="no dataset 'nope'"):
        call_command("zeroshot_eval", "--model", "DS-Tiny", "--checkpoint", "x", "--test-set", "nope")
    missing = media_root / "no" / "such.pt"
    with pytest.raises(CommandError, match=f"checkpoint: {missing} does not exist"):
        call_command("zeroshot_eval", "--model", "DS-Tiny", "--checkpoint", str(missing), "--test-set", dataset.name)
    # torch.load runs pickled code: a checkpoint outside the data roots is never opened.
    with pytest.raises(CommandError, match="outside the data roots"):
        call_command("zeroshot_eval", "--model", "DS-Tiny", "--checkpoint", "/etc/passwd", "--test-set", dataset.name)
    with pytest.raises(CommandError, match="could not load DS-Tiny from 'no_such_tag'"):
        call_command("zeroshot_eval", "--model", "DS-Tiny", "--checkpoint", "no_such_tag", "--test-set", dataset.name,
                     "--device", "cpu", stderr=StringIO())
    with pytest.raises(CommandError, match="give a training run, or a model"):
        call_command("zeroshot_eval", "--test-set", dataset.name)


@pytest.mark.django_db
def test_it_takes_the_clean_set_from_test_set_cleaning(media_root: Path) -> None:
    from classifier.models import CleanTestset

    dataset = _testset()
    kept = list(dataset.images.filter(class_name="dog"))
    result = make_dataset(name="IN-Sketch-mini-clean", kind=Dataset.Kind.TESTSET, expected_domain="rendition")
    for image in kept:  # the cleaned copy shares the bytes
        image.pk, image.dataset = None, result
        image.save()
    CleanTestset.objects.create(source=dataset, result=result, result_name=result.name, extractor="x",
                                natural_head_path="n", rendition_head_path="r", status="succeeded")
    names, samples, mask = zs.test_set_samples(dataset=dataset, clean=True)
    assert len(samples) == 2 and mask == [False, True, False]
