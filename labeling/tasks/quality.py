"""Celery tasks: quality. Thin adapters: take ids, call a service."""
from __future__ import annotations
