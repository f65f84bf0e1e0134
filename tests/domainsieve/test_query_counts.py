"""Every list page and list API runs as many queries for 3N rows as for N: no query per row.

Each case adds rows (with the relations its page or serializer shows: creator, dataset, members,
devices...), requests the list once to warm per-process caches, counts the queries of a request,
adds 2N rows more and counts again. The counts are compared, never hard-coded, so a change that
adds a constant query passes and one that adds a query per row fails, naming the extra SQL. The
caller is a researcher, who sees every row and every field (an admin for admin-only lists).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from classifier.models import (
    ApplyJob,
    ApplyShard,
    ClassifierRun,
    CleanTestset,
    EmbeddingSet,
    ReshardJob,
    SubsetJob,
)
from classifier.models.neighbours import ContaminationMatch, ContaminationReport, DedupRun, VectorIndex
from domainsieve.jobs import JobStatus
from labeling.models import (
    Annotation,
    Campaign,
    CampaignItem,
    Dataset,
    Image,
    ImportJob,
    LabelSnapshot,
    Split,
)
from training.models import EvalResult, TrainGpu, TrainHost, TrainingRun

pytestmark = pytest.mark.django_db

N = 2


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Ctx:
    """The caller and the parents that rows of one case share (created on first use)."""

    user: Any
    made: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.made:
            self.made[key] = make()
        return self.made[key]

    @property
    def dataset(self) -> Dataset:
        return self.once("dataset", lambda: Dataset.objects.create(name=_name("pool")))

    @property
    def campaign(self) -> Campaign:
        return self.once("campaign", lambda: _campaign(self))

    @property
    def snapshot(self) -> LabelSnapshot:
        return self.once("snapshot", lambda: _snapshot(self))

    @property
    def apply_job(self) -> ApplyJob:
        return self.once("apply_job", lambda: _apply_job(self))

    @property
    def index(self) -> VectorIndex:
        return self.once("index", lambda: VectorIndex.objects.create(name=_name("index"), extractor="x"))

    @property
    def report(self) -> ContaminationReport:
        return self.once("report", lambda: ContaminationReport.objects.create(index=self.index, threshold=0.9))


def _image(dataset: Dataset) -> Image:
    """An Image row (no file: list pages link to thumbnails, they do not read them)."""
    sha = uuid.uuid4().hex * 2
    return Image.objects.create(dataset=dataset, sha256=sha, file=f"images/{sha}.jpg", thumb=f"thumbs/{sha}.jpg",
                                width=8, height=8, format="JPEG", size_bytes=1, uid=sha[:32],
                                source=f"factory:{sha[:8]}", intended_domain="natural")


def _campaign(ctx: Ctx, *, images: int = 1) -> Campaign:
    campaign = Campaign.objects.create(name=_name("campaign"), created_by=ctx.user)
    dataset = Dataset.objects.create(name=_name("campaign-pool"))
    campaign.datasets.add(dataset)
    campaign.members.add(ctx.user)
    campaign.member_groups.add(Group.objects.get_or_create(name=_name("group"))[0])
    for _ in range(images):
        CampaignItem.objects.create(campaign=campaign, image=_image(dataset), target_k=1)
    return campaign


def _snapshot(ctx: Ctx) -> LabelSnapshot:
    return LabelSnapshot.objects.create(campaign=ctx.campaign, name=_name("snapshot"), rule="majority",
                                        class_names=["natural"], counts={"natural": 1}, n_labelled=1, n_unlabelled=0,
                                        created_by=ctx.user)


def _split(snapshot: LabelSnapshot, ctx: Ctx) -> Split:
    return Split.objects.create(snapshot=snapshot, name=_name("split"), version=1, preset=Split.Preset.RATIO, seed=0,
                                counts={"train": {"natural": 1}}, created_by=ctx.user)


def _apply_job(ctx: Ctx) -> ApplyJob:
    job = ApplyJob.objects.create(name=_name("apply"), extractor="x", natural_head_path="n", rendition_head_path="r",
                                  shards_total=2, created_by=ctx.user, started_at=timezone.now())
    for index in range(2):
        ApplyShard.objects.create(job=job, index=index, path=f"/s/{index}.tar", out_path=f"/o/{index}.parquet",
                                  rows=3)
    return job


def _training_run(ctx: Ctx, **fields: Any) -> TrainingRun:
    return TrainingRun.objects.create(name=_name("train"), logs_dir="/logs", created_by=ctx.user, **fields)


# ---------------------------------------------------------------- row makers: add n rows, return them


def add_datasets(ctx: Ctx, n: int) -> list[Any]:
    datasets = [Dataset.objects.create(name=_name("dataset"), created_by=ctx.user) for _ in range(n)]
    for dataset in datasets:
        _image(dataset)
        ImportJob.objects.create(dataset=dataset, source="/data/x", created_by=ctx.user)
    return datasets


def add_images(ctx: Ctx, n: int) -> list[Any]:
    ImportJob.objects.create(dataset=ctx.dataset, source="/data/x", created_by=ctx.user)
    return [_image(ctx.dataset) for _ in range(n)]


def add_imports(ctx: Ctx, n: int) -> list[Any]:
    return [ImportJob.objects.create(dataset=ctx.dataset, source="/data/x", created_by=ctx.user) for _ in range(n)]


def add_campaigns(ctx: Ctx, n: int) -> list[Any]:
    return [_campaign(ctx, images=2) for _ in range(n)]


def add_my_labels(ctx: Ctx, n: int) -> list[Any]:
    """The caller's labels, each in a campaign of its own (so the campaigns grow with the rows too)."""
    items = [_campaign(ctx).items.get() for _ in range(n)]
    return [Annotation.objects.create(item=item, annotator=ctx.user, label="natural", seconds=1.5) for item in items]


