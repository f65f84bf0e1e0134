"""Services (writes) of the classifier app: embedding sets and classifier runs.

Runs are created in the web process (validated at once, so bad input is a 400, not a failed
job) and executed on the ``gpu`` queue. Execution writes artifacts into a ``.partial``
directory renamed into place at the end; a failure removes it and marks the run failed, so no
run is ever left half-written.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from classifier.ml.calibration import evaluate_model
from classifier.ml.extractors import ExtractorError, parse_extractor
from classifier.ml.methods import ALL_METHODS, EMBEDDING_METHODS, IMAGE_METHODS, MethodError
from classifier.models import ClassifierRun, EmbeddingSet
from classifier.services.claims import (
    Heartbeat,
    classifier_run_claim,
    classifier_runs_reap_stale,
    partial_folder,
)
from domainsieve.dataroots import DataRootError, resolve_in_data_roots
from domainsieve.jobs import JobStatus
from labeling.domains import DOMAINS
from labeling.models import Dataset, Image

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None] | None
# Fewest labels per class in each subset: thresholds need validation positives, metrics test ones.
MIN_PER_CLASS = {"train": 2, "val": 2, "test": 1}
FT_OVERRIDE_KEYS = ("lr", "momentum", "weight_decay", "batch_size", "epochs", "step_size", "gamma")


class ClassifierInputError(ValueError):
    """Input a run or embedding cannot be made from; the message says what to change."""


# ---------------------------------------------------------------- embedding sets


def _artifacts() -> Path:
    return Path(settings.ARTIFACTS_ROOT)


def _extractor_slug(extractor: str) -> str:
    import hashlib

    return hashlib.sha1(extractor.encode()).hexdigest()[:12]


def extractor_validate(extractor: str) -> str:
    """The canonical extractor string; ClassifierInputError when it does not parse, or when its
    weights are a file outside the data roots (loading a checkpoint is running what it holds)."""
    try:
        spec = parse_extractor(extractor)
    except ExtractorError as exc:
        raise ClassifierInputError(str(exc)) from exc
    if spec.weights_is_path or "/" in spec.weights or spec.weights.startswith("."):
        try:
            resolve_in_data_roots(spec.weights, what="extractor weights")
        except DataRootError as exc:
            raise ClassifierInputError(str(exc)) from exc
    return str(spec)


def embedding_set_get_or_create(*, dataset: Dataset, extractor: str, created_by: Any = None) -> EmbeddingSet:
    extractor = extractor_validate(extractor)
    embedding_set, _ = EmbeddingSet.objects.get_or_create(
        dataset=dataset, extractor=extractor,
        defaults={"path": f"embeddings/{dataset.id}/{_extractor_slug(extractor)}", "created_by": created_by},
    )
    return embedding_set


def embedding_set_request(*, dataset: Dataset, extractor: str, created_by: Any = None) -> EmbeddingSet:
    """Create (or reuse) the set and queue ``embed_task`` on the gpu queue after commit."""
    from classifier.tasks.runs import embed_task

    with transaction.atomic():
        embedding_set = embedding_set_get_or_create(dataset=dataset, extractor=extractor, created_by=created_by)
        if embedding_set.status != JobStatus.SUCCEEDED:
            transaction.on_commit(lambda: embed_task.delay(embedding_set.id))
    return embedding_set


def embedding_set_compute(*, embedding_set_id: int, device: str = "cpu", precision: str = "fp32",
                          batch_size: int = 64, num_workers: int = 0, chunk_size: int = 4096,
                          progress: Progress = None) -> EmbeddingSet:
    """Embed every image of the set's dataset; resumable (finished chunks are kept). Idempotent:
    a set already succeeded over the same images returns at once."""
    from classifier.ml.embed import embed_images
    from classifier.ml.extractors import build_extractor

    embedding_set = EmbeddingSet.objects.get(pk=embedding_set_id)
    images = list(Image.objects.filter(dataset_id=embedding_set.dataset_id).order_by("id").values_list("id", "file"))
    if embedding_set.status == JobStatus.SUCCEEDED and embedding_set.count == len(images):
        return embedding_set
    embedding_set.mark_running(count=len(images), done=0)
    out = _artifacts() / embedding_set.path
    media = Path(settings.MEDIA_ROOT)

    def report(done: int, total: int) -> None:
        EmbeddingSet.objects.filter(pk=embedding_set.pk).update(done=done)
        if progress is not None:
            progress(done, total)

    try:
        extractor = build_extractor(embedding_set.extractor, device=device, precision=precision)
        ids, sources = [i for i, _ in images], [str(media / f) for _, f in images]
        try:
            result = embed_images(extractor, sources, out, ids=ids, batch_size=batch_size, num_workers=num_workers,
                                  chunk_size=chunk_size, progress=report)
        except ValueError:
            # The dataset changed since a previous attempt: its chunks no longer line up.
            shutil.rmtree(out, ignore_errors=True)
            result = embed_images(extractor, sources, out, ids=ids, batch_size=batch_size, num_workers=num_workers,
                                  chunk_size=chunk_size, progress=report)
    except Exception as exc:
        embedding_set.mark_finished(JobStatus.FAILED, error=str(exc))
        raise
    embedding_set.mark_finished(dim=result.dim, count=result.count, done=result.count, failed=len(result.failed))
    embedding_set.refresh_from_db()
    return embedding_set


# ---------------------------------------------------------------- labels


@dataclass
class LabelledImages:
    image_ids: np.ndarray
    labels: np.ndarray
    subsets: np.ndarray  # train / val / test
    groups: np.ndarray  # dataset name, for per-test-set metrics
    files: list[str]
    dataset_ids: np.ndarray

    def subset(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.subsets == name)


def stratified_split(labels: Sequence[str], *, seed: int, val_fraction: float, test_fraction: float) -> np.ndarray:
    """Seeded per-class split into train/val/test (each class keeps its share in each subset)."""
    labels = np.asarray(labels)
    subsets = np.full(len(labels), "train", dtype=object)
    rng = np.random.default_rng(seed)
    for c in sorted(set(labels.tolist())):
        rows = rng.permutation(np.flatnonzero(labels == c))
        n_val = max(MIN_PER_CLASS["val"], round(val_fraction * len(rows)))
        n_test = max(MIN_PER_CLASS["test"], round(test_fraction * len(rows)))
        subsets[rows[:n_val]] = "val"
        subsets[rows[n_val:n_val + n_test]] = "test"
    return subsets.astype(str)


def labelled_images(*, labels_source: str, datasets: Sequence[Dataset] = (), split: Any = None,
                    classes: Sequence[str], seed: int = 0, val_fraction: float = 0.2,
                    test_fraction: float = 0.2, testsets_apart: bool = True) -> LabelledImages:
    """The labelled images a run trains and evaluates on; ClassifierInputError when unusable.

    With ``testsets_apart`` (the paper's protocol) the labeled images of test-set datasets
    (``Dataset.kind == testset``: the 12 x 1000 from ImageNet, DomainNet, ...) form an evaluation
    subset of their own, ``eval``: never drawn into train/val/test, whatever a split assigned them.
    """
    testset = Dataset.Kind.TESTSET
    if labels_source == ClassifierRun.LabelsSource.INTENDED_DOMAIN:
        if not datasets:
            raise ClassifierInputError("labels source intended_domain needs at least one dataset")
        rows = list(Image.objects.filter(dataset__in=list(datasets), intended_domain__in=list(classes))
                    .order_by("id").values_list("id", "intended_domain", "dataset__name", "file", "dataset_id",
                                                "dataset__kind"))
        labels = np.array([r[1] for r in rows], dtype=str)
        apart = np.array([testsets_apart and r[5] == testset for r in rows], dtype=bool)
        _check_class_totals(labels[~apart], classes)
        subsets = np.full(len(rows), "eval", dtype=object)
        subsets[~apart] = stratified_split(labels[~apart], seed=seed, val_fraction=val_fraction,
                                           test_fraction=test_fraction)
        subsets = subsets.astype(str)
    elif labels_source == ClassifierRun.LabelsSource.SPLIT:
        if split is None:
            raise ClassifierInputError("labels source split needs a split")
        from labeling.models import SnapshotLabel, SplitAssignment

        label_of = dict(SnapshotLabel.objects.filter(snapshot_id=split.snapshot_id).values_list("image_id", "label"))
        assigned = (SplitAssignment.objects.filter(split=split, subset__in=["train", "val", "test"])
                    .order_by("image_id").values_list("image_id", "subset", "image__dataset__name", "image__file",
                                                      "image__dataset_id", "image__dataset__kind"))
        rows, subset_list = [], []
        for image_id, subset, group, file, dataset_id, kind in assigned:
            if label_of.get(image_id) in classes:
                rows.append((image_id, label_of[image_id], group, file, dataset_id))
                subset_list.append("eval" if testsets_apart and kind == testset else subset)
        labels = np.array([r[1] for r in rows], dtype=str)
        subsets = np.array(subset_list, dtype=str)
        _check_class_totals(labels[subsets != "eval"], classes)
    else:
        raise ClassifierInputError(f"unknown labels source {labels_source!r}; expected intended_domain or split")
    result = LabelledImages(np.array([r[0] for r in rows], dtype=np.int64), labels, subsets,
                            np.array([r[2] for r in rows], dtype=str), [r[3] for r in rows],
                            np.array([r[4] for r in rows], dtype=np.int64))
    for subset, minimum in MIN_PER_CLASS.items():
        sub = result.labels[result.subsets == subset]
        short = [f"{c}: {int((sub == c).sum())}" for c in classes if (sub == c).sum() < minimum]
        if short:
            raise ClassifierInputError(f"too few {subset} labels (need at least {minimum} per class): "
                                       f"{', '.join(short)}; label more images or choose other classes")
    return result


def _check_class_totals(labels: np.ndarray, classes: Sequence[str]) -> None:
    """``labels``: those train/val/test are drawn from (test-set images are apart)."""
    missing = [c for c in classes if not (labels == c).any()]
    if missing:
        raise ClassifierInputError(f"no labelled images of class {', '.join(missing)} outside the test sets (their "
                                   "images are an evaluation set apart); label some pool images or pass classes "
                                   "without it")
    need = sum(MIN_PER_CLASS.values())
    short = [f"{c}: {int((labels == c).sum())}" for c in classes if (labels == c).sum() < need]
    if short:
        raise ClassifierInputError(f"too few labels for train/validation/test splits (need at least {need} per "
                                   f"class): {', '.join(short)}")


# ---------------------------------------------------------------- runs


@transaction.atomic
def classifier_run_create(*, created_by: Any, method: str, extractor: str, labels_source: str,
                          datasets: Sequence[Dataset] = (), split: Any = None, classes: Sequence[str] | None = None,
                          hyperparameters: dict[str, Any] | None = None, target_precision: float = 0.98,
                          name: str = "", embedding_sets: Sequence[EmbeddingSet] = (), enqueue: bool = True
                          ) -> ClassifierRun:
    """Validate everything a run needs, create it queued and (``enqueue``) send it to the gpu queue."""
    extractor = extractor_validate(extractor)
    if method not in ALL_METHODS:
        raise ClassifierInputError(f"unknown method {method!r}; expected one of {', '.join(ALL_METHODS)}")
    if not 0.5 <= target_precision < 1.0:
        raise ClassifierInputError("target_precision must be in [0.5, 1)")
    classes = list(classes or DOMAINS)
    unknown = [c for c in classes if c not in DOMAINS]
    if unknown or len(classes) < 2:
        raise ClassifierInputError(f"classes must be two or more of {', '.join(DOMAINS)}; got {classes}")
    hp = dict(hyperparameters or {})
    for embedding_set in embedding_sets:
        if embedding_set.extractor != extractor:
            raise ClassifierInputError(f"embedding set {embedding_set.id} was made with {embedding_set.extractor}, "
                                       f"not {extractor}")
    hp["embedding_sets"] = [e.id for e in embedding_sets]
    _check_hyperparameters(method, hp)
    labelled_images(labels_source=labels_source, datasets=datasets, split=split, classes=classes,
                    seed=int(hp.get("seed", 0)), val_fraction=float(hp.get("val_fraction", 0.2)),
                    test_fraction=float(hp.get("test_fraction", 0.2)),
                    testsets_apart=bool(hp.get("testsets_apart", True)))
    run = ClassifierRun.objects.create(name=name, labels_source=labels_source, split=split, extractor=extractor,
                                       method=method, classes=classes, hyperparameters=hp,
                                       target_precision=target_precision, created_by=created_by)
    if datasets:
        run.datasets.set(datasets)
    if enqueue:
        from classifier.tasks.runs import train_task

        transaction.on_commit(lambda: train_task.delay(run.id))
    return run


def _check_hyperparameters(method: str, hp: dict[str, Any]) -> None:
    from classifier.ml.finetune_presets import FT_PRESETS, TRAIN_TRANSFORMS

    numeric = ("seed", "val_fraction", "test_fraction", "max_steps", "folds", *FT_OVERRIDE_KEYS)
    for key in numeric:
        if key in hp and (isinstance(hp[key], bool) or not isinstance(hp[key], int | float)):
            raise ClassifierInputError(f"hyperparameter {key} must be a number, got {hp[key]!r}")
    for key in ("val_fraction", "test_fraction"):
        if key in hp and not 0 < hp[key] < 0.5:
            raise ClassifierInputError(f"hyperparameter {key} must be in (0, 0.5)")
    if "folds" in hp and not 2 <= hp["folds"] <= 50:
        raise ClassifierInputError("hyperparameter folds (DR cross-fitting) must be in [2, 50]")
    if method in IMAGE_METHODS and hp.get("preset", "released") not in FT_PRESETS:
        raise ClassifierInputError(f"unknown FT preset {hp['preset']!r}; expected one of {', '.join(FT_PRESETS)}")
    if method in IMAGE_METHODS and hp.get("train_transform", "train") not in TRAIN_TRANSFORMS:
        raise ClassifierInputError(f"unknown train_transform {hp['train_transform']!r}; expected one of "
                                   f"{', '.join(TRAIN_TRANSFORMS)}")


def classifier_run_execute(*, run_id: int, device: str = "cpu", precision: str = "fp32", batch_size: int = 64,
                           num_workers: int = 0, progress: Progress = None) -> ClassifierRun:
    """Claim, fit, calibrate and evaluate a run (see ``classifier.services.claims``).

    Only the claimant fits: a delivery that finds the run finished, or running with a fresh
    heartbeat (Redis redelivering after the visibility timeout, a duplicate message, a second
    worker), returns the run untouched and never touches the fit's working folder. A delivery
    that finds the run stale and out of attempts fails it with the reason. Cost: the fit.
    """
    token = classifier_run_claim(run_id=run_id)
    if token is None:
        classifier_runs_reap_stale(run_id=run_id)
        run = ClassifierRun.objects.get(pk=run_id)
        log.info("classifier run %s not claimed: %s (worker %s)", run_id, run.status, run.worker or "-")
        return run
    run = ClassifierRun.objects.get(pk=run_id)
    mine = ClassifierRun.objects.filter(pk=run_id, claim_token=token)
    final = _artifacts() / "classifier_runs" / str(run.id)
    partial = partial_folder(run.id, token)
    partial.mkdir(parents=True)
    started = time.perf_counter()
    try:
        with Heartbeat(run_id=run.id, token=token):
            metrics, artifacts = _fit_and_evaluate(run, partial, device=device, precision=precision,
                                                   batch_size=batch_size, num_workers=num_workers, progress=progress)
            (partial / "metrics.json").write_text(json.dumps(metrics))
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if not mine.update(status=JobStatus.FAILED, error=str(exc)[:4000], finished_at=timezone.now(),
                           claim_token="", duration_s=time.perf_counter() - started):
            # Presumed dead meanwhile (its folder went with the takeover): the run is not ours to fail.
            log.warning("classifier run %s: superseded fit stopped: %s", run.id, exc)
            return ClassifierRun.objects.get(pk=run.id)
        log.exception("classifier run %s failed", run.id)
        raise
    relative = f"classifier_runs/{run.id}"
    with transaction.atomic():
        if not list(ClassifierRun.objects.select_for_update().filter(pk=run.id, claim_token=token).values_list("pk")):
            # Presumed dead meanwhile: another claim or the reaper owns the run now.
            shutil.rmtree(partial, ignore_errors=True)
            log.warning("classifier run %s: fit finished after its claim was taken over; result dropped", run.id)
            return ClassifierRun.objects.get(pk=run.id)
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        mine.update(
            status=JobStatus.SUCCEEDED, progress=1.0, metrics=metrics, thresholds=metrics["thresholds"],
            artifacts={k: f"{relative}/{v}" for k, v in {**artifacts, "metrics": "metrics.json"}.items()},
            finished_at=timezone.now(), duration_s=time.perf_counter() - started, claim_token="", error="")
        # Active learning: campaigns following "latest_run" re-order their queues by this run.
        # Robust: a broker hiccup is logged, never turns a finished run into an error.
        transaction.on_commit(lambda: campaign_predictions_refresh_for_run(run_id=run.id), robust=True)
    run.refresh_from_db()
    return run


def _fit_and_evaluate(run: ClassifierRun, out: Path, *, device: str, precision: str, batch_size: int,
                      num_workers: int, progress: Progress) -> tuple[dict[str, Any], dict[str, str]]:
    hp = run.hyperparameters
    seed = int(hp.get("seed", 0))
    data = labelled_images(labels_source=run.labels_source, datasets=list(run.datasets.all()), split=run.split,
                           classes=run.classes, seed=seed, val_fraction=float(hp.get("val_fraction", 0.2)),
                           test_fraction=float(hp.get("test_fraction", 0.2)),
                           testsets_apart=bool(hp.get("testsets_apart", True)))
    tr, va, te, ev = data.subset("train"), data.subset("val"), data.subset("test"), data.subset("eval")
    step = _stepper(run, progress)
    if run.method in EMBEDDING_METHODS:
        from classifier.ml.methods import fit_method

        features = _features_for(run, data.image_ids, data.dataset_ids, device=device, precision=precision, batch_size=batch_size,
                                 num_workers=num_workers)
        step(0.6)
        params = {k: v for k, v in hp.items() if k in ("cs", "ks", "C", "temperature", "folds")}
        model = fit_method(run.method, features[tr], data.labels[tr], run.classes, x_val=features[va],
                           y_val=data.labels[va], hyperparameters=params, target_precision=run.target_precision,
                           seed=seed)
        model.save(out / "model.pkl")
        val_scores, test_scores, classes = model.scores(features[va]), model.scores(features[te]), model.classes
        eval_scores = model.scores(features[ev]) if len(ev) else None
        artifacts, fitted = {"model": "model.pkl"}, model.params
    elif run.method in IMAGE_METHODS:
        from classifier.ml.extractors import build_extractor
        from classifier.ml.finetune import finetune, finetune_scores

        media = Path(settings.MEDIA_ROOT)
        files = np.array([str(media / f) for f in data.files], dtype=object)
        extractor = build_extractor(run.extractor, device=device, precision=precision, seed=seed)
        ft_options = {"preset": hp.get("preset", "released"), "num_workers": num_workers, "seed": seed,
                      "overrides": {k: hp[k] for k in (*FT_OVERRIDE_KEYS, "train_transform") if k in hp},
                      "max_steps": hp.get("max_steps"),
                      "progress": lambda e, n: step(0.8 * e / n)}
        if run.method.startswith("dr-ft"):
            from classifier.ml.finetune import finetune_density_ratio
            from classifier.ml.methods import BINARY_TARGET

            result = finetune_density_ratio(
                lambda: build_extractor(run.extractor, device=device, precision=precision, seed=seed),
                files[tr].tolist(), data.labels[tr], files[va].tolist(), data.labels[va],
                BINARY_TARGET[run.method[-1]], folds=int(hp.get("folds", 10)), **ft_options)
        else:
            result = finetune(extractor, files[tr].tolist(), data.labels[tr], files[va].tolist(), data.labels[va],
                              run.classes, method=run.method, **ft_options)
        result.save(out / "ft.pt", run.extractor)
        val_scores = finetune_scores(result, files[va].tolist(), extractor, batch_size=batch_size)
        test_scores = finetune_scores(result, files[te].tolist(), extractor, batch_size=batch_size)
        eval_scores = finetune_scores(result, files[ev].tolist(), extractor, batch_size=batch_size) if len(ev) else None
        classes, artifacts = result.classes, {"model": "ft.pt"}
        fitted = {"best_epoch": result.best_epoch, "history": result.history, **result.hyperparameters}
    else:  # create() refuses these; a hand-edited row lands here
        raise MethodError(f"unknown method {run.method!r}")
    metrics = evaluate_model(classes=classes, val_scores=val_scores, y_val=data.labels[va], test_scores=test_scores,
                             y_test=data.labels[te], test_groups=data.groups[te], target=run.target_precision,
                             eval_scores=eval_scores, y_eval=data.labels[ev], eval_groups=data.groups[ev])
    metrics.update({"scored_classes": classes, "fitted": fitted,
                    "counts": {s: {c: int(((data.subsets == s) & (data.labels == c)).sum()) for c in run.classes}
                               for s in ("train", "val", "test", "eval")}})
    np.savez(out / "scores.npz", val_ids=data.image_ids[va], val_scores=val_scores, test_ids=data.image_ids[te],
             test_scores=test_scores, eval_ids=data.image_ids[ev],
             eval_scores=eval_scores if eval_scores is not None else np.zeros((0, len(classes)), np.float32))
    artifacts["scores"] = "scores.npz"
    return metrics, artifacts


def _features_for(run: ClassifierRun, image_ids: np.ndarray, dataset_ids: np.ndarray, **compute: Any) -> np.ndarray:
    """Raw features of ``image_ids`` (of ``dataset_ids``), from the run's embedding sets (computed where missing)."""
    from classifier.ml.embed import load_embeddings

    chosen = {e.dataset_id: e for e in EmbeddingSet.objects.filter(id__in=run.hyperparameters.get("embedding_sets", []))}
    features: np.ndarray | None = None
    for dataset_id in sorted(set(dataset_ids.tolist())):
        embedding_set = chosen.get(dataset_id) or embedding_set_get_or_create(
            dataset=Dataset.objects.get(pk=dataset_id), extractor=run.extractor, created_by=run.created_by)
        if embedding_set.extractor != run.extractor:
            raise ClassifierInputError(f"embedding set {embedding_set.id} was made with {embedding_set.extractor}, "
                                       f"not {run.extractor}")
        # Idempotent: returns at once when the set is finished and the dataset has not grown.
        embedding_set = embedding_set_compute(embedding_set_id=embedding_set.id, **compute)
        ids, chunk = load_embeddings(_artifacts() / embedding_set.path)
        if features is None:
            features = np.zeros((len(image_ids), chunk.shape[1]), np.float16)
        row_of = {int(i): r for r, i in enumerate(ids)}
        for r in np.flatnonzero(dataset_ids == dataset_id):
            image_id = int(image_ids[r])
            if image_id not in row_of:
                raise ClassifierInputError(f"embedding set {embedding_set.id} lacks image {image_id}; recompute it")
            features[r] = chunk[row_of[image_id]]
    assert features is not None
    return features


def _stepper(run: ClassifierRun, progress: Progress) -> Callable[[float], None]:
    # Test hook only: while this file exists each step waits, so a test can act on a fit mid-way.
    hold = settings.CLASSIFIER_HOLD_FILE

    def step(fraction: float) -> None:
        ClassifierRun.objects.filter(pk=run.pk, claim_token=run.claim_token).update(progress=fraction)
        if progress is not None:
            progress(int(fraction * 100), 100)
        deadline = time.monotonic() + 600
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.1)

    return step


