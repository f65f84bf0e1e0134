"""manage.py find_contamination: test images with near twins in a pool, and an exclusion uid list."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.management.commands.dedup import datasets_by_name, index_from_options
from classifier.management.progress import progress_bar
from classifier.ml.neighbours import NeighbourInputError
from classifier.services.neighbours import (
    contamination_exclusion_path,
    contamination_report_create,
    contamination_report_execute,
)


class Command(BaseCommand):
    help = (
        "For each image of the test sets, find its nearest pool images at cosine >= threshold (in an index over "
        "the pool's embeddings, built here when needed). Prints per test set how many images have a near twin "
        "and at which similarity, and writes the twins' uids as a sorted DataComp uid list to subtract from "
        "subsets and mixtures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--testsets", required=True, help="test set dataset names, comma-separated")
        parser.add_argument("--datasets", help="pool dataset names, comma-separated")
        parser.add_argument("--extractor", help="whose embeddings to use (pool and test sets must be embedded)")
        parser.add_argument("--index", type=int, help="an existing pool index id instead of --datasets")
        parser.add_argument("--threshold", default="0.9", help="cosine threshold in [0, 1] (default 0.9)")
        parser.add_argument("--k", type=int, default=5, help="pool neighbours kept per test image (default 5)")
        parser.add_argument("--factory", default="", help="FAISS index type (default: chosen by size)")
        parser.add_argument("--out", help="also copy the exclusion uid list (.npy) here")

    def handle(self, *args: Any, **options: Any) -> None:
        testsets = datasets_by_name(options["testsets"], "test set")
        try:
            from classifier.ml.neighbours import check_threshold

            threshold = check_threshold(options["threshold"])
            index = index_from_options(options, "pool index")
            report = contamination_report_create(index=index, testsets=testsets, threshold=threshold,
                                                 k=options["k"], extractor=options.get("extractor") or "",
                                                 enqueue=False)
        except NeighbourInputError as exc:
            raise CommandError(str(exc)) from None
        with progress_bar("test images", unit="img", verbosity=options["verbosity"], total=report.total or None) as bar:
            report = contamination_report_execute(report_id=report.id, progress=bar.at)
        for s in report.summary:
            sim = s["similarity"]
            at = f" (similarity {sim['min']}..{sim['max']}, median {sim['median']})" if sim else ""
            self.stdout.write(f"{s['name']}: {s['with_twin']} of {s['images']} test images have a near twin{at}")
        path = contamination_exclusion_path(report=report)
        if options["out"]:
            Path(options["out"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, options["out"])
        twins = sum(s["with_twin"] for s in report.summary)
        self.stdout.write(f"contamination report {report.id} (t={report.threshold}): {twins} test images with twins; "
                          f"{report.exclusion_count} pool uids to exclude -> {options['out'] or path}")
