"""manage.py import_images: import a folder, ImageFolder tree, DomainNet, webdataset shards or a
manifest into a dataset, in this process (no worker needed)."""
from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from domainsieve.jobs import JobStatus
from labeling.classnames import CLASS_SET_CHOICES
from labeling.domains import DOMAINS
from labeling.ingest import FORMATS
from labeling.models import Dataset
from labeling.services.datasets import dataset_create, import_create, import_run


class Command(BaseCommand):
    help = (
        "Import images into a dataset (created if missing). SOURCE is a server path inside "
        "settings.IMPORT_ROOTS: a folder, an ImageFolder tree (class/img.jpg), a DomainNet root "
        "(domain/class/img.jpg with <domain>_test.txt lists; real -> natural, others -> rendition), "
        "webdataset shards (folder, .tar, glob or 'shards/{00000..00009}.tar'), or a CSV/JSONL/"
        "parquet manifest with a path or url column. Same bytes are imported once per dataset; "
        "re-running adds nothing. Writes a rejects CSV (source, reason)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="server path, glob or brace pattern")
        parser.add_argument("--dataset", required=True, help="dataset name (created if missing)")
        parser.add_argument("--kind", choices=Dataset.Kind.values, default=Dataset.Kind.POOL,
                            help="for a new dataset: pool (default) or testset")
        parser.add_argument("--expected-domain", choices=DOMAINS, default="",
                            help="for a new test set: the domain it claims to be")
        parser.add_argument("--description", default="", help="for a new dataset")
        parser.add_argument("--format", choices=FORMATS, default="auto", help="input format (default: auto)")
        parser.add_argument("--sample", type=int, default=None, metavar="N",
                            help="import N items drawn at random from the listing (before decoding)")
        parser.add_argument("--class-names", choices=CLASS_SET_CHOICES, default="auto",
                            help="class-name set mapping folder keys to prompt names (default: auto-detect "
                                 "WordNet ids, ImageNet-V2 numbers, ObjectNet, DomainNet; none: folders are names)")
        parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed for --sample (default 0)")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is not None and (options["kind"], options["expected_domain"]) != (Dataset.Kind.POOL, ""):
            if (dataset.kind, dataset.expected_domain) != (options["kind"], options["expected_domain"]):
                self.stderr.write(f"note: dataset {dataset.name} exists as {dataset.kind}"
                                  f"{' (' + dataset.expected_domain + ')' if dataset.expected_domain else ''};"
                                  " --kind/--expected-domain only apply to a new dataset")
        try:
            if dataset is None:
                dataset = dataset_create(name=options["dataset"], kind=options["kind"],
                                         expected_domain=options["expected_domain"],
                                         description=options["description"])
            job = import_create(dataset=dataset, source=options["source"], format=options["format"],
                                sample=options["sample"], seed=options["seed"],
                                class_names=options["class_names"], enqueue=False)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        bar = tqdm(desc=f"import into {dataset.name}", unit="img", file=sys.stderr,
                   disable=options["verbosity"] == 0)

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
                bar.refresh()
            bar.update(done - bar.n)

        try:
            job = import_run(job=job, progress=progress)
        finally:
            bar.close()
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"import failed: {job.error} (rejects: {job.rejects_path})")
        applied = (job.options or {}).get("class_names_applied")
        named = f"; class names: {applied}" if applied else ""
        self.stdout.write(f"{job.summary()}{named}; rejects: {job.rejects_path}")
