"""manage.py launch_training: plan a mixture, show the exact command, and launch a CLIP run."""
from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from training.mixtures import preset_names
from training.selectors.runs import training_queue_positions
from training.services.runs import TrainingInputError, training_run_create, training_run_preview


class Command(BaseCommand):
    help = ("Launch an OpenCLIP training run on a mixture. Give --preset (laion_natural, random_<N>M, "
            "mix_<n>_<r>) with --natural/--rendition/--pool shard sets: fixed subsets of exactly the preset's size built "
            "with make_subset, read once per epoch as the paper trained (..._resampled: redraw every epoch), or --source NAME=SHARDS[:RATIO|#COUNT] "
            "(repeatable) with --total. The command is printed first; --dry-run stops there.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--preset", help=f"one of: {', '.join(preset_names())}, or any mix_<n>_<r>; "
                                                        "add _resampled for per-epoch redrawing")
        parser.add_argument("--natural", default="", help="natural subset shards (brace pattern or folder)")
        parser.add_argument("--rendition", default="", help="rendition subset shards")
        parser.add_argument("--pool", default="", help="random_<N>M: a fixed N-sample subset of the pool (make_subset)")
        parser.add_argument("--unit", type=int, default=1_000_000, help="samples per 'M' in presets")
        parser.add_argument("--source", action="append", default=[],
                            help="NAME=SHARDS with :RATIO or #COUNT appended, e.g. nat=/d/{00000..00009}.tar:3")
        parser.add_argument("--total", type=int, help="samples per epoch (with ratios)")
        parser.add_argument("--allow-repeats", action="store_true",
                            help="let a source be drawn more often per epoch than it has samples")
        parser.add_argument("--model", default="ViT-B-32")
        parser.add_argument("--epochs", type=int, default=32)
        parser.add_argument("--global-batch", type=int, default=16384)
        parser.add_argument("--gpus", type=int, default=8)
        parser.add_argument("--nodes", type=int, default=1)
        parser.add_argument("--per-gpu-batch", type=int)
        parser.add_argument("--max-per-gpu-batch", type=int, help="use gradient accumulation above this")
        parser.add_argument("--precision", default="amp")
        parser.add_argument("--workers", type=int, default=6)
        parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
        parser.add_argument("--backend", default="local", choices=["local", "slurm"])
        parser.add_argument("--backend-options", default="{}", help="JSON, e.g. '{\"partition\": \"gpu\"}'")
        parser.add_argument("--dry-run", action="store_true", help="print the command and plan; launch nothing")

    @staticmethod
    def _source(raw: str) -> dict[str, Any]:
        if "=" not in raw:
            raise CommandError(f"--source {raw!r}: expected NAME=SHARDS[:RATIO|#COUNT]")
        name, rest = raw.split("=", 1)
        item: dict[str, Any] = {"name": name}
        try:
            if "#" in rest:
                rest, count = rest.rsplit("#", 1)
                item["count"] = int(count)
            elif ":" in rest and rest.rsplit(":", 1)[1].replace(".", "", 1).isdigit():
                rest, ratio = rest.rsplit(":", 1)
                item["ratio"] = float(ratio)
        except ValueError as exc:
            raise CommandError(f"--source {raw!r}: {exc}") from exc
        item["shards"] = rest
        return item

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["preset"]:
            mixture: dict[str, Any] = {k: opts[k] for k in ("preset", "natural", "rendition", "pool", "unit")}
        elif opts["source"]:
            mixture = {"sources": [self._source(s) for s in opts["source"]]}
        else:
            raise CommandError("give --preset or at least one --source")
        if opts["total"] is not None:
            mixture["total"] = opts["total"]
        if opts["allow_repeats"]:
            mixture["allow_repeats"] = True
        try:
            backend_options = json.loads(opts["backend_options"])
        except ValueError as exc:
            raise CommandError(f"--backend-options is not JSON: {exc}") from exc
        params = {
            "name": opts["name"], "mixture": mixture, "model": opts["model"], "epochs": opts["epochs"],
            "global_batch": opts["global_batch"], "gpus": opts["gpus"], "nodes": opts["nodes"],
            "per_gpu_batch": opts["per_gpu_batch"], "max_per_gpu_batch": opts["max_per_gpu_batch"],
            "precision": opts["precision"], "workers": opts["workers"], "device": opts["device"],
            "backend": opts["backend"], "backend_options": backend_options,
        }
        try:
            preview = training_run_preview(**params)
        except TrainingInputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(preview["command_line"])
        if preview["script"]:
            self.stdout.write(preview["script"])
        for warning in preview["plan"].get("warnings", []):
            sys.stderr.write(f"warning: {warning}\n")
        if opts["dry_run"]:
            self.stdout.write(f"dry run: {preview['plan']['train_num_samples']:,} samples/epoch, per-GPU batch "
                              f"{preview['per_gpu_batch']} x accum {preview['accum']}; nothing launched")
            return
        try:
            run = training_run_create(**params)
        except TrainingInputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"run {run.id} {run.name} queued on the {run.backend} backend "
                          f"({run.plan['train_num_samples']:,} samples/epoch, {run.epochs} epochs)")
        if run.backend == "local":
            run.refresh_from_db()  # placed on commit, or waiting
            position = training_queue_positions().get(run.id)
            self.stdout.write(f"placed on {run.host}, GPU {','.join(map(str, run.devices)) or '-'}" if run.host
                              else f"waiting: #{position} in the queue (/training/hosts/)" if position
                              else f"status {run.status}")
