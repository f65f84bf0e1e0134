"""Zero-shot evaluation of checkpoints on labeling test sets, stored as EvalResult rows.

A test set is a ``labeling.Dataset`` whose images carry ``class_name``; its class list is every
class name in the full set, sorted, so standard and clean evaluations share one classifier. Clean
evaluation keeps the images whose domain matches the set's ``expected_domain`` and masks classes
left with no images (PAPER.md: "Classes left with no images are masked in evaluation").
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from domainsieve.jobs import JobStatus
from labeling.classnames import ClassSpace, looks_like_ids
from labeling.models import Dataset
from training.guards import DispatchRefused, checkpoint_path_check, looks_like_path, model_name_ok
from training.models import EvalResult, TrainingRun
from training.specs import MODEL_CONFIG_DIR


class ZeroShotInputError(ValueError):
    """A bad evaluation request, refused before any work is queued."""


def clean_image_ids(*, dataset: Dataset) -> set[int]:
    """Ids of the images of ``dataset`` that belong to its own domain.

    The latest finished test-set cleaning of the classifier app (``CleanTestset``: its result is
    a new dataset holding the kept images) decides where there is one: images of ``dataset`` whose
    bytes are in the result. Otherwise the domain recorded on the image (``meta["domain"]``).
    """
    from django.apps import apps

    try:
        clean_model = apps.get_model("classifier", "CleanTestset")
    except LookupError:
        clean_model = None
    if clean_model is not None:
        job = (clean_model.objects.filter(source=dataset, status=JobStatus.SUCCEEDED, result__isnull=False)
               .order_by("-id").first())
        if job is not None:
            kept = job.result.images.values_list("sha256", flat=True)
            return set(dataset.images.filter(sha256__in=kept).values_list("id", flat=True))
    if not dataset.expected_domain:
        raise ZeroShotInputError(f"test set {dataset.name} has no expected domain, so it has no clean version")
    return set(dataset.images.filter(meta__domain=dataset.expected_domain).values_list("id", flat=True))


def test_set_classes(*, dataset: Dataset) -> tuple[list[str], list[str], str]:
    """(class keys, prompt names, class-set name) of a test set, in class-index order.

    A dataset named with a class set (``Dataset.class_names``, recorded at import) is evaluated in
    that set's whole space (ImageNet-R: its 200 classes); otherwise the sorted class names of its
    images, which must read as names: WordNet ids or bare numbers without a mapping are refused.
    """
    if dataset.class_names:
        space = ClassSpace.from_json(dataset.class_names)
        return list(space.keys), list(space.names), space.name
    keys = sorted(set(dataset.images.exclude(class_name="").values_list("class_name", flat=True)))
    if not keys:
        raise ZeroShotInputError(f"test set {dataset.name} has no images with a class name")
    ids = looks_like_ids(keys)
    if ids:
        raise ZeroShotInputError(
            f"test set {dataset.name}: class names such as {', '.join(ids[:3])} are folder ids, not names, and "
            "the set has no class-name mapping; re-import it with --class-names (imagenet-1k, imagenet-1k-index, "
            "imagenet-r, imagenet-a, objectnet, domainnet)")
    return keys, keys, ""


def test_set_samples(*, dataset: Dataset, clean: bool) -> tuple[list[str], list[tuple[str, int]], list[bool]]:
    """(prompt names, [(path, class index)], class mask) of a test set, standard or clean.

    Standard: every class of the set's space may be predicted. Clean: classes left with no
    images are masked (PAPER.md). Images whose key is outside the space (ObjectNet's classes
    that do not map to ImageNet) are not evaluated.
    """
    keys, names, class_set = test_set_classes(dataset=dataset)
    rows = list(dataset.images.exclude(class_name="").values_list("id", "file", "class_name"))
    index = {c: i for i, c in enumerate(keys)}
    rows = [r for r in rows if r[2] in index]
    if clean:
        keep = clean_image_ids(dataset=dataset)
        rows = [r for r in rows if r[0] in keep]
    media = Path(settings.MEDIA_ROOT)
    samples = [(str(media / file), index[c]) for _, file, c in rows]
    present = {label for _, label in samples}
    if clean or not class_set:
        return names, samples, [i in present for i in range(len(names))]
    return names, samples, [True] * len(names)


def _checkpoints_of(run: TrainingRun, epochs: list[int]) -> list[dict[str, Any]]:
    found = {int(c["epoch"]): c for c in run.checkpoints}
    if not found:
        raise ZeroShotInputError(f"run {run.name} has no checkpoints yet")
    if not epochs:
        return [found[e] for e in sorted(found)]
    missing = [e for e in epochs if e not in found]
    if missing:
        raise ZeroShotInputError(f"run {run.name} has no checkpoint for epoch(s) {missing}; has {sorted(found)}")
    return [found[e] for e in epochs]


def zeroshot_requests_build(*, training_run: int | None = None, model: str = "", checkpoint: str = "",
                            epochs: list[int] | None = None, datasets: list[int] | None = None,
                            clean: list[bool] | None = None, device: str = "") -> list[dict[str, Any]]:
    """One request per checkpoint, validated: the run or checkpoint exists, the test sets exist
    and have classes."""
    dataset_ids = list(datasets or [])
    found = {d.id: d for d in Dataset.objects.filter(id__in=dataset_ids)}
    if not dataset_ids or len(found) != len(set(dataset_ids)):
        raise ZeroShotInputError(f"unknown test set id(s): {sorted(set(dataset_ids) - set(found))}")
    for d in found.values():
        if not d.images.exclude(class_name="").exists():
            raise ZeroShotInputError(f"test set {d.name} has no images with a class name")
        test_set_classes(dataset=d)  # refuses ids without a mapping before anything is queued
    modes = sorted(set(clean if clean is not None else [False, True]))
    base = {"datasets": dataset_ids, "clean": modes, "device": device}
    if training_run:
        try:
            run = TrainingRun.objects.get(pk=training_run)
        except TrainingRun.DoesNotExist:
            raise ZeroShotInputError(f"no training run {training_run}") from None
        return [{**base, "training_run": run.id, "model": run.model, "checkpoint": c["path"], "epoch": c["epoch"]}
                for c in _checkpoints_of(run, list(epochs or []))]
    if not model or not checkpoint:
        raise ZeroShotInputError("give a training run, or a model and a checkpoint path or pretrained tag")
    if not model_name_ok(model):
        raise ZeroShotInputError("model: an open_clip architecture name (letters, digits, '_', '.', '-')")
    if looks_like_path(checkpoint):
        # torch.load of a file is code the app runs: only files inside the data roots.
        try:
            checkpoint_path_check(checkpoint, what="checkpoint")
        except DispatchRefused as exc:
            raise ZeroShotInputError(str(exc)) from exc
    return [{**base, "training_run": None, "model": model, "checkpoint": checkpoint, "epoch": None}]


def zeroshot_request_enqueue(**params: Any) -> dict[str, Any]:
    from training.tasks.runs import zeroshot_eval

    requests = zeroshot_requests_build(**params)
    if requests and requests[0].get("training_run"):
        TrainingRun.objects.filter(pk=requests[0]["training_run"]).update(
            evaluations_pending=F("evaluations_pending") + len(requests))
    transaction.on_commit(lambda: [zeroshot_eval.delay(r) for r in requests])
    return {"queued": len(requests), "checkpoints": [r["checkpoint"] for r in requests]}


def zeroshot_request_run(*, request: dict[str, Any]) -> list[EvalResult]:
    """Evaluate one queued request, then count it off its run's pending evaluations (also when it
    fails: the page stops waiting and the error is in the worker's log)."""
    try:
        return zeroshot_evaluate_request(request=request)
    finally:
        if request.get("training_run"):
            TrainingRun.objects.filter(pk=request["training_run"], evaluations_pending__gt=0).update(
                evaluations_pending=F("evaluations_pending") - 1)


