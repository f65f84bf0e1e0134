"""manage.py reshard: webdataset shards of a subset (e.g. LAION-Natural) from its uid list."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.apply.shards import ShardPatternError, expand_shards
from classifier.apply.uids import UidError, load_uid_list
from classifier.management.resharding import reshard_with_progress
from classifier.models import ApplyJob
from domainsieve.jobs import JobStatus
from domainsieve.shards import NotAShardError, check_tar_shards


class Command(BaseCommand):
    help = (
        "Write new webdataset shards holding the samples of a subset: --ids a sorted DataComp uid .npy "
        "(or --job N --subset natural_strict), --shards the source pattern (default: the job's), --out an empty "
        "folder. Writes NNNNN.tar of --shard-size samples, sizes.json and manifest.json; pass the printed pattern "
        "to open_clip_train --train-data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ids", help="sorted uid list (.npy, dtype u8,u8)")
        parser.add_argument("--job", type=int, help="an apply job whose subset to use")
        parser.add_argument("--subset", default="natural_strict",
                            help="natural_strict | rendition_strict | natural_default | rendition_default")
        parser.add_argument("--shards", help="source shards pattern (default: the job's)")
        parser.add_argument("--out", required=True, help="output folder (empty)")
        parser.add_argument("--shard-size", type=int, default=10_000)

    def handle(self, *args: Any, **options: Any) -> None:
        pattern, ids_path = options["shards"], options["ids"]
        if options["job"]:
            job = ApplyJob.objects.filter(pk=options["job"]).first()
            if job is None:
                raise CommandError(f"no apply job {options['job']}")
            if job.status != JobStatus.SUCCEEDED:
                raise CommandError(f"apply job {job.id} is {job.status}; reshard a finished job")
            ids_path = ids_path or str(Path(job.out_dir) / "subsets" / f"{options['subset']}.npy")
            pattern = pattern or job.pattern
        if not ids_path or not pattern:
            raise CommandError("give --ids and --shards, or --job")
        if not Path(ids_path).is_file():
            raise CommandError(f"uid list {ids_path} does not exist")
        try:
            ids = load_uid_list(ids_path)
            sources = expand_shards(pattern)
            check_tar_shards([str(p) for p in sources])
        except (UidError, ShardPatternError, NotAShardError) as exc:
            raise CommandError(str(exc)) from None
        result = reshard_with_progress(uid_list=ids, sources=sources, out_dir=options["out"],
                                       shard_size=options["shard_size"], verbosity=options["verbosity"])
        self.stdout.write(f"resharded {result.samples} of {len(ids)} requested samples into {result.shards} shards: "
                          f"{result.pattern}")
