"""Celery tasks: datasets. Thin adapters: take ids, call a service."""
from __future__ import annotations
