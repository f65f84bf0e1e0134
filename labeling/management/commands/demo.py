"""`manage.py demo`: the offline demo, from an empty checkout to a running app.

Migrates, builds the demo images (once), imports them (once; a rerun adds nothing), creates one
admin, one researcher and three annotators, then runs one Celery worker and the web app on
127.0.0.1:8000 until Ctrl-C, which stops both.
"""
from __future__ import annotations

import csv
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from domainsieve.auth import ADMIN, ANNOTATOR, RESEARCHER, ROLES
from domainsieve.jobs import JobStatus

DEMO_USERS = (
    ("admin", ADMIN),
    ("researcher", RESEARCHER),
    ("annotator1", ANNOTATOR),
    ("annotator2", ANNOTATOR),
    ("annotator3", ANNOTATOR),
)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False


def _split_testset_manifest(testset: Path) -> tuple[Path, Path]:
    """Write manifest-natural.csv and manifest-rendition.csv beside the demo test set's manifest:
    each domain's images plus every other ambiguous image, so each set needs cleaning."""
    with (testset / "manifest.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], list(reader)
    ambiguous = [row for row in rows if row["domain"] == "ambiguous"]
    outputs = []
    for index, domain in enumerate(("natural", "rendition")):
        path = testset / f"manifest-{domain}.csv"
        if not path.exists():
            chosen = [row for row in rows if row["domain"] == domain] + ambiguous[index::2]
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=fields)
                writer.writeheader()
                writer.writerows(chosen)
        outputs.append(path)
    return outputs[0], outputs[1]


