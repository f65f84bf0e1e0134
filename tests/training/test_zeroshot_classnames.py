"""Zero-shot evaluation prompts with class names, never folder ids (PAPER.md, "Experiments as run")."""
from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from labeling.classnames import builtin
from labeling.models import Dataset
from tests.labeling.test_import_support import run_import, write_images
from training.models import EvalResult
from training.services import zeroshot as zs
from training.zeroshot import evaluate as zeroshot_evaluate

pytestmark = pytest.mark.django_db
WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475"]


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    import open_clip
    import torch

    from training.specs import MODEL_CONFIG_DIR

    open_clip.add_model_config(MODEL_CONFIG_DIR / "DS-Tiny.json")
    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    torch.save({"epoch": 1, "state_dict": open_clip.create_model("DS-Tiny").state_dict()}, path)
    return path


@pytest.fixture
def prompted(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The class names each evaluation builds its text classifier from (the real function runs)."""
    seen: list[list[str]] = []
    real = zeroshot_evaluate.class_weights

    def spy(model: Any, tokenizer: Any, classnames: list[str], *args: Any, **kwargs: Any) -> Any:
        seen.append(list(classnames))
        return real(model, tokenizer, classnames, *args, **kwargs)

    monkeypatch.setattr(zeroshot_evaluate, "class_weights", spy)
    return seen


def _eval(dataset: Dataset, checkpoint: Path, mode: str = "standard") -> None:
    call_command("zeroshot_eval", "--model", "DS-Tiny", "--checkpoint", str(checkpoint), "--test-set", dataset.name,
                 "--mode", mode, "--device", "cpu", stdout=StringIO(), stderr=StringIO())


@pytest.mark.slow  # 1000 classes x 80 templates through the text tower: ~1 min on two CPU cores
def test_it_evaluates_an_imagefolder_of_wordnet_ids_with_their_names(
        media_root: Path, tmp_path: Path, tiny_checkpoint: Path, prompted: list[list[str]]) -> None:
    for i, wnid in enumerate(WNIDS):
        write_images(tmp_path / "inval" / wnid, [i])
    run_import(tmp_path / "inval", name="IN-Val-5", kind="testset")
    dataset = Dataset.objects.get(name="IN-Val-5")
    names, samples, mask = zs.test_set_samples(dataset=dataset, clean=False)
    assert len(samples) == 5 and sum(mask) == 1000
    _eval(dataset, tiny_checkpoint)
    assert prompted == [list(builtin("imagenet-1k").names)]
    assert {"tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark"} <= set(prompted[0])
    assert not any(name.startswith("n0") for name in prompted[0])
    assert EvalResult.objects.get().n_classes == 1000


def test_it_evaluates_imagenet_r_in_its_200_class_space(
        media_root: Path, tmp_path: Path, tiny_checkpoint: Path, prompted: list[list[str]]) -> None:
    in_r = builtin("imagenet-r").keys
    for i, wnid in enumerate(in_r[:3]):
        write_images(tmp_path / "imagenet-r" / wnid, [i])
    run_import(tmp_path / "imagenet-r", name="ImageNet-R", kind="testset")
    dataset = Dataset.objects.get(name="ImageNet-R")
    assert dataset.class_names["set"] == "imagenet-r"
    _eval(dataset, tiny_checkpoint)
    assert prompted == [list(builtin("imagenet-r").names)] and len(prompted[0]) == 200
    result = EvalResult.objects.get()
    assert (result.n, result.n_classes) == (3, 200)


def test_it_evaluates_imagenet_v2_number_folders_with_names(
        media_root: Path, tmp_path: Path, tiny_checkpoint: Path, prompted: list[list[str]]) -> None:
    for i in (0, 1):
        write_images(tmp_path / "imagenetv2" / str(i), [i])
    run_import(tmp_path / "imagenetv2", name="IN-V2", kind="testset")
    dataset = Dataset.objects.get(name="IN-V2")
    names, samples, _ = zs.test_set_samples(dataset=dataset, clean=False)
    assert sorted(names[label] for _, label in samples) == ["goldfish", "tench"]


def test_it_refuses_a_test_set_of_ids_without_a_mapping(media_root: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    for i, wnid in enumerate(WNIDS[:2]):
        write_images(tmp_path / "raw" / wnid, [i])
    from labeling.services.datasets import dataset_create, import_create, import_run

    dataset = dataset_create(name="raw-ids", kind="testset")
    import_run(job=import_create(dataset=dataset, source=str(tmp_path / "raw"), class_names="none", enqueue=False))
    with pytest.raises(CommandError, match="n01440764, n01443537 are folder ids, not names"):
        _eval(dataset, tiny_checkpoint)
    assert not EvalResult.objects.exists()
