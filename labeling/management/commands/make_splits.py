"""manage.py make_splits: a seeded, stratified, frozen split of a label snapshot."""
from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404
from tqdm import tqdm

from labeling.agreement.splits import PAPER_DEFAULTS
from labeling.models import Split
from labeling.selectors.quality import get_snapshot
from labeling.services.quality import QualityError, split_create


class Command(BaseCommand):
    help = ("Split a label snapshot into train/val/test/unused and freeze it as the next version of --name. "
            "Deterministic for a seed. Presets: 'paper' (train 13,000 stratified; val and test 1,000 per class, "
            "balanced; the rest unused) and 'ratio' (per-class fractions). A new version keeps the previous "
            "version's test images in test; images of test-set datasets never go to train or val.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("snapshot", help="snapshot id or name")
        parser.add_argument("--name", required=True, help="split name; each run adds a version")
        parser.add_argument("--preset", choices=Split.Preset.values, default=Split.Preset.PAPER)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--train", type=int, default=None,
                            help=f"paper preset: train size (default {PAPER_DEFAULTS['train']})")
        parser.add_argument("--val-per-class", type=int, default=None,
                            help=f"paper preset (default {PAPER_DEFAULTS['val_per_class']})")
        parser.add_argument("--test-per-class", type=int, default=None,
                            help=f"paper preset (default {PAPER_DEFAULTS['test_per_class']})")
        parser.add_argument("--ratios", type=float, nargs=3, metavar=("TRAIN", "VAL", "TEST"), default=None,
                            help="ratio preset: fractions (default 0.8 0.1 0.1)")
        parser.add_argument("--json", action="store_true", help="print the split's counts as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            snapshot = get_snapshot(ref=options["snapshot"])
        except Http404:
            raise CommandError(f"no snapshot with id or name {options['snapshot']!r}") from None
        if options["seed"] < 0:
            raise CommandError("--seed must be 0 or more")
        extra: dict[str, Any] = {}
        if options["preset"] == Split.Preset.RATIO:
            extra["ratios"] = tuple(options["ratios"]) if options["ratios"] else None
        else:
            extra = {k: options[k] for k in ("train", "val_per_class", "test_per_class")}
        with tqdm(total=1, desc=f"split {snapshot.name}", file=sys.stderr, disable=options["verbosity"] == 0) as bar:
            try:
                split = split_create(snapshot=snapshot, name=options["name"], preset=options["preset"],
                                     seed=options["seed"], **extra)
            except QualityError as error:
                raise CommandError(str(error)) from None
            bar.update(1)
        if options["json"]:
            self.stdout.write(json.dumps({"id": split.id, "name": split.name, "version": split.version,
                                          "counts": split.counts, "params": split.params}, indent=2))
        totals = ", ".join(f"{subset} {sum(c.values())}" for subset, c in split.counts.items())
        self.stderr.write(f"split {split.name} v{split.version} (id {split.id}) of snapshot {snapshot.name}: {totals}")
