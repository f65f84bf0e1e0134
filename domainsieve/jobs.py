"""The one status vocabulary of every job (import, embedding set, classifier run, apply job and its
shards, cleaning, resharding, subsets, vector indexes, training run), and the fields and state
changes those jobs share.

A job starts ``queued``, goes ``running`` and ends ``succeeded``, ``failed`` or ``cancelled``. A
few jobs have one more step: a training run is ``launching`` while its process starts and
``lost`` when its GPU host stops heartbeating; an apply job is ``finalizing`` while one worker
writes its summary. Every job model stores the same values (the API's single ``JobStatusEnum``),
so pages, scripts and filters need one list, not one per model.

Apps import this module; it imports no app.
"""
from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    LAUNCHING = "launching"  # training: the launch task is starting the process
    RUNNING = "running"
    FINALIZING = "finalizing"  # apply: every shard ended; one worker writes the summary
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"  # training: its GPU host stopped heartbeating; resume from the last checkpoint


# A job in one of these may still change by itself: pages poll it (frontend/static/js/jobs.js
# holds the same list), workers pick it up.
ACTIVE: tuple[JobStatus, ...] = (JobStatus.QUEUED, JobStatus.LAUNCHING, JobStatus.RUNNING, JobStatus.FINALIZING)
FINISHED: tuple[JobStatus, ...] = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.LOST)

ERROR_MAX_CHARS = 4000  # a traceback's last lines, not a log


class JobFields(models.Model):
    """Status, error and the three timestamps of a job row, with its state changes.

    The state changes write with one ``UPDATE`` of the named columns, never ``save()``: a worker
    reporting progress, or a user setting a cancel flag, writes other columns of the same row
    meanwhile, and a whole-row save would undo them. The instance follows what was written.
    """

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def mark_running(self, **fields: Any) -> int:
        """Running from now, error cleared; ``fields`` (counters reset, a total) go in the same
        UPDATE. Returns the rows updated (0: the row is gone)."""
        return self._write(status=JobStatus.RUNNING, started_at=timezone.now(), error="", **fields)

    def mark_finished(self, status: str = JobStatus.SUCCEEDED, *, error: str = "", **fields: Any) -> int:
        """Ended with ``status`` (one of FINISHED) at this moment; ``error`` is cut to
        ERROR_MAX_CHARS; ``fields`` (results, counts) go in the same UPDATE."""
        if status not in FINISHED:
            raise ValueError(f"{status!r} does not end a job; one of {[s.value for s in FINISHED]}")
        return self._write(status=status, finished_at=timezone.now(), error=error[:ERROR_MAX_CHARS], **fields)

    def _write(self, **fields: Any) -> int:
        for field in self._meta.concrete_fields:
            if getattr(field, "auto_now", False):  # e.g. updated_at: moves as it would with save()
                fields.setdefault(field.name, timezone.now())
        updated = type(self)._default_manager.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):  # F("done") + n: read it back if needed
                setattr(self, name, value)
        return updated


class CountedJobFields(JobFields):
    """A job that counts its work: ``done`` of ``total`` units (images, shards, rows)."""

    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def progress(self) -> float:
        """Fraction done, 0..1; a succeeded job with nothing to count is whole."""
        return self.done / self.total if self.total else (1.0 if self.status == JobStatus.SUCCEEDED else 0.0)
