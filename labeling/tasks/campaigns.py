"""Celery tasks: campaigns. Thin adapters: take ids, call a service."""
from __future__ import annotations

from celery import shared_task

from labeling.services.campaigns import leases_purge_expired


@shared_task(name="labeling.tasks.campaigns.purge_expired_leases")
def purge_expired_leases(grace_minutes: int = 60) -> int:
    """Periodic housekeeping (beat): drop long-expired leases."""
    return leases_purge_expired(grace_minutes=grace_minutes)