def add_snapshots(ctx: Ctx, n: int) -> list[Any]:
    snapshots = [_snapshot(ctx) for _ in range(n)]
    for snapshot in snapshots:
        for _ in range(2):
            _split(snapshot, ctx)
    return snapshots


def add_splits(ctx: Ctx, n: int) -> list[Any]:
    return [_split(ctx.snapshot, ctx) for _ in range(n)]


def add_classifier_runs(ctx: Ctx, n: int) -> list[Any]:
    runs = []
    for _ in range(n):
        run = ClassifierRun.objects.create(name=_name("run"), labels_source="intended_domain", method="centroid",
                                           extractor="x", created_by=ctx.user)
        run.datasets.add(ctx.dataset, Dataset.objects.create(name=_name("run-pool")))
        runs.append(run)
    return runs


def add_embedding_sets(ctx: Ctx, n: int) -> list[Any]:
    return [EmbeddingSet.objects.create(dataset=Dataset.objects.create(name=_name("embedded")), extractor="x",
                                        path=_name("embeddings"), created_by=ctx.user) for _ in range(n)]


def add_apply_jobs(ctx: Ctx, n: int) -> list[Any]:
    return [_apply_job(ctx) for _ in range(n)]


def add_cleans(ctx: Ctx, n: int) -> list[Any]:
    cleans = []
    for _ in range(n):
        source = Dataset.objects.create(name=_name("testset"), kind=Dataset.Kind.TESTSET, expected_domain="rendition")
        result = Dataset.objects.create(name=_name("cleaned"), kind=Dataset.Kind.TESTSET)
        cleans.append(CleanTestset.objects.create(source=source, result=result, result_name=result.name, extractor="x",
                                                  natural_head_path="n", rendition_head_path="r", created_by=ctx.user))
    return cleans


def add_reshards(ctx: Ctx, n: int) -> list[Any]:
    return [ReshardJob.objects.create(apply_job=ctx.apply_job, subset=_name("natural_strict"), out_dir="/out",
                                      created_by=ctx.user) for _ in range(n)]


def add_campaign_items(ctx: Ctx, n: int) -> list[Any]:
    dataset = ctx.campaign.datasets.get()
    return [CampaignItem.objects.create(campaign=ctx.campaign, image=_image(dataset), target_k=1) for _ in range(n)]


