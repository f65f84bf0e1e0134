"""Thin Celery adapters on the ``train`` queue (routed by task name): take ids, call a service.
A local run's launch goes to its host's own queue, ``train.<host>`` (``placement``).

None of these waits for training: launch returns once the process or job exists, polls are short.
"""
from __future__ import annotations

from celery import shared_task


@shared_task(name="training.tasks.launch_training_run", acks_late=True)
def launch_training_run(run_id: int) -> None:
    from training.services.runs import training_run_launch

    training_run_launch(run_id=run_id)


@shared_task(name="training.tasks.poll_training_runs")
def poll_training_runs() -> int:
    """Beat's sweep: Slurm runs and this host's local runs, silent hosts, a placement pass (each
    train host also does the last three on its own heartbeat)."""
    from training.services.placement import train_hosts_mark_lost, training_queue_place
    from training.services.runs import training_runs_poll

    polled = training_runs_poll()
    train_hosts_mark_lost()
    training_queue_place()
    return polled


@shared_task(name="training.tasks.zeroshot_eval", acks_late=True)
def zeroshot_eval(eval_request: dict) -> int:
    from training.services.zeroshot import zeroshot_request_run

    return len(zeroshot_request_run(request=eval_request))
