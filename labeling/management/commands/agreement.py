"""manage.py agreement: every agreement figure of a campaign, as a table or as JSON."""
from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from labeling.selectors.quality import campaign_agreement, find_campaign


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = ("Agreement between a campaign's annotators: percent agreement, Cohen's kappa per pair with "
            "overlap, Fleiss' kappa, Krippendorff's alpha (nominal) with a bootstrap 95% interval, per-class "
            "agreement, each annotator against the majority and against gold.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="campaign id or name")
        parser.add_argument("--json", action="store_true", help="print the full report as JSON on stdout")
        parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for alpha (default 1000)")
        parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = find_campaign(ref=options["campaign"])
        if campaign is None:
            raise CommandError(f"no campaign with id or name {options['campaign']!r}")
        if options["n_boot"] < 0:
            raise CommandError("--n-boot must be 0 or more")
        start = time.perf_counter()
        with tqdm(total=1, desc=f"agreement of {campaign.name}", file=sys.stderr,
                  disable=options["verbosity"] == 0) as bar:
            report = campaign_agreement(campaign=campaign, n_boot=options["n_boot"], seed=options["seed"])
            bar.update(1)
        elapsed = time.perf_counter() - start
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._table(report)
        alpha = report["krippendorff_alpha"]
        self.stderr.write(f"agreement of {campaign.name!r}: {report['n_items']} items, {report['n_labels']} labels, "
                          f"alpha {_fmt(alpha['alpha'])} [{_fmt(alpha['ci95'][0])}, {_fmt(alpha['ci95'][1])}] "
                          f"in {elapsed:.2f}s")

    def _table(self, report: dict[str, Any]) -> None:
        w = self.stdout.write
        pa, fk, alpha = report["percent_agreement"], report["fleiss_kappa"], report["krippendorff_alpha"]
        w(f"items {report['n_items']}, labels {report['n_labels']}, items with 2+ labels {report['n_items_multi']}")
        w(f"percent agreement: pairwise {_fmt(pa['pairwise'])}, unanimous {_fmt(pa['unanimous'])}")
        w(f"Fleiss' kappa: {_fmt(fk['kappa'])} over {fk['n_items']} items with {fk['labels_per_item']} labels")
        w(f"Krippendorff's alpha: {_fmt(alpha['alpha'])} (95% CI {_fmt(alpha['ci95'][0])}..{_fmt(alpha['ci95'][1])})")
        w("per class: " + ", ".join(f"{k} {_fmt(v)}" for k, v in report["per_class"].items()))
        w("Cohen's kappa per pair:")
        for pair in report["cohen_kappa"]:
            w(f"  {pair['a']:>16} ~ {pair['b']:<16} overlap {pair['overlap']:>7}  kappa {_fmt(pair['kappa'])}")
        gold = {g["annotator"]: g for g in report["gold"]["annotators"]}
        w("annotators (vs majority of the others; vs gold):")
        for entry in report["annotators"]:
            g = gold.get(entry["annotator"])
            gold_text = f"{_fmt(g['accuracy'])} of {g['n']}{'  FLAGGED' if g['flagged'] else ''}" if g else "-"
            w(f"  {entry['annotator']:>16}  labels {entry['labels']:>7}  majority "
              f"{_fmt(entry['vs_majority']['agreement'])} of {entry['vs_majority']['n']}  gold {gold_text}")
