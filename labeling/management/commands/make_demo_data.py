"""`manage.py make_demo_data OUTDIR`: the offline demo pool (img2dataset shards) and test set (ImageFolder)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from labeling.demodata import DemoDataError, build_demo_data


class Command(BaseCommand):
    help = ("Build an offline demo data set from the sample photos that scikit-image, scikit-learn and "
            "matplotlib ship: natural crops, real NPR renditions and ambiguous composites, written as an "
            "img2dataset pool (OUTDIR/pool) and a class-labelled ImageFolder test set (OUTDIR/testset). "
            "A finished set with the same options is reused unless --force.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("outdir", help="output folder (created if missing)")
        parser.add_argument("--n-pool", type=int, default=360, help="pool images (default 360, at least 3)")
        parser.add_argument("--n-test", type=int, default=100, help="test-set images (default 100, at least 3)")
        parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
        parser.add_argument("--size", type=int, default=320, help="longest image side in pixels (default 320)")
        parser.add_argument("--shard-size", type=int, default=100, help="pool samples per tar shard (default 100)")
        parser.add_argument("--workers", type=int, default=1,
                            help="rendering processes (default 1; the default set takes ~15 s on one core)")
        parser.add_argument("--force", action="store_true", help="rebuild even if OUTDIR holds a finished set")

    def handle(self, *args: Any, **options: Any) -> None:
        outdir = Path(options["outdir"])
        bars: list[tqdm] = []

        def progress(done: int) -> None:
            # Opened on the first finished image, so bad options and reuse print no empty bar.
            if not bars:
                bars.append(tqdm(total=options["n_pool"] + options["n_test"], desc="demo images", unit="img",
                                 file=sys.stderr))
            bars[0].update(done)

        try:
            summary = build_demo_data(
                outdir=outdir, n_pool=options["n_pool"], n_test=options["n_test"], seed=options["seed"],
                size=options["size"], shard_size=options["shard_size"], progress=progress,
                force=options["force"], workers=options["workers"])
        except DemoDataError as error:
            raise CommandError(str(error)) from error
        except OSError as error:
            raise CommandError(f"cannot write {outdir}: {error}") from error
        finally:
            for bar in bars:
                bar.close()
        if summary.reused:
            self.stdout.write(f"{summary.line()} (already built with these options; --force rebuilds)")
        else:
            self.stdout.write(f"{summary.line()} in {summary.seconds:.1f}s")
