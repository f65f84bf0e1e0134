"""Test settings: the project's settings pointed at real PostgreSQL and Redis by default.

`make test` exports DATABASE_URL and CELERY_BROKER_URL; these defaults let `pytest` alone work
on a machine where the services run on loopback.
"""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/domainsieve")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DOMAINSIEVE_VAR", tempfile.mkdtemp(prefix="domainsieve-test-var-"))

from domainsieve.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
IMPORT_WORKERS = 2