class Command(BaseCommand):
    help = "Set up and run the offline demo: data, users, one worker and the web app on 127.0.0.1:8000."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--data-dir", default=str(settings.VAR_DIR / "demo-data"),
                            help="where the demo images are built (default var/demo-data)")
        parser.add_argument("--setup-only", action="store_true",
                            help="prepare data and users, print the logins, start nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not options["setup_only"] and not _port_free(host, port):
            raise CommandError(f"{host}:{port} is already in use; stop what runs there or pass --port.")
        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        # The import service logs its own summary line; here the command prints it, once.
        logging.getLogger("labeling.services.datasets").setLevel(logging.WARNING)
        self._build_and_import(Path(options["data_dir"]))
        logins = self._ensure_users()
        self._ensure_campaign()
        self.stdout.write(f"demo ready in {time.monotonic() - started:.1f}s")
        self._print_logins(logins, host, port)
        if options["setup_only"]:
            return
        self._run(host, port)

    # -- data -------------------------------------------------------------------------------
    def _build_and_import(self, data_dir: Path) -> None:
        from labeling.demodata import build_demo_data
        from labeling.models import Dataset, ImportJob
        from labeling.services.datasets import dataset_create, import_create, import_run

        with tqdm(total=360 + 96, desc="demo images", unit="img", leave=False) as bar:
            summary = build_demo_data(outdir=data_dir, n_pool=360, n_test=96, seed=0, size=320, shard_size=100,
                                      workers=min(2, os.cpu_count() or 1), progress=bar.update)
        self.stdout.write(f"demo data: {data_dir} ({summary})")
        settings.IMPORT_ROOTS.append(data_dir.resolve())
        photos, renditions = _split_testset_manifest(data_dir / "testset")
        plan = [
            ("demo-pool", Dataset.Kind.POOL, "", data_dir / "pool"),
            # Two test sets that claim one domain each and, like ImageNet-Val and ImageNet-Sketch,
            # are contaminated with ambiguous images: what clean_testset removes.
            ("demo-photos", Dataset.Kind.TESTSET, "natural", photos),
            ("demo-renditions", Dataset.Kind.TESTSET, "rendition", renditions),
        ]
        for name, kind, expected, source in plan:
            dataset = Dataset.objects.filter(name=name).first() or dataset_create(
                name=name, kind=kind, expected_domain=expected, description="offline demo data")
            done = ImportJob.objects.filter(
                dataset=dataset, source=str(source), status=JobStatus.SUCCEEDED).first()
            if done is not None:
                self.stdout.write(f"{name}: already imported ({done.summary()})")
                continue
            job = import_create(dataset=dataset, source=str(source), enqueue=False)
            with tqdm(desc=f"import {name}", unit="img", leave=False) as bar:
                def progress(done: int, total: int, bar: tqdm = bar) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                job = import_run(job=job, progress=progress)
            self.stdout.write(f"{name}: {job.summary()}")

    def _ensure_users(self) -> list[tuple[str, str, str]]:
        """Create the demo users once; their passwords live in var/demo_logins.txt (0600)."""
        for role in ROLES:
            Group.objects.get_or_create(name=role)
        store = settings.VAR_DIR / "demo_logins.txt"
        known = dict(line.split(":", 1) for line in store.read_text().split() if ":" in line) if store.exists() else {}
        logins = []
        for username, role in DEMO_USERS:
            password = known.get(username) or settings.DEMO_PASSWORD or secrets.token_urlsafe(9)
            user, created = User.objects.get_or_create(username=username)
            if created or not user.check_password(password):
                user.set_password(password)
            user.is_staff = user.is_superuser = role == ADMIN
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            logins.append((username, password, role))
        store.write_text("".join(f"{u}:{p}\n" for u, p, _ in logins))
        store.chmod(0o600)
        return logins

    def _ensure_campaign(self) -> None:
        try:
            from labeling.models import Campaign
            from labeling.services.campaigns import campaign_create
        except ImportError:  # the labeling campaign layer is optional for the demo
            return
        from labeling.models import Dataset

        if Campaign.objects.filter(name="demo: LAION-style pool").exists():
            return
        researcher = User.objects.get(username="researcher")
        campaign_create(
            name="demo: LAION-style pool",
            datasets=list(Dataset.objects.filter(name="demo-pool")),
            k=1, agreement_fraction=0.2, agreement_k=3, user=researcher,
        )

    def _print_logins(self, logins: list[tuple[str, str, str]], host: str, port: int) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"DomainSieve demo: http://{host}:{port}/"))
        self.stdout.write("logins (also in var/demo_logins.txt):")
        for username, password, role in logins:
            self.stdout.write(f"  {username:<11} {password:<14} {role}")
        self.stdout.write("")

    # -- processes ----------------------------------------------------------------------------
    def _run(self, host: str, port: int) -> None:
        env = dict(os.environ)
        log_dir = settings.VAR_DIR / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "domainsieve", "worker", "-Q", "default,gpu,train",
             "-P", "solo", "-n", "demo@%h", "-l", "INFO", "--without-gossip", "--without-mingle",
             # embedded beat: training polls and the apply-shard watchdog run in the demo too
             "-B", "-s", str(settings.VAR_DIR / "celerybeat-schedule")],
            env=env, stdout=(log_dir / "worker.log").open("ab"), stderr=subprocess.STDOUT,
        )
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "domainsieve.wsgi", "-b", f"{host}:{port}",
             "-w", "2", "--threads", "4", "--timeout", "120", "--access-logfile", "-"],
            env=env, stdout=(log_dir / "web.log").open("ab"), stderr=subprocess.STDOUT,
        )
        children = (web, worker)

        def stop(*_: object) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()

        signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
        try:
            if not _wait_listening(host, port, web, timeout=60):
                stop()
                raise CommandError(f"the web app did not start; see {log_dir / 'web.log'}")
            self.stdout.write(self.style.SUCCESS(
                f"web on http://{host}:{port}/ and one worker are running (logs in {log_dir}); Ctrl-C stops both."))
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            name = "web app" if web.poll() is not None else "worker"
            stop()
            raise CommandError(f"the {name} exited; see the logs in {log_dir}")
        except KeyboardInterrupt:
            self.stdout.write("stopping web and worker ...")
            stop()
            self.stdout.write("stopped.")
