"""manage.py clean_testset: keep only the images of a test set's own domain at the strict thresholds."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.apply.clean import CLEAN_RULES, OWN_CLASSIFIER, table12_csv
from classifier.management.progress import progress_bar
from classifier.models import ClassifierRun, CleanTestset
from classifier.services.apply import ApplyError, clean_testset_create, clean_testset_run, head_spec_from_runs
from domainsieve.jobs import JobStatus
from labeling.models import Dataset


class Command(BaseCommand):
    help = (
        "Clean a test set (a dataset with expected_domain natural or rendition): score every image with the "
        "natural and rendition classifier runs and keep only those assigned to the set's own domain at the "
        "strict (98%-precision) thresholds (--rule: the paper's own_classifier, or two_head). Creates a new "
        "dataset; classes left empty are masked. Prints the "
        "Table-12 row; --export writes the CSV of all finished cleanings (or --table-only to just export)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", help="test set name")
        parser.add_argument("--natural-run", type=int)
        parser.add_argument("--rendition-run", type=int)
        parser.add_argument("--name", default="", help="name of the clean dataset (default: '<name> (clean)')")
        parser.add_argument("--rule", choices=CLEAN_RULES, default=OWN_CLASSIFIER,
                            help="own_classifier (the paper's: a natural set keeps what the natural classifier "
                                 "fires on, a rendition set what the rendition one fires on) or two_head (own fires "
                                 "and the other does not)")
        parser.add_argument("--device", default="auto")
        parser.add_argument("--batch-size", type=int, default=128)
        parser.add_argument("--export", help="write the Table-12 CSV of all finished cleanings here")
        parser.add_argument("--table-only", action="store_true", help="only export the table")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["table_only"]:
            self._clean(options)
        if options["export"]:
            rows = [c.counts for c in CleanTestset.objects.filter(status=JobStatus.SUCCEEDED).order_by("id")]
            Path(options["export"]).write_text(table12_csv(rows))
            self.stdout.write(f"wrote {len(rows)} row(s) to {options['export']}")

    def _clean(self, options: dict[str, Any]) -> None:
        if not (options["dataset"] and options["natural_run"] and options["rendition_run"]):
            raise CommandError("give --dataset, --natural-run and --rendition-run")
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset named {options['dataset']!r}")
        runs = {r.id: r for r in ClassifierRun.objects.filter(pk__in=[options["natural_run"], options["rendition_run"]])}
        for key in ("natural_run", "rendition_run"):
            if options[key] not in runs:
                raise CommandError(f"no classifier run {options[key]}")
        try:
            spec = head_spec_from_runs(natural_run=runs[options["natural_run"]],
                                       rendition_run=runs[options["rendition_run"]])
            clean = clean_testset_create(source=dataset, spec=spec, result_name=options["name"],
                                         rule=options["rule"], enqueue=False)
        except ApplyError as exc:
            raise CommandError(str(exc)) from None
        with progress_bar(f"clean {dataset.name}", unit="img", verbosity=options["verbosity"],
                          total=dataset.images.count()) as bar:
            clean = clean_testset_run(clean_id=clean.id, device=options["device"],
                                      batch_size=options["batch_size"], progress=bar.step)
        c = clean.counts
        self.stdout.write(f"clean {dataset.name} -> {clean.result_name}: {c['images']}/{c['images_total']} images, "
                          f"{c['classes']}/{c['classes_total']} classes ({len(c['masked_classes'])} masked; rule {clean.rule})")