def add_subsets(ctx: Ctx, n: int) -> list[Any]:
    return [SubsetJob.objects.create(name=_name("subset"), apply_job=_apply_job(ctx), n=10, created_by=ctx.user)
            for _ in range(n)]


def add_indexes(ctx: Ctx, n: int) -> list[Any]:
    indexes = []
    for _ in range(n):
        index = VectorIndex.objects.create(name=_name("index"), extractor="x", apply_job=ctx.apply_job,
                                           created_by=ctx.user)
        index.embedding_sets.add(*add_embedding_sets(ctx, 2))
        indexes.append(index)
    return indexes


def add_dedup_runs(ctx: Ctx, n: int) -> list[Any]:
    counts = [{"threshold": 0.95, "total": 10, "clusters": 2, "in_clusters": 4, "removed": 2, "kept": 8,
               "keep_path": "/k.npy"}]
    return [DedupRun.objects.create(index=VectorIndex.objects.create(name=_name("index"), extractor="x"),
                                    thresholds=[0.95], counts=counts, created_by=ctx.user) for _ in range(n)]


def add_reports(ctx: Ctx, n: int) -> list[Any]:
    reports = []
    for _ in range(n):
        report = ContaminationReport.objects.create(
            index=VectorIndex.objects.create(name=_name("index"), extractor="x"), threshold=0.9, created_by=ctx.user)
        report.testsets.add(Dataset.objects.create(name=_name("testset"), kind=Dataset.Kind.TESTSET))
        reports.append(report)
    return reports


def add_matches(ctx: Ctx, n: int) -> list[Any]:
    """Each test image with two pool twins."""
    testset = ctx.once("testset", lambda: Dataset.objects.create(name=_name("testset"), kind=Dataset.Kind.TESTSET))
    ctx.report.testsets.add(testset)
    matches = []
    for _ in range(n):
        test_image = _image(testset)
        for rank in range(2):
            pool_image = _image(ctx.dataset)
            matches.append(ContaminationMatch.objects.create(
                report=ctx.report, test_image=test_image, pool_image=pool_image, pool_row=pool_image.id,
                pool_uid=pool_image.uid, similarity=0.95, rank=rank))
    return matches


def add_training_runs(ctx: Ctx, n: int) -> list[Any]:
    runs = [_training_run(ctx, status=JobStatus.QUEUED) for _ in range(n)]  # waiting: a queue position each
    return runs + [_training_run(ctx) for _ in range(n)]


def add_hosts(ctx: Ctx, n: int) -> list[Any]:
    hosts = []
    for _ in range(n):
        name = _name("host")
        host = TrainHost.objects.create(name=name, queue=f"train.{name}", gpu_count=2)
        TrainGpu.objects.create(host=host, index=0, run=_training_run(ctx), allocated_at=timezone.now())
        TrainGpu.objects.create(host=host, index=1)
        _training_run(ctx, status=JobStatus.QUEUED)  # one more run waiting in the queue
        hosts.append(host)
    return hosts


def add_disagreements(ctx: Ctx, n: int) -> list[Any]:
    """Items of the campaign two annotators labelled differently (each pair of users new)."""
    dataset = ctx.campaign.datasets.get()
    items = []
    for _ in range(n):
        item = CampaignItem.objects.create(campaign=ctx.campaign, image=_image(dataset), target_k=2)
        for label in ("natural", "rendition"):
            user = get_user_model().objects.create(username=_name("rater"))
            Annotation.objects.create(item=item, annotator=user, label=label, seconds=2.0)
        items.append(item)
    return items


def add_queued_runs(ctx: Ctx, n: int) -> list[Any]:
    return [_training_run(ctx, status=JobStatus.QUEUED) for _ in range(n)]


