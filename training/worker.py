"""The train worker as a member of the GPU pool (Celery signal receivers, connected by the app).

A worker that consumes ``train`` also consumes ``train.<TRAIN_HOST_NAME>`` (where placement sends
the launches of runs it put on this host), registers the host when it is ready, and keeps a
heartbeat thread: every ``TRAIN_HEARTBEAT_SECONDS`` it refreshes the host row (registering again
after a loss), marks silent hosts lost, polls this host's running runs and runs a placement pass.
The thread is an interface like a task: it calls services and owns its retries.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import celeryd_after_setup, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)
_state: dict[str, Any] = {"train_host": False, "thread": None, "stop": threading.Event(), "worker": ""}


def _consumes_train(instance: Any) -> bool:
    return "train" in instance.app.amqp.queues.consume_from


@celeryd_after_setup.connect
def add_host_queue(sender: str, instance: Any, **_: Any) -> None:
    """Consume this host's own queue too, beside ``train`` (after ``-Q`` was applied)."""
    if not _consumes_train(instance):
        return
    from .services.placement import train_host_name, train_host_queue

    instance.app.amqp.queues.select_add(train_host_queue(train_host_name()))
    _state["train_host"] = True
    _state["worker"] = str(sender)


def register_this_host() -> None:
    """Stop processes this host no longer owns, then register it (up, its GPUs) and place runs."""
    from .backends.local import live_supervisors
    from .hostinfo import discover_gpus
    from .services.placement import train_host_name, train_host_register, training_orphans_stop

    name = train_host_name()
    gpus, source = discover_gpus(declared=settings.TRAIN_HOST_GPUS, model=settings.TRAIN_HOST_GPU_MODEL,
                                 memory_mb=settings.TRAIN_HOST_GPU_MEMORY_MB,
                                 cuda_visible_devices=settings.CUDA_VISIBLE_DEVICES)
    training_orphans_stop(host=name, supervisors=live_supervisors(name))
    host = train_host_register(name=name, gpus=gpus, source=source, worker=_state["worker"])
    log.info("train host %s registered: %d GPU(s) %s (%s), queue %s", host.name, host.gpu_count, host.gpu_model,
             source, host.queue)


def heartbeat_once() -> None:
    from .services.placement import (
        train_host_heartbeat,
        train_host_name,
        train_hosts_mark_lost,
        training_queue_place,
    )
    from .services.runs import training_runs_poll

    if not train_host_heartbeat(name=train_host_name()):
        log.warning("train host %s was not up (lost or removed): registering again", train_host_name())
        register_this_host()
    train_hosts_mark_lost()
    training_runs_poll(local_only=True)
    training_queue_place()


def _heartbeat_loop(stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            close_old_connections()
            heartbeat_once()
        except Exception:  # a database hiccup must not end the heartbeat
            log.exception("train host heartbeat failed; retrying in %.0f s", interval)
        finally:
            connections.close_all()


@worker_ready.connect
def start_host(sender: Any = None, **_: Any) -> None:
    if not _state["train_host"]:
        return
    try:
        register_this_host()
    except Exception:  # the heartbeat registers on its next beat
        log.exception("could not register train host %s", settings.TRAIN_HOST_NAME)
    finally:
        connections.close_all()
    stop = _state["stop"]
    thread = threading.Thread(target=_heartbeat_loop, args=(stop, float(settings.TRAIN_HEARTBEAT_SECONDS)),
                              name="train-host-heartbeat", daemon=True)
    thread.start()
    _state["thread"] = thread


@worker_shutdown.connect
def stop_host(**_: Any) -> None:
    """Stop the heartbeat; the host turns lost after the timeout unless a worker comes back."""
    _state["stop"].set()
