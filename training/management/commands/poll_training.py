"""manage.py poll_training: poll running training runs once (what the periodic task does)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from training.services.runs import training_runs_poll


class Command(BaseCommand):
    help = "Read progress of running training runs and record finished ones (local runs of this host, all Slurm runs)."

    def handle(self, *args: Any, **opts: Any) -> None:
        self.stdout.write(f"polled {training_runs_poll()} running run(s)")
