"""Classifier Celery tasks. Imported here so the worker registers them: autodiscovery imports
``classifier.tasks`` only. Names, not modules, pick the queue: ``classifier.tasks.*`` runs on
``gpu``, the rest (``classifier.reshard_run``, ``classifier.subsets.*``) on ``default``."""
from __future__ import annotations

from . import apply, neighbours, runs, subsets  # noqa: F401
