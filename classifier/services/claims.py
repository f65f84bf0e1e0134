"""Exactly one worker fits a classifier run, and a run whose worker died never hangs.

A fit can take longer than the broker's visibility timeout, after which Redis delivers the
unacknowledged message again, maybe to another worker; a duplicate message does the same. So:

- A worker *claims* a run with one conditional UPDATE: queued -> running, or running with a
  heartbeat older than ``CLASSIFIER_STALE_SECONDS`` while attempts remain, storing a fresh
  ``claim_token``. Any other delivery finds nothing to claim and returns; it never touches the
  folder the fit in progress writes.
- The claimant writes into ``classifier_runs/<id>.partial-<token>``, a folder of its own, and
  heartbeats from a thread every ``CLASSIFIER_HEARTBEAT_SECONDS`` while it fits. A SIGKILL, an OOM
  kill or a lost host stops the heartbeat with the process.
- It finishes under ``SELECT ... FOR UPDATE`` of the run row and only while the token is still
  its own: then the folder is renamed into place. A worker presumed dead that wakes up late finds
  another token, removes its own folder and leaves the run alone.
- ``classifier_runs_reap_stale`` (a beat task every minute, and every delivery that finds the run
  stale) removes a dead fit's folder and queues the run again while ``CLASSIFIER_MAX_ATTEMPTS``
  allow, else marks it failed with a message naming the worker and when it was last seen.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from classifier.models import ClassifierRun
from domainsieve.jobs import JobStatus

log = logging.getLogger(__name__)


def stale_seconds() -> float:
    return float(settings.CLASSIFIER_STALE_SECONDS)


def heartbeat_seconds() -> float:
    return float(settings.CLASSIFIER_HEARTBEAT_SECONDS)


def max_attempts() -> int:
    return int(settings.CLASSIFIER_MAX_ATTEMPTS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def runs_folder() -> Path:
    return Path(settings.ARTIFACTS_ROOT) / "classifier_runs"


def partial_folder(run_id: int, token: str) -> Path:
    return runs_folder() / f"{run_id}.partial-{token}"


def remove_partial_folders(run_id: int, *, keep: str = "") -> list[str]:
    """Remove the working folders of ``run_id`` except the one of token ``keep``; their names.
    Call only where their writers are known dead or superseded (the claim or the reaper decided)."""
    removed = []
    folder = runs_folder()
    for path in sorted(folder.glob(f"{run_id}.partial*")) if folder.is_dir() else []:
        if keep and path.name == f"{run_id}.partial-{keep}":
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def _stale_cutoff() -> timezone.datetime:
    return timezone.now() - timedelta(seconds=stale_seconds())


def classifier_run_claim(*, run_id: int) -> str | None:
    """Claim the run for this process; the claim token, or None when the run is not claimable
    (finished, or running with a fresh heartbeat, or out of attempts). One statement: two
    workers racing for one run cannot both win."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=_stale_cutoff(),
                                               attempts__lt=max_attempts())
    updated = ClassifierRun.objects.filter(claimable, pk=run_id).update(
        status=JobStatus.RUNNING, claim_token=token, worker=worker_name(), heartbeat_at=now, started_at=now,
        progress=0.0, error="", attempts=F("attempts") + 1)
    if not updated:
        return None
    # A stale claim taken over: the dead fit's folder is an orphan now.
    removed = remove_partial_folders(run_id, keep=token)
    if removed:
        log.warning("classifier run %s: removed %s left by a dead fit", run_id, ", ".join(removed))
    return token


class Heartbeat:
    """Touches ``heartbeat_at`` of a claimed run every ``heartbeat_seconds()`` from a daemon thread
    until stopped; ``lost`` turns true when the token is no longer the run's (another worker took
    over, or the reaper failed the run)."""

    def __init__(self, *, run_id: int, token: str) -> None:
        self.run_id, self.token = run_id, token
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-run-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(heartbeat_seconds()):
                touched = ClassifierRun.objects.filter(pk=self.run_id, claim_token=self.token,
                                                       status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())
                if not touched:
                    self.lost = True
                    return
        finally:
            connection.close()  # this thread's own connection


def classifier_run_stale_message(run: ClassifierRun) -> str:
    seen = run.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC") if run.heartbeat_at else "never"
    return (f"the worker fitting this run ({run.worker or 'unknown'}) stopped heartbeating (last seen {seen}): "
            f"killed, out of memory or host lost")


def classifier_runs_reap_stale(*, run_id: int | None = None) -> dict[str, list[int]]:
    """Runs whose fit stopped heartbeating: their working folders removed, then queued again
    while attempts remain (``train_task`` on commit) or failed with the reason. Safe to run
    anywhere, any number of times: rows are taken with ``FOR UPDATE SKIP LOCKED`` and re-checked."""
    from classifier.tasks.runs import train_task

    requeued: list[int] = []
    failed: list[int] = []
    with transaction.atomic():
        stale = ClassifierRun.objects.select_for_update(skip_locked=True).filter(
            status=JobStatus.RUNNING, heartbeat_at__lt=_stale_cutoff())
        if run_id is not None:
            stale = stale.filter(pk=run_id)
        for run in stale:
            removed = remove_partial_folders(run.id)
            reason = classifier_run_stale_message(run)
            if run.attempts < max_attempts():
                ClassifierRun.objects.filter(pk=run.pk).update(
                    status=JobStatus.QUEUED, claim_token="", heartbeat_at=None, progress=0.0,
                    error=f"retrying (attempt {run.attempts + 1} of {max_attempts()}): {reason}")
                transaction.on_commit(lambda pk=run.pk: train_task.delay(pk))
                requeued.append(run.id)
            else:
                ClassifierRun.objects.filter(pk=run.pk).update(
                    status=JobStatus.FAILED, claim_token="", finished_at=timezone.now(),
                    error=(f"{reason}; gave up after {run.attempts} attempt(s), working folder removed. "
                           "Create the run again to retry."))
                failed.append(run.id)
            log.warning("classifier run %s: %s; %s%s", run.id, reason,
                        "queued again" if run.id in requeued else "failed",
                        f" (removed {', '.join(removed)})" if removed else "")
    return {"requeued": requeued, "failed": failed}
