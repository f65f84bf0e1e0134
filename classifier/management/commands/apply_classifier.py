"""manage.py apply_classifier: score webdataset shards (or an embedding set) with two classifier runs."""
from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from classifier.apply.summary import table7_markdown
from classifier.models import ApplyJob, ClassifierRun, EmbeddingSet
from classifier.selectors.apply import (
    apply_job_progress,
)
from classifier.services.apply import (
    ApplyError,
    HeadSpec,
    apply_job_cancel,
    apply_job_create,
    apply_job_resume,
    apply_shard_run,
    head_spec_from_runs,
)
from domainsieve.jobs import JobStatus


class Command(BaseCommand):
    help = (
        "Apply a natural and a rendition classifier to webdataset shards (img2dataset layout; a brace pattern "
        "like '/data/{00000..00999}.tar' or a glob) or to a stored embedding set. Writes one parquet per shard "
        "(uid, key, shard, p_natural, p_rendition, p_ambiguous, domain), then the Table-7 summary and sorted "
        "DataComp uid lists under ARTIFACTS_ROOT/apply/job_N/. By default shards run in this process; --queue "
        "sends one task per shard to the gpu workers. Rerunning a finished job does nothing. A fine-tuned (ft*) run "
        "may be either head (e.g. natural = FT, rendition = DR-R) when both runs share the base extractor; FT runs "
        "need --shards (images), not --embedding-set."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--shards", help="brace pattern or glob of .tar shards ('::' joins several)")
        source.add_argument("--embedding-set", type=int, help="EmbeddingSet id: classify stored embeddings")
        source.add_argument("--resume", type=int, metavar="JOB", help="resume a job: failed, cancelled and stale "
                            "shards run again, done ones are skipped")
        source.add_argument("--cancel", type=int, metavar="JOB", help="set a job's cancel flag")
        parser.add_argument("--natural-run", type=int, help="ClassifierRun id used for the natural class")
        parser.add_argument("--rendition-run", type=int, help="ClassifierRun id used for the rendition class")
        parser.add_argument("--name", default="", help="job name")
        parser.add_argument("--level", choices=["strict", "default"], default="strict",
                            help="thresholds of the parquet 'domain' column (the summary reports both)")
        parser.add_argument("--batch-size", type=int, default=256)
        parser.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:N")
        parser.add_argument("--queue", action="store_true", help="enqueue on the gpu workers instead of running here")
        parser.add_argument("--wait", action="store_true", help="with --queue: follow progress until the job ends")
        parser.add_argument("--create-only", action="store_true",
                            help="create the job and its shard rows, run nothing (for a Slurm array)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["cancel"]:
            job = apply_job_cancel(job=self._job(options["cancel"]))
            self.stdout.write(f"apply job {job.id}: {job.status}")
            return
        if options["resume"]:
            job = self._job(options["resume"])
            revived = apply_job_resume(job=job, enqueue=options["queue"])
            self.stdout.write(f"apply job {job.id}: {revived} shard(s) put back in the queue")
        else:
            job = self._create(options)
            if options["create_only"]:
                self.stdout.write(f"apply job {job.id}: {job.shards_total} shards, created (nothing run)")
                return
        if options["queue"]:
            if options["wait"]:
                self._follow(job)
            else:
                self.stdout.write(f"apply job {job.id}: {job.shards_total} shard task(s) queued on gpu")
                return
        else:
            self._run_here(job, options)
        job.refresh_from_db()
        self._report(job)

    def _job(self, job_id: int) -> ApplyJob:
        job = ApplyJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"no apply job {job_id}")
        return job

    def _create(self, options: dict[str, Any]) -> ApplyJob:
        if not (options["shards"] or options["embedding_set"]):
            raise CommandError("give --shards PATTERN or --embedding-set ID (or --resume/--cancel JOB)")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be positive")
        spec = self._spec(options)
        embedding_set = None
        if options["embedding_set"]:
            embedding_set = EmbeddingSet.objects.filter(pk=options["embedding_set"]).first()
            if embedding_set is None:
                raise CommandError(f"no embedding set {options['embedding_set']}")
        try:
            return apply_job_create(name=options["name"], spec=spec, pattern=options["shards"] or "",
                                    embedding_set=embedding_set, level=options["level"],
                                    batch_size=options["batch_size"], device=options["device"],
                                    enqueue=options["queue"] and not options["create_only"])
        except ApplyError as exc:
            raise CommandError(str(exc)) from None

    def _spec(self, options: dict[str, Any]) -> HeadSpec:
        if not (options["natural_run"] and options["rendition_run"]):
            raise CommandError("give --natural-run ID and --rendition-run ID (ClassifierRun ids)")
        runs = {r.id: r for r in ClassifierRun.objects.filter(pk__in=[options["natural_run"], options["rendition_run"]])}
        for key in ("natural_run", "rendition_run"):
            if options[key] not in runs:
                raise CommandError(f"no classifier run {options[key]}")
        try:
            return head_spec_from_runs(natural_run=runs[options["natural_run"]],
                                       rendition_run=runs[options["rendition_run"]])
        except ApplyError as exc:
            raise CommandError(str(exc)) from None

    def _run_here(self, job: ApplyJob, options: dict[str, Any]) -> None:
        shards = list(job.shards.exclude(status=JobStatus.SUCCEEDED).values_list("id", flat=True))
        bar = tqdm(shards, desc=f"apply job {job.id}", unit="shard", file=sys.stderr,
                   disable=options["verbosity"] == 0)
        for shard_id in bar:
            apply_shard_run(shard_id=shard_id, inline=True)

    def _follow(self, job: ApplyJob) -> None:
        bar = tqdm(total=job.shards_total, desc=f"apply job {job.id}", unit="shard", file=sys.stderr)
        while True:
            job.refresh_from_db()
            progress = apply_job_progress(job=job)
            finished = progress["shards"][JobStatus.SUCCEEDED] + progress["shards"][JobStatus.FAILED]
            bar.update(finished - bar.n)
            bar.set_postfix(samples_s=progress["samples_per_s"], eta_s=progress["eta_s"])
            if job.is_finished:
                break
            time.sleep(2)
        bar.close()

    def _report(self, job: ApplyJob) -> None:
        if job.summary:
            self.stdout.write(table7_markdown(job.summary))
        progress = apply_job_progress(job=job)
        line = (f"apply job {job.id}: {job.status}, {progress['shards']['succeeded']}/{job.shards_total} shards, "
                f"{progress['rows']} rows, {progress['skipped']} skipped images, {progress['shards']['failed']} "
                f"failed shards -> {job.out_dir}")
        if job.status == JobStatus.FAILED:
            raise CommandError(f"{line}\n{job.error}")
        self.stdout.write(line)
