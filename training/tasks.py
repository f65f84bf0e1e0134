"""Thin Celery adapters on the ``train`` queue (routed by module name): take ids, call a service.

None of these waits for training: launch returns once the process or job exists, polls are short.
"""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def launch_training_run(run_id: int) -> None:
    from .services import training_run_launch

    training_run_launch(run_id=run_id)


@shared_task
def poll_training_runs() -> int:
    from .services import training_runs_poll

    return training_runs_poll()


@shared_task(acks_late=True)
def zeroshot_eval(eval_request: dict) -> int:
    from .zeroshot.service import zeroshot_request_run

    return len(zeroshot_request_run(request=eval_request))
