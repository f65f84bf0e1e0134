"""Shared fixtures: personas (one per role plus an outsider), API clients, media roots, and a real
Celery worker process for tests whose behaviour is the queue."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from domainsieve.auth import ADMIN, ANNOTATOR, RESEARCHER, ROLES
from tests.browser import browser, page, warm_urlconf  # noqa: F401 - fixtures for every browser test

REPO = Path(__file__).resolve().parent.parent


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=f"{username}-pw")
    if role is not None:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
        if role == ADMIN:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def roles(db: None) -> None:
    for role in ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture
def annotator(roles: None) -> User:
    return make_user("ann", ANNOTATOR)


@pytest.fixture
def annotator2(roles: None) -> User:
    return make_user("ann2", ANNOTATOR)


@pytest.fixture
def researcher(roles: None) -> User:
    return make_user("res", RESEARCHER)


@pytest.fixture
def admin_user(roles: None) -> User:
    return make_user("adm", ADMIN)


@pytest.fixture
def outsider(roles: None) -> User:
    """Logged in, but in no group: refused everywhere."""
    return make_user("nobody", None)


def api_client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


@pytest.fixture
def api() -> type:
    """``api(user)`` gives an APIClient authenticated as that user (None: anonymous)."""
    return api_client_for


@pytest.fixture
def media_root(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARTIFACTS_ROOT = tmp_path / "artifacts"
    settings.IMPORT_ROOTS = [tmp_path]
    settings.MEDIA_ROOT.mkdir()
    settings.ARTIFACTS_ROOT.mkdir()
    return settings.MEDIA_ROOT


class WorkerProcess:
    """A real ``celery worker`` subprocess bound to the test database and a private Redis db."""

    def __init__(self, *, queues: str, env: dict[str, str], name: str, concurrency: int = 1) -> None:
        self.name = name
        self.log = Path(env["DOMAINSIEVE_VAR"]) / f"{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "domainsieve", "worker", "-Q", queues,
             "-P", "solo" if concurrency == 1 else "prefork", "-c", str(concurrency),
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=REPO, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-4000:]}")
            if "ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def worker_env(transactional_db: None, media_root: Path, settings: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment for a worker subprocess sharing this test's database, media and a fresh broker."""
    from django.db import connection

    db = connection.settings_dict
    # The worker shares the suite's broker (CELERY_BROKER_URL, a private Redis db); start clean.
    broker = settings.CELERY_BROKER_URL
    redis_db = broker.rsplit("/", 1)[-1] if broker.startswith("redis://") else ""
    if redis_db.isdigit():
        subprocess.run(["redis-cli", "-n", redis_db, "flushdb"], check=False, capture_output=True)
    var = tmp_path / "worker-var"
    var.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "DOMAINSIEVE_VAR": str(var),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ARTIFACTS_ROOT": str(settings.ARTIFACTS_ROOT),
        "IMPORT_ROOTS": os.pathsep.join(str(p) for p in settings.IMPORT_ROOTS),
        "DJANGO_SETTINGS_MODULE": "domainsieve.settings",
    })
    return env


@pytest.fixture
def celery_worker_proc(worker_env: dict[str, str]) -> Iterator[WorkerProcess]:
    """One real worker on every queue; stopped at teardown."""
    worker = WorkerProcess(queues="default,gpu,train", env=worker_env, name=f"w{uuid.uuid4().hex[:6]}")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def wait_for(predicate: object, timeout: float = 60, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


@pytest.fixture
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


__all__ = ["ANNOTATOR", "RESEARCHER", "ADMIN", "make_user", "wait_for", "WorkerProcess"]
