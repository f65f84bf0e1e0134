"""manage.py zeroshot_eval: zero-shot top-1/top-5 of a run's checkpoints (or a pretrained tag)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from labeling.models import Dataset
from training.services.zeroshot import ZeroShotInputError, zeroshot_evaluate_request, zeroshot_requests_build
from training.zeroshot.evaluate import load_templates


class Command(BaseCommand):
    help = ("Evaluate a training run's epoch checkpoints, or --model with --checkpoint (path or pretrained "
            "tag), zero-shot on test sets (labeling datasets), standard and clean, with the 80 OpenAI "
            "ImageNet templates. Results are stored as EvalResult rows.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", help="training run id or name")
        parser.add_argument("--epochs", type=int, nargs="*", default=[], help="default: every checkpoint")
        parser.add_argument("--model", default="")
        parser.add_argument("--checkpoint", default="")
        parser.add_argument("--test-set", action="append", default=[], help="dataset name or id (repeatable)")
        parser.add_argument("--mode", choices=["standard", "clean", "both"], default="both")
        parser.add_argument("--templates", help="JSON list of templates with '{}' (default: OpenAI ImageNet 80)")
        parser.add_argument("--device", default="", help="cpu or cuda (default: cuda when available)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from training.models import TrainingRun

        run_id = None
        if opts["run"]:
            run = TrainingRun.objects.filter(pk=int(opts["run"])).first() if opts["run"].isdigit() else \
                TrainingRun.objects.filter(name=opts["run"]).first()
            if run is None:
                raise CommandError(f"no training run {opts['run']!r}")
            run_id = run.id
        if not opts["test_set"]:
            raise CommandError("give at least one --test-set")
        ids = []
        for ref in opts["test_set"]:
            found = Dataset.objects.filter(pk=int(ref)).first() if ref.isdigit() else Dataset.objects.filter(name=ref).first()
            if found is None:
                raise CommandError(f"no dataset {ref!r}")
            ids.append(found.id)
        clean = {"standard": [False], "clean": [True], "both": [False, True]}[opts["mode"]]
        try:
            templates = load_templates(opts["templates"]) if opts["templates"] else None
            requests = zeroshot_requests_build(training_run=run_id, model=opts["model"], checkpoint=opts["checkpoint"],
                                               epochs=opts["epochs"], datasets=ids, clean=clean, device=opts["device"])
        except (ZeroShotInputError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        rows = []
        bar = tqdm(total=len(requests) * len(ids) * len(clean), unit="eval", file=self.stderr._out)
        for request in requests:
            try:
                rows += zeroshot_evaluate_request(request=request, templates=templates, progress=lambda _r: bar.update())
            except ZeroShotInputError as exc:
                raise CommandError(str(exc)) from exc
        bar.close()
        for row in rows:
            self.stdout.write(f"{row.checkpoint} epoch={row.epoch} {row.test_set}{' clean' if row.clean else ''}: "
                              f"top1={row.top1:.4f} top5={row.top5:.4f} n={row.n}")
        self.stdout.write(f"stored {len(rows)} eval result(s) for {len(requests)} checkpoint(s)")
