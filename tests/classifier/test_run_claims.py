"""Long classifier fits survive redelivery: one claim wins, a duplicate or redelivered message never
restarts a running fit or touches its folder, a fit whose worker died is fitted again or failed
with the reason, and nothing is left behind. Service level here; real workers and SIGKILL in
test_run_redelivery_workers.py."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from classifier.models import ClassifierRun
from classifier.services.claims import classifier_run_claim, classifier_runs_reap_stale, partial_folder
from classifier.services.runs import classifier_run_create, classifier_run_execute
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from tests.classifier.conftest import TINY

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(labelled_pool: Dataset, settings: object) -> ClassifierRun:
    settings.CLASSIFIER_STALE_SECONDS = 60
    settings.CLASSIFIER_MAX_ATTEMPTS = 2
    return classifier_run_create(created_by=None, method="centroid", extractor=TINY, labels_source="intended_domain",
                                 datasets=[labelled_pool], classes=["natural", "rendition"], enqueue=False)


def _make_stale(run_id: int) -> None:
    ClassifierRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now() - timedelta(minutes=10))


def _leftovers(media_root: Path) -> list[str]:
    folder = media_root.parent / "artifacts" / "classifier_runs"
    return sorted(p.name for p in folder.glob("*.partial*")) if folder.is_dir() else []


def test_it_lets_exactly_one_claim_win(run: ClassifierRun) -> None:
    first = classifier_run_claim(run_id=run.id)
    assert first and classifier_run_claim(run_id=run.id) is None
    run.refresh_from_db()
    assert (run.status, run.claim_token, run.attempts) == (JobStatus.RUNNING, first, 1)
    assert run.heartbeat_at is not None and run.worker


def test_it_never_restarts_a_running_fit_on_redelivery(run: ClassifierRun, media_root: Path) -> None:
    token = classifier_run_claim(run_id=run.id)  # another worker is fitting, heartbeat fresh
    work = partial_folder(run.id, token)
    work.mkdir(parents=True)
    (work / "half-written.pkl").write_bytes(b"in progress")
    again = classifier_run_execute(run_id=run.id)  # the redelivered message
    assert again.status == JobStatus.RUNNING and again.claim_token == token and again.attempts == 1
    assert (work / "half-written.pkl").read_bytes() == b"in progress"


def test_it_takes_over_a_stale_fit_and_removes_its_folder(run: ClassifierRun, media_root: Path) -> None:
    dead = classifier_run_claim(run_id=run.id)
    partial_folder(run.id, dead).mkdir(parents=True)
    _make_stale(run.id)
    done = classifier_run_execute(run_id=run.id)  # redelivery after the visibility timeout
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2, done.error
    assert _leftovers(media_root) == []
    assert {"model", "metrics", "scores"} <= set(done.artifacts)
    assert all((media_root.parent / "artifacts" / p).exists() for p in done.artifacts.values())


def test_it_drops_the_result_of_a_fit_presumed_dead(run: ClassifierRun, media_root: Path) -> None:
    """The slow worker wakes up after another took over: it must not publish or clean up over it."""
    taken: dict[str, str | None] = {}

    def meanwhile(done: int, total: int) -> None:
        if not taken:
            _make_stale(run.id)
            taken["token"] = classifier_run_claim(run_id=run.id)

    out = classifier_run_execute(run_id=run.id, progress=meanwhile)
    assert taken["token"]
    assert out.status == JobStatus.RUNNING and out.claim_token == taken["token"] and out.attempts == 2
    assert not (media_root.parent / "artifacts" / "classifier_runs" / str(run.id)).exists()
    assert _leftovers(media_root) == []  # the superseded fit removed its own folder


def test_it_requeues_then_fails_a_fit_whose_worker_died(run: ClassifierRun, media_root: Path,
                                                        django_capture_on_commit_callbacks: object) -> None:
    dead = classifier_run_claim(run_id=run.id)
    partial_folder(run.id, dead).mkdir(parents=True)
    _make_stale(run.id)
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        assert classifier_runs_reap_stale() == {"requeued": [run.id], "failed": []}
    assert len(callbacks) == 1  # train_task queued again
    run.refresh_from_db()
    assert run.status == JobStatus.QUEUED and "retrying (attempt 2 of 2)" in run.error
    assert _leftovers(media_root) == []

    second = classifier_run_claim(run_id=run.id)
    partial_folder(run.id, second).mkdir(parents=True)
    _make_stale(run.id)
    out = classifier_run_execute(run_id=run.id)  # a late redelivery finds it stale, out of attempts
    assert out.status == JobStatus.FAILED and out.finished_at
    assert "stopped heartbeating" in out.error and "gave up after 2 attempt(s)" in out.error
    assert _leftovers(media_root) == []