def zeroshot_evaluate_request(*, request: dict[str, Any], templates: list[str] | None = None,
                              progress: Any = None) -> list[EvalResult]:
    """Evaluate one checkpoint on the requested test sets (standard and/or clean); idempotent:
    a rerun replaces the rows for the same checkpoint, test set and mode."""
    from training.zeroshot.evaluate import class_weights, evaluate, load_model, load_templates

    device = request.get("device") or _default_device()
    templates = templates or load_templates()
    try:
        model, preprocess, tokenizer = load_model(request["model"], request["checkpoint"], device=device,
                                                  config_dirs=[MODEL_CONFIG_DIR])
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        # No model hub here: a pretrained tag whose weights are not cached ends up here too.
        raise ZeroShotInputError(f"could not load {request['model']} from {request['checkpoint']!r}: {exc}") from exc
    results = []
    for dataset in Dataset.objects.filter(id__in=request["datasets"]).order_by("name"):
        weights = None
        for clean in request["clean"]:
            classnames, samples, mask = test_set_samples(dataset=dataset, clean=clean)
            if not samples:
                continue  # a clean set with nothing left in it has no accuracy to report
            if weights is None:
                weights = class_weights(model, tokenizer, classnames, templates, device=device)
            score = evaluate(model, preprocess, weights, samples, class_mask=mask, device=device)
            row, _ = EvalResult.objects.update_or_create(
                checkpoint=request["checkpoint"], test_set=dataset.name, clean=clean,
                defaults={"training_run_id": request.get("training_run"), "model": request["model"],
                          "epoch": request.get("epoch"), "dataset": dataset, "domain": dataset.expected_domain,
                          "top1": score.top1, "top5": score.top5, "n": score.n, "n_classes": score.n_classes,
                          "templates": len(templates)})
            results.append(row)
            if progress is not None:
                progress(row)
    return results


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
