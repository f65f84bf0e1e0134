"""The Celery app. Queues: default (imports, thumbnails, agreement, exports), gpu, train.

CUDA is never touched here or in any module imported at worker start: GPU work initialises the
device inside the task, so one solo worker per GPU (``CUDA_VISIBLE_DEVICES=k``) owns it.
"""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "domainsieve.settings")

app = Celery("domainsieve")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
