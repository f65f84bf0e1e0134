"""manage.py dedup: near-duplicate removal over embeddings (LAION-400M -> LAION-200M style)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.management.progress import progress_bar
from classifier.ml.neighbours import NeighbourInputError
from classifier.models.neighbours import VectorIndex
from classifier.services.neighbours import (
    dedup_run_create,
    dedup_run_execute,
    vector_index_build,
    vector_index_for_datasets,
)
from domainsieve.jobs import JobStatus
from labeling.models import Dataset


def parse_thresholds(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CommandError(f"thresholds must be numbers separated by commas, not {text!r}") from None


def datasets_by_name(text: str, what: str) -> list[Dataset]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    found = {d.name: d for d in Dataset.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise CommandError(f"no {what} named {', '.join(repr(m) for m in missing)}")
    return [found[n] for n in names]


def index_from_options(options: dict[str, Any], bar_desc: str) -> VectorIndex:
    """The index the options name (``--index``), or the one over ``--datasets`` x ``--extractor``,
    built here (with a progress bar) when it is not built yet."""
    if options.get("index"):
        index = VectorIndex.objects.filter(pk=options["index"]).first()
        if index is None:
            raise CommandError(f"no index {options['index']}")
    else:
        if not (options.get("datasets") and options.get("extractor")):
            raise CommandError("give --index, or --datasets and --extractor")
        try:
            index = vector_index_for_datasets(datasets=datasets_by_name(options["datasets"], "dataset"),
                                              extractor=options["extractor"], factory=options.get("factory") or "",
                                              enqueue=False)
        except NeighbourInputError as exc:
            raise CommandError(str(exc)) from None
    if index.status != JobStatus.SUCCEEDED:
        try:
            with progress_bar(bar_desc, unit="row", verbosity=options["verbosity"], total=index.total or None) as bar:
                index = vector_index_build(index_id=index.id, progress=bar.at)
        except NeighbourInputError as exc:
            raise CommandError(str(exc)) from None
    return index


class Command(BaseCommand):
    help = (
        "Remove near-duplicates from a pool by embedding: build (or reuse) a FAISS index over the datasets' "
        "embeddings, link every image to its k nearest at cosine >= threshold, and keep one image per cluster "
        "(most pixels, then lowest uid). Writes per threshold the kept uids as a sorted DataComp uid list "
        "(keep_t<T>.npy) and the removed ones, and prints the counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datasets", help="pool dataset names, comma-separated")
        parser.add_argument("--extractor", help="whose embeddings to use (the datasets must be embedded)")
        parser.add_argument("--index", type=int, help="an existing index id instead of --datasets/--extractor")
        parser.add_argument("--thresholds", default="0.95", help="cosine thresholds in [0, 1], comma-separated")
        parser.add_argument("--k", type=int, default=16, help="neighbours per image (default 16)")
        parser.add_argument("--factory", default="", help="FAISS index type (default: chosen by size)")
        parser.add_argument("--out", help="also copy the uid lists into this folder")

    def handle(self, *args: Any, **options: Any) -> None:
        thresholds = parse_thresholds(options["thresholds"])
        try:
            # Validate the thresholds before any index is built.
            from classifier.ml.neighbours import check_threshold

            for t in thresholds:
                check_threshold(t)
            index = index_from_options(options, "index")
            run = dedup_run_create(index=index, thresholds=thresholds, k=options["k"], enqueue=False)
        except NeighbourInputError as exc:
            raise CommandError(str(exc)) from None
        with progress_bar("dedup", unit="row", verbosity=options["verbosity"], total=index.rows or None) as bar:
            run = dedup_run_execute(run_id=run.id, progress=bar.at)
        for c in run.counts:
            line = (f"t={c['threshold']}: {c['total']} images, {c['clusters']} clusters holding {c['in_clusters']}, "
                    f"removed {c['removed']}, kept {c['kept']} -> {Path(settings.ARTIFACTS_ROOT) / c['keep_path']}")
            self.stdout.write(line)
            if options["out"]:
                out = Path(options["out"])
                out.mkdir(parents=True, exist_ok=True)
                for key in ("keep_path", "removed_path"):
                    shutil.copy(Path(settings.ARTIFACTS_ROOT) / c[key], out / Path(c[key]).name)
        first = run.counts[0] if run.counts else {"removed": 0, "total": 0, "threshold": thresholds[0]}
        self.stdout.write(f"dedup run {run.id} (index {index.id}, {index.factory}): at t={first['threshold']} removed "
                          f"{first['removed']} of {first['total']} images")