# ---------------------------------------------------------------- active learning
#
# A campaign orders its queue by the predictions stored on its items (labeling.services.campaigns).
# These services fill them from a finished run: by hand (a run picked on the campaign page) or, for
# campaigns whose prediction_source is "latest_run", whenever a run over their datasets finishes.


def _run_dataset_ids(run: ClassifierRun) -> set[int]:
    """Datasets a run learned from: its own, or those of the campaign its split's snapshot froze."""
    ids = set(run.datasets.values_list("id", flat=True))
    if run.split_id is not None:
        ids |= set(Dataset.objects.filter(campaigns__snapshots__splits=run.split_id).values_list("id", flat=True))
    return ids


def _multi_class(run: ClassifierRun) -> bool:
    return len(run.metrics.get("scored_classes") or run.classes) > 1


def campaign_latest_run(*, campaign: Any) -> ClassifierRun | None:
    """The run a campaign following "latest_run" uses: the most recently finished succeeded run whose
    datasets overlap the campaign's, preferring multi-class (e.g. ternary) runs, whose probabilities
    give both a predicted group and an uncertainty; a per-class (binary) run only where no
    multi-class run exists."""
    from django.db.models import Q

    dataset_ids = list(campaign.datasets.values_list("id", flat=True))
    runs = list(ClassifierRun.objects.filter(status=JobStatus.SUCCEEDED)
                .filter(Q(datasets__in=dataset_ids) | Q(split__snapshot__campaign__datasets__in=dataset_ids))
                .distinct().order_by("-finished_at", "-id")[:200])
    return next((r for r in runs if _multi_class(r)), runs[0] if runs else None)


