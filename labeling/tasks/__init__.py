"""Labeling Celery tasks (queue: default). Imported here so the worker registers them."""
from __future__ import annotations

from . import campaigns, datasets, quality  # noqa: F401
