from __future__ import annotations

from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Classifier"

    def ready(self) -> None:
        # labeling never imports classifier; it calls what classifier installs here.
        from classifier.services.consensus import campaign_item_probabilities, campaign_pr_curves
        from labeling import hooks

        hooks.install(item_probabilities=campaign_item_probabilities, pr_curves=campaign_pr_curves)