def campaign_predictions_refresh_for_run(*, run_id: int) -> list[int]:
    """Queue a predictions refresh for every active campaign that follows "latest_run" and for which
    this run is now the latest run; returns the campaign ids. Called after a run succeeds."""
    from classifier.tasks.runs import campaign_predictions_task
    from labeling.models import Campaign

    run = ClassifierRun.objects.get(pk=run_id)
    if run.status != JobStatus.SUCCEEDED:
        return []
    campaigns = (Campaign.objects.filter(status=Campaign.Status.ACTIVE,
                                         prediction_source=Campaign.PredictionSource.LATEST_RUN,
                                         datasets__in=_run_dataset_ids(run)).distinct())
    queued = []
    for campaign in campaigns:
        latest = campaign_latest_run(campaign=campaign)
        if latest is not None and latest.id == run.id:
            campaign_predictions_task.delay(campaign.id, run.id, True)
            queued.append(campaign.id)
    if queued:
        log.info("run %s: predictions refresh queued for campaigns %s", run.id, queued)
    return queued


def campaign_predictions_configure(*, campaign: Any, ordering: str, uncertainty_measure: str,
                                   show_suggestions: bool, prediction_source: str | None = None,
                                   run_id: int | None = None) -> ClassifierRun | None:
    """Set how a campaign orders its queue and where its predictions come from, then queue a refresh.

    ``prediction_source`` "latest_run": follow the newest finished run from now on, refreshed with it
    at once; "none": stop following (stored predictions stay); None: keep the current source.
    ``run_id``: predictions of that finished run, once (the campaign stops following). With neither a
    new source nor a run, a changed uncertainty measure recomputes with the run held now.
    Returns the run a refresh was queued with, if any; ClassifierInputError on bad input.
    """
    from labeling.models import Campaign
    from labeling.services.campaigns import CampaignError, campaign_set_ordering

    if prediction_source is not None and prediction_source not in Campaign.PredictionSource.values:
        raise ClassifierInputError(f"unknown prediction source {prediction_source!r}; expected one of "
                                   f"{', '.join(Campaign.PredictionSource.values)}")
    run: ClassifierRun | None = None
    if run_id is not None:
        if prediction_source == Campaign.PredictionSource.LATEST_RUN:
            raise ClassifierInputError("either follow the latest run or pick one run, not both")
        run = ClassifierRun.objects.filter(pk=run_id).first()
        if run is None:
            raise ClassifierInputError(f"no classifier run {run_id}")
        if run.status != JobStatus.SUCCEEDED:
            raise ClassifierInputError(f"run {run.id} is {run.status}; only a finished run can predict")
        prediction_source = Campaign.PredictionSource.NONE
    # Refreshes may have landed since the caller loaded the campaign.
    campaign.refresh_from_db(fields=["prediction_source", "prediction_run", "uncertainty_measure"])
    follow = (prediction_source or campaign.prediction_source) == Campaign.PredictionSource.LATEST_RUN
    starts_following = follow and campaign.prediction_source != Campaign.PredictionSource.LATEST_RUN
    measure_changed = uncertainty_measure != campaign.uncertainty_measure
    with transaction.atomic():
        try:
            campaign_set_ordering(campaign=campaign, ordering=ordering, uncertainty_measure=uncertainty_measure,
                                  show_suggestions=show_suggestions,
                                  prediction_source=prediction_source or campaign.prediction_source)
        except CampaignError as exc:
            raise ClassifierInputError(str(exc)) from exc
        if run is None and (starts_following or (follow and campaign.prediction_run_id is None)):
            run = campaign_latest_run(campaign=campaign)
        if run is None and measure_changed and campaign.prediction_run_id is not None:
            run = campaign.prediction_run
        if run is not None:
            from classifier.tasks.runs import campaign_predictions_task

            chosen = run
            transaction.on_commit(lambda: campaign_predictions_task.delay(campaign.id, chosen.id, False))
    return run