def add_eval_results(ctx: Ctx, n: int) -> list[Any]:
    """Evaluated runs: each with natural and rendition results, standard and clean, at two epochs."""
    runs = []
    for i in range(n):
        run = _training_run(ctx, plan={"train_num_samples": 1000 * (i + 1), "sources": [
            {"name": "natural", "ratio": 1, "per_epoch": 500}, {"name": "rendition", "ratio": 1, "per_epoch": 500}]})
        for epoch in (1, 2):
            for domain in ("natural", "rendition"):
                for clean in (False, True):
                    EvalResult.objects.create(training_run=run, model="ViT-B-32", checkpoint=f"{run.name}/{epoch}",
                                              epoch=epoch, dataset=ctx.dataset, test_set=f"{domain}-set",
                                              domain=domain, clean=clean, top1=0.5, top5=0.8, n=10)
        runs.append(run)
    return runs


# ---------------------------------------------------------------- the cases


def _id(obj: Any) -> str:
    return f'"id":{obj.id}'


@dataclass
class Case:
    url: Callable[[Ctx], str]
    add: Callable[[Ctx, int], list[Any]]
    needle: Callable[[Any], str]  # what the response shows of each row: proves the rows are listed
    admin: bool = False  # the list is for admins only


CASES = {
    # labeling
    "page datasets": Case(lambda c: "/datasets/", add_datasets, lambda d: d.name),
    "api datasets": Case(lambda c: "/api/v1/datasets/", add_datasets, _id),
    "page dataset images": Case(lambda c: f"/datasets/{c.dataset.id}/", add_images,
                                lambda i: f"/api/v1/images/{i.id}/thumb/"),
    "api dataset images": Case(lambda c: f"/api/v1/datasets/{c.dataset.id}/images/", add_images, _id),
    "api dataset imports": Case(lambda c: f"/api/v1/datasets/{c.dataset.id}/imports/", add_imports, _id),
    "page campaigns": Case(lambda c: "/campaigns/", add_campaigns, lambda c: c.name),
    "api campaigns": Case(lambda c: "/api/v1/campaigns/", add_campaigns, _id),
    "page my labels": Case(lambda c: "/me/labels/", add_my_labels, lambda a: f'data-item="{a.item_id}"'),
    "api my annotations": Case(lambda c: "/api/v1/me/annotations/", add_my_labels, lambda a: f'"item":{a.item_id}'),
    "page my progress": Case(lambda c: "/me/progress/", add_my_labels,
                             lambda a: f'data-campaign="{a.item.campaign_id}"'),
    "api my progress": Case(lambda c: "/api/v1/me/progress/", add_my_labels,
                            lambda a: f'"campaign":{a.item.campaign_id}'),
    "page adjudication queue": Case(lambda c: f"/campaigns/{c.campaign.id}/adjudicate/", add_disagreements,
                                    lambda i: f'href="?item={i.id}"', admin=True),
    "api disagreements": Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}/disagreements/", add_disagreements,
                              lambda i: f'"item":{i.id}', admin=True),
    "page snapshots": Case(lambda c: f"/campaigns/{c.campaign.id}/snapshots/", add_snapshots, lambda s: s.name),
    "api snapshots": Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}/snapshots/", add_snapshots, _id),
    "page splits": Case(lambda c: f"/snapshots/{c.snapshot.id}/splits/", add_splits, lambda s: s.name),
    "api splits": Case(lambda c: f"/api/v1/snapshots/{c.snapshot.id}/splits/", add_splits, _id),
    # classifier
    "page classifier runs": Case(lambda c: "/classifier/runs/", add_classifier_runs, lambda r: r.name),
    "api classifier runs": Case(lambda c: "/api/v1/classifier-runs/", add_classifier_runs, _id),
    "api embedding sets": Case(lambda c: "/api/v1/embedding-sets/", add_embedding_sets, _id),
    "page apply jobs": Case(lambda c: "/classifier/apply/", add_apply_jobs, lambda j: j.name),
    "api apply jobs": Case(lambda c: "/api/v1/apply-jobs/", add_apply_jobs, _id),
    "page clean test sets": Case(lambda c: "/classifier/clean/", add_cleans, lambda j: j.result_name),
    "api clean test sets": Case(lambda c: "/api/v1/clean-testsets/", add_cleans, _id),
    "api reshards": Case(lambda c: f"/api/v1/apply-jobs/{c.apply_job.id}/reshard/", add_reshards, _id),
    "page campaign images, find similar": Case(lambda c: f"/classifier/neighbours/campaigns/{c.campaign.id}/",
                                               add_campaign_items, lambda i: f"/api/v1/images/{i.image_id}/thumb/"),
    "page subsets": Case(lambda c: "/classifier/subsets/", add_subsets, lambda j: j.name),
    "page neighbours: indexes": Case(lambda c: "/classifier/neighbours/", add_indexes, lambda i: i.name),
    "page neighbours: dedup runs": Case(lambda c: "/classifier/neighbours/", add_dedup_runs,
                                        lambda r: f'data-run="{r.id}"'),
    "api vector indexes": Case(lambda c: "/api/v1/vector-indexes/", add_indexes, _id),
    "api dedup runs": Case(lambda c: "/api/v1/dedup-runs/", add_dedup_runs, _id),
    "page contamination reports": Case(lambda c: "/classifier/contamination/", add_reports,
                                       lambda r: f"/classifier/contamination/{r.id}/"),
    "api contamination reports": Case(lambda c: "/api/v1/contamination-reports/", add_reports, _id),
    "page contamination matches": Case(lambda c: f"/classifier/contamination/{c.report.id}/", add_matches,
                                       lambda m: f'data-pool-image="{m.pool_image_id}"'),
    "api contamination matches": Case(lambda c: f"/api/v1/contamination-reports/{c.report.id}/matches/",
                                      add_matches, lambda m: m.pool_uid),
    # training
    "page training runs": Case(lambda c: "/training/", add_training_runs, lambda r: f'data-run="{r.id}"'),
    "api training runs": Case(lambda c: "/api/v1/training-runs/", add_training_runs, _id),
    "page training hosts": Case(lambda c: "/training/hosts/", add_hosts, lambda h: f'data-host="{h.name}"'),
    "api training hosts": Case(lambda c: "/api/v1/train-hosts/", add_hosts, lambda h: f'"name":"{h.name}"'),
    "api training queue": Case(lambda c: "/api/v1/train-queue/", add_queued_runs, _id),
    "page training results": Case(lambda c: "/training/results/", add_eval_results, lambda r: r.name),
    "csv training results": Case(lambda c: "/training/results.csv", add_eval_results, lambda r: r.name),
    "csv training results, detail": Case(lambda c: "/training/results.csv?detail=1", add_eval_results,
                                         lambda r: r.name),
    "api eval results": Case(lambda c: "/api/v1/eval-results/", add_eval_results,
                             lambda r: f'"training_run":{r.id}'),
}


def _count(client: Client, url: str, rows: list[Any], needle: Callable[[Any], str]) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    missing = [needle(row) for row in rows if needle(row) not in body]
    assert not missing, f"{url} does not list {missing}"
    return queries


@pytest.mark.parametrize("name", list(CASES), ids=lambda name: name.replace(",", "").replace(":", "").replace(" ", "-"))
def test_it_runs_as_many_queries_for_3n_rows_as_for_n(name: str, researcher: Any, admin_user: Any,
                                                       media_root: Any) -> None:
    case = CASES[name]
    ctx = Ctx(user=admin_user if case.admin else researcher)
    client = Client()
    client.force_login(ctx.user)
    rows = case.add(ctx, N)
    url = case.url(ctx)
    client.get(url)  # warm per-process caches (content types, role lookups)
    few = _count(client, url, rows, case.needle)
    rows += case.add(ctx, 2 * N)
    many = _count(client, url, rows, case.needle)
    if len(many) != len(few):
        extra = "\n".join(q["sql"][:300] for q in many.captured_queries)
        pytest.fail(f"{url}: {len(few)} queries for {N} rows, {len(many)} for {3 * N}:\n{extra}")
