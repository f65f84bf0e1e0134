"""manage.py make_subset: a fixed, seeded random subset of N uids, written as a DataComp uid list
and optionally resharded into its own webdataset tars (the paper's training sets)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.apply.shards import ShardPatternError, expand_shards
from classifier.apply.subsets import SubsetError, draw_subset, parse_count
from classifier.apply.uids import UidError, load_uid_list, save_uid_list
from classifier.management.resharding import reshard_with_progress
from classifier.models import ApplyJob
from classifier.services.subsets import POOL_SUBSETS as SUBSETS
from classifier.services.subsets import subset_pool
from domainsieve.jobs import JobStatus


class Command(BaseCommand):
    help = ("Draw a fixed random subset of --n uids (e.g. 57M) with --seed from --ids POOL.npy or from an apply "
            "job's output (--job N --subset all|natural_strict|...), minus --exclude UIDLIST.npy; write the sorted "
            "DataComp uid list to --out and, with --reshard-into DIR, its own webdataset shards (what the training "
            "presets random_<N>M and mix_<n>_<r> train on, one pass per epoch). The page /classifier/subsets/ does "
            "the same from an apply job on the default queue.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--n", required=True, help="subset size: 57000000, 57M, 8K")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--ids", help="pool uid list (.npy, dtype u8,u8)")
        parser.add_argument("--job", type=int, help="an apply job whose output is the pool")
        parser.add_argument("--subset", choices=SUBSETS, default="all",
                            help="with --job: all scored uids (the whole pool) or one of its domain lists")
        parser.add_argument("--exclude", help="uid list (.npy) to subtract first, e.g. test-set near-duplicates")
        parser.add_argument("--out", required=True, help="output uid list (.npy)")
        parser.add_argument("--reshard-into", help="empty folder for the subset's own shards")
        parser.add_argument("--shards", help="source shards to reshard from (default: the apply job's)")
        parser.add_argument("--shard-size", type=int, default=10_000)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            n = parse_count(opts["n"])
        except SubsetError as exc:
            raise CommandError(str(exc)) from None
        if not opts["out"].endswith(".npy"):
            raise CommandError("--out must end in .npy")
        pattern = opts["shards"]
        try:
            if opts["job"]:
                job = ApplyJob.objects.filter(pk=opts["job"]).first()
                if job is None:
                    raise CommandError(f"no apply job {opts['job']}")
                if job.status != JobStatus.SUCCEEDED:
                    raise CommandError(f"apply job {job.id} is {job.status}; draw from a finished job")
                pool = subset_pool(apply_job=job, subset=opts["subset"])
                pattern = pattern or job.pattern
                origin = f"apply job {job.id} ({opts['subset']})"
            elif opts["ids"]:
                if not Path(opts["ids"]).is_file():
                    raise CommandError(f"uid list {opts['ids']} does not exist")
                pool, origin = load_uid_list(opts["ids"]), opts["ids"]
            else:
                raise CommandError("give --ids POOL.npy or --job N")
            exclude = None
            if opts["exclude"]:
                if not Path(opts["exclude"]).is_file():
                    raise CommandError(f"exclusion list {opts['exclude']} does not exist")
                exclude = load_uid_list(opts["exclude"])
            subset = draw_subset(pool, n, seed=opts["seed"], exclude=exclude)
        except (SubsetError, UidError, OSError) as exc:
            raise CommandError(str(exc)) from None
        save_uid_list(opts["out"], subset)
        summary = f"drew {len(subset):,} of {len(pool):,} uids from {origin} (seed {opts['seed']}) into {opts['out']}"
        if opts["reshard_into"]:
            if not pattern:
                raise CommandError("--reshard-into needs --shards (or --job)")
            try:
                sources = expand_shards(pattern)
            except ShardPatternError as exc:
                raise CommandError(str(exc)) from None
            result = reshard_with_progress(uid_list=subset, sources=sources, out_dir=opts["reshard_into"],
                                           shard_size=opts["shard_size"], verbosity=opts["verbosity"])
            if result.samples != len(subset):
                self.stderr.write(f"warning: {len(subset) - result.samples:,} uids of the subset were not found in "
                                  f"the shards")
            summary += f"; resharded {result.samples:,} samples into {result.shards} shards: {result.pattern}"
        self.stdout.write(summary)
