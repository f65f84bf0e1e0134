"""The apply-side jobs said "pending" and "done" before the shared job vocabulary: migration
classifier 0010 maps their rows to "queued" and "succeeded", and back when unapplied."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db

BEFORE = [("classifier", "0009_job_status_vocabulary")]
AFTER = [("classifier", "0010_job_status_values")]


def _migrate(target: list[tuple[str, str]]) -> Any:
    """Migrate the classifier app to ``target``; returns the models as they are then (the other
    apps at their latest migration)."""
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "classifier"]
    return executor.loader.project_state([*target, *others]).apps


@pytest.fixture
def before() -> Iterator[Any]:
    apps = _migrate(BEFORE)
    yield apps
    _migrate(AFTER)


def _statuses(apps: Any) -> dict[str, list[str]]:
    return {name: sorted(apps.get_model("classifier", name).objects.values_list("status", flat=True))
            for name in ("ApplyJob", "ApplyShard", "CleanTestset", "ReshardJob", "SubsetJob")}


def _old_rows(apps: Any) -> None:
    dataset = apps.get_model("labeling", "Dataset").objects.create(name="sketch", kind="testset")
    apply_job = apps.get_model("classifier", "ApplyJob")
    heads = {"extractor": "x", "natural_head_path": "n", "rendition_head_path": "r"}
    done = apply_job.objects.create(name="done", status="done", **heads)
    apply_job.objects.create(name="waiting", status="pending", **heads)
    apply_job.objects.create(name="summing up", status="finalizing", **heads)
    shard = apps.get_model("classifier", "ApplyShard")
    for index, status in enumerate(["done", "pending", "running", "failed"]):
        shard.objects.create(job=done, index=index, path=f"{index}.tar", out_path=f"{index}.parquet", status=status)
    apps.get_model("classifier", "CleanTestset").objects.create(source=dataset, result_name="clean", status="done",
                                                                **heads)
    apps.get_model("classifier", "ReshardJob").objects.create(apply_job=done, subset="natural_strict", out_dir="/o",
                                                              status="pending")
    apps.get_model("classifier", "SubsetJob").objects.create(name="s", apply_job=done, n=3, status="done")


def test_it_maps_pending_and_done_to_queued_and_succeeded_and_back(before: Any) -> None:
    _old_rows(before)
    old = _statuses(before)

    after = _migrate(AFTER)
    assert _statuses(after) == {
        "ApplyJob": ["finalizing", "queued", "succeeded"],
        "ApplyShard": ["failed", "queued", "running", "succeeded"],
        "CleanTestset": ["succeeded"],
        "ReshardJob": ["queued"],
        "SubsetJob": ["succeeded"],
    }

    assert _statuses(_migrate(BEFORE)) == old
