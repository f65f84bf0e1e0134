"""manage.py train_classifier: fit, calibrate and evaluate a domain classifier in this process."""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.management.progress import progress_bar
from classifier.ml.extractors import ExtractorError
from classifier.ml.methods import ALL_METHODS, RENAME_NOTE, MethodError
from classifier.services.runs import ClassifierInputError, classifier_run_create, classifier_run_execute
from labeling.domains import DOMAINS
from labeling.models import Dataset, Split


class Command(BaseCommand):
    help = (
        "Train a domain classifier (methods: " + ", ".join(ALL_METHODS) + ") on labels from images' "
        "intended domain (--dataset, seeded stratified split) or from a frozen split (--split NAME[:VERSION]). "
        "Thresholds are set on validation for --target-precision; metrics on val, test and per test dataset. "
        "dr-N/dr-R: the published density ratio (10-fold cross-fitted, temperature-calibrated; hp folds, cs); "
        "dr-ft-N/dr-ft-R: the same with a fine-tuned backbone (GPU); logreg-N/logreg-R: one logistic regression. "
        "Note: " + RENAME_NOTE + "."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--method", required=True, choices=ALL_METHODS)
        parser.add_argument("--extractor", default="timm:efficientnet_lite0/pypi")
        parser.add_argument("--dataset", action="append", default=[], help="dataset name (repeat for several)")
        parser.add_argument("--split", default=None, help="split name, optionally NAME:VERSION (latest otherwise)")
        parser.add_argument("--classes", default=",".join(DOMAINS), help="comma-separated (default all three)")
        parser.add_argument("--target-precision", type=float, default=0.98)
        parser.add_argument("--hp", default="{}", help='hyperparameters JSON, e.g. \'{"seed": 1, "epochs": 2}\'')
        parser.add_argument("--name", default="")
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--workers", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            hp = json.loads(options["hp"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--hp is not JSON: {exc}") from None
        datasets = []
        for name in options["dataset"]:
            dataset = Dataset.objects.filter(name=name).first()
            if dataset is None:
                raise CommandError(f"no dataset named {name!r}")
            datasets.append(dataset)
        split = None
        if options["split"]:
            name, _, version = options["split"].partition(":")
            splits = Split.objects.filter(name=name)
            split = (splits.filter(version=int(version)) if version else splits.order_by("-version")).first()
            if split is None:
                raise CommandError(f"no split {options['split']!r}")
        if bool(datasets) == bool(split):
            raise CommandError("give either --dataset (intended-domain labels) or --split")
        try:
            run = classifier_run_create(
                created_by=None, method=options["method"], extractor=options["extractor"],
                labels_source="split" if split else "intended_domain", datasets=datasets, split=split,
                classes=[c.strip() for c in options["classes"].split(",") if c.strip()], hyperparameters=hp,
                target_precision=options["target_precision"], name=options["name"], enqueue=False)
        except ClassifierInputError as exc:
            raise CommandError(str(exc)) from None
        try:
            with progress_bar(f"run {run.id} {run.method}", unit="%", verbosity=options["verbosity"], total=100) as bar:
                run = classifier_run_execute(run_id=run.id, device=options["device"],
                                             batch_size=options["batch_size"], num_workers=options["workers"],
                                             progress=lambda done, total: bar.at(done))
        except (ClassifierInputError, MethodError, ExtractorError) as exc:
            raise CommandError(f"run {run.id} failed: {exc}") from None
        parts = [f"{c}: thr {run.thresholds.get(c)}, val R {run.metrics['val'][c]['recall']:.3f}, "
                 f"test P {run.metrics['test'][c]['precision']:.3f} R {run.metrics['test'][c]['recall']:.3f}"
                 for c in run.metrics["scored_classes"]]
        self.stdout.write(f"run {run.id} {run.method} @ {run.extractor} in {run.duration_s:.1f}s; "
                          f"at {run.target_precision:.0%} val precision: " + "; ".join(parts))