def campaign_predictions_update(*, campaign_id: int, run_id: int, device: str = "cpu", precision: str = "fp32",
                                batch_size: int = 64, only_if_newer: bool = False) -> int:
    """Score a campaign's items with a finished run and store predicted label, top score and
    uncertainty for the predicted-groups and uncertainty orderings; record the run and the time on
    the campaign. Returns the number of items updated (0 when skipped).

    Multi-class runs: argmax label, its probability, and the campaign's uncertainty measure of the
    probability row (classifier.ml.uncertainty: margin or entropy, in [0, 1], higher = more
    uncertain). A binary run predicts its class where the score passes its threshold and nothing
    elsewhere, with no uncertainty (its scores need not be probabilities).
    ``only_if_newer`` (the automatic refresh): skip when the campaign no longer follows "latest_run",
    is not active, or already holds predictions of a run that finished later (tasks may overtake).
    Cost: embedding of items not yet embedded, then a matmul.
    """
    from classifier.ml.uncertainty import uncertainty
    from labeling.models import Campaign, CampaignItem
    from labeling.services.campaigns import campaign_set_predictions

    run = ClassifierRun.objects.get(pk=run_id)
    if run.status != JobStatus.SUCCEEDED:
        raise ClassifierInputError(f"run {run.id} is {run.status}; only a finished run can predict")
    campaign = Campaign.objects.select_related("prediction_run").get(pk=campaign_id)
    if only_if_newer and _superseded(campaign, run):
        log.info("campaign %s: predictions of run %s skipped (superseded or not following)", campaign.id, run.id)
        return 0
    rows = list(CampaignItem.objects.filter(campaign_id=campaign_id).order_by("id")
                .values_list("image_id", "image__dataset_id", "image__file"))
    if not rows:
        return 0
    image_ids = np.array([r[0] for r in rows], dtype=np.int64)
    model_path = _artifacts() / run.artifacts["model"]
    if run.method in EMBEDDING_METHODS:
        from classifier.ml.methods import load_head

        head = load_head(model_path)
        features = _features_for(run, image_ids, np.array([r[1] for r in rows], dtype=np.int64), device=device,
                                 precision=precision, batch_size=batch_size)
        scores, classes = head.predict_proba(features), head.classes
    else:
        from classifier.ml.finetune import finetune_scores, load_finetuned

        result, extractor = load_finetuned(model_path, device=device, precision=precision)
        media = Path(settings.MEDIA_ROOT)
        scores = finetune_scores(result, [str(media / r[2]) for r in rows], extractor, batch_size=batch_size)
        classes = result.classes
    scores = np.asarray(scores, dtype=np.float64)
    predictions: dict[int, tuple[str | None, float, float | None]] = {}
    if len(classes) > 1:
        top = scores.argmax(axis=1)
        unsure = uncertainty(scores, campaign.uncertainty_measure)
        for r, image_id in enumerate(image_ids.tolist()):
            predictions[image_id] = (classes[top[r]], float(scores[r, top[r]]), float(unsure[r]))
    else:
        threshold = run.thresholds.get(classes[0])
        for image_id, row in zip(image_ids.tolist(), scores, strict=True):
            fires = threshold is not None and row[0] >= threshold
            predictions[image_id] = (classes[0] if fires else None, float(row[0]), None)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign_id)
        if only_if_newer and _superseded(campaign, run):
            return 0
        updated = campaign_set_predictions(campaign=campaign, predictions=predictions)
        Campaign.objects.filter(pk=campaign.pk).update(prediction_run=run, predictions_updated_at=timezone.now())
    return updated


def _superseded(campaign: Any, run: ClassifierRun) -> bool:
    held = campaign.prediction_run
    return (campaign.prediction_source != campaign.PredictionSource.LATEST_RUN
            or campaign.status != campaign.Status.ACTIVE
            or (held is not None and held.id != run.id and held.finished_at and run.finished_at
                and held.finished_at > run.finished_at))
