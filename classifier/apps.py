from __future__ import annotations

from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Classifier"

    def ready(self) -> None:
        # labeling never imports classifier; it calls what classifier installs here.
        from classifier.hooks import install

        install()
