from __future__ import annotations

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training"

    def ready(self) -> None:
        from . import worker  # noqa: F401 - connects the train worker's pool signals (no-op elsewhere)
