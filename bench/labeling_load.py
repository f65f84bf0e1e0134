"""Load test of labeling: concurrent annotators against gunicorn + PostgreSQL, then invariants.

Starts gunicorn on a free loopback port against a database it creates and migrates, creates
``--annotators`` users with tokens, and runs each phase on its own campaign of ``--items`` items
(k=1, k=3 on 10%): one client thread per annotator, each looping ``next(n=25)`` then a submit of
the whole page, until the campaign is done (or ``--time-limit``). A few pages (``--abandon``) are
dropped instead of submitted and their leases forced to expire, to check that expired leases go
back to the pool. Phases (``--phases``):

- closed: no pause at all between calls. Measures capacity (labels/s at saturation); call
  latency there is queueing: by Little's law mean latency = annotators / call rate.
- open: pages start at Poisson times, ``--rate`` labels/s on average (default 600), each taken by
  whichever annotator is free, with no pause; next is timed from the scheduled start, so waiting
  for a free annotator counts (no coordinated omission).
- closed-orm: the closed phase against a second gunicorn run with LABELING_PG_STATEMENTS=false,
  i.e. the portable ORM statements the SQLite demo uses: the baseline of the capacity ratio.
- paced: each annotator looks at a page for ``--think`` seconds (uniform 0.5x-1.5x) before
  submitting, starting at random times over the first ``--ramp`` seconds. At 2 s, 50 annotators
  offer about 600 labels/s (a person needs 20-40 s per page): latency at the aimed load.

Prints labels/s, p50/p95/p99 of next and of submit and the invariants per phase. With
``--browser`` it also times, in Chromium, the key that submits a grid page until the next page
is painted.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/labeling_load.py --browser
    .venv/bin/python bench/labeling_load.py --items 3000 --annotators 20 --phases paced
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=31_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--page", type=int, default=25)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--agreement-fraction", type=float, default=0.1)
    parser.add_argument("--agreement-k", type=int, default=3)
    parser.add_argument("--phases", default="closed,paced,open,closed-orm",
                        help="comma-separated: closed, paced, open, closed-orm (the baseline)")
    parser.add_argument("--rate", type=float, default=600.0,
                        help="open phase: labels/s offered (pages start at Poisson times)")
    parser.add_argument("--think", type=float, default=2.0,
                        help="paced phase: seconds each annotator looks at a page before submitting")
    parser.add_argument("--ramp", type=float, default=None,
                        help="paced phase: annotators start at random times over this many seconds "
                             "(default: --think)")
    parser.add_argument("--abandon", type=float, default=0.01, help="fraction of pages dropped, not submitted")
    parser.add_argument("--workers", type=int, default=6, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds for the load phase")
    parser.add_argument("--db-name", default="domainsieve_bench")
    parser.add_argument("--browser", action="store_true", help="also time grid page turns in Chromium")
    parser.add_argument("--browser-pages", type=int, default=20)
    parser.add_argument("--browser-dwell", type=float, default=1.5,
                        help="seconds the simulated annotator looks at a page before submitting it")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def admin_url() -> str:
    return os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def bench_url(db_name: str) -> str:
    parsed = urlparse(admin_url())
    return parsed._replace(path=f"/{db_name}").geturl()


def recreate_database(db_name: str) -> None:
    import psycopg

    parsed = urlparse(admin_url())
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Client:
    """One keep-alive HTTP connection with token auth."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json",
                        "Accept": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        data = None if body is None else json.dumps(body)
        for attempt in range(3):
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                response = self.conn.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - start
                return response.status, json.loads(payload or b"null"), elapsed
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        raise RuntimeError("unreachable")


def setup_data(args: argparse.Namespace) -> dict[str, Any]:
    """Users, tokens and a dataset of ``--items`` image rows (no files: the API never reads them)."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from labeling.models import Dataset, Image

    group, _ = Group.objects.get_or_create(name="annotator")
    researcher_group, _ = Group.objects.get_or_create(name="researcher")
    researcher = User.objects.create_user("bench-researcher", password="bench-pw")
    researcher.groups.add(researcher_group)
    # Token auth only: no password hashing for the simulated annotators (it is slow by design).
    users = User.objects.bulk_create([User(username=f"bench{i:03d}", password="!") for i in range(args.annotators)])
    group.user_set.add(*users)
    tokens = [(user.id, Token.objects.create(user=user).key) for user in users]
    dataset = Dataset.objects.create(name="bench pool")
    Image.objects.bulk_create(
        (Image(dataset=dataset, sha256=f"{i:064x}", file=f"images/{i}.jpg", thumb=f"thumbs/{i}.jpg", width=256,
               height=256, format="JPEG", size_bytes=1, uid=f"u{i}", source="bench") for i in range(args.items)),
        batch_size=5000)
    return {"tokens": tokens, "dataset": dataset, "researcher": researcher}


def make_campaign(args: argparse.Namespace, setup: dict[str, Any], name: str) -> tuple[int, float]:
    """A campaign over the bench pool; its id and how long campaign_create took."""
    from labeling.services.campaigns import campaign_create

    start = time.perf_counter()
    campaign = campaign_create(name=name, datasets=[setup["dataset"]], k=args.k,
                               agreement_fraction=args.agreement_fraction, agreement_k=args.agreement_k,
                               seed=args.seed, user=setup["researcher"])
    return campaign.id, time.perf_counter() - start


def when_ready(server: Any) -> None:
    """Gunicorn hook (this module doubles as its config): import every urlconf, and what the apps
    import with them, once in the master before it forks, so no timed request pays for it."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import is the point


def start_gunicorn(args: argparse.Namespace, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    proc = subprocess.Popen(
        [gunicorn, "domainsieve.wsgi", "-c", "python:bench.labeling_load", "--preload",
         "-b", f"127.0.0.1:{port}", "-w", str(args.workers), "-k", "gthread",
         "--threads", str(args.threads), "--keep-alive", "30", "--log-level", "warning",
         # one listening socket per worker: the kernel spreads keep-alive connections evenly
         "--reuse-port"],
        cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health/")
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not come up in 120 s")


def _proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(server: subprocess.Popen[bytes], db_name: str) -> float:
    """CPU time of the gunicorn tree plus the PostgreSQL backends serving the bench database:
    the machine is shared, so CPU per label says more about capacity than wall-clock rates."""
    from django.db import connection

    pids = {server.pid}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(path.read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                pids.add(int(path.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db_name])
        pids |= {row[0] for row in cursor.fetchall()}
    return sum(_proc_cpu_seconds(pid) for pid in pids)


class Load:
    def __init__(self, args: argparse.Namespace, port: int, tokens: list[tuple[int, str]], campaign: int,
                 think: float, ramp: float, open_loop: bool = False) -> None:
        self.args = args
        self.arrivals: queue.Queue[float] | None = queue.Queue() if open_loop else None
        self.finished = threading.Event()
        self.port = port
        self.campaign = campaign
        self.tokens = tokens
        self.think = think
        self.ramp = ramp
        self.lock = threading.Lock()
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.acked: dict[tuple[int, int], str] = {}
        self.abandoned: list[tuple[int, list[int]]] = []
        self.errors: list[str] = []
        self.deadline = 0.0
        self.samples: list[tuple[str, float, float, int]] = []
        self.started = time.monotonic()
        self.server_cpu = 0.0
        self.client_cpu = 0.0

    def expire(self, user_id: int, items: list[int]) -> None:
        from django.db import connection

        # Time passing for a lease, compressed: the abandoned page's leases are made stale now.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE labeling_lease SET expires_at = now() - interval '1 second' "
                           "WHERE annotator_id = %s AND item_id = ANY(%s)", [user_id, items])

    def annotator(self, user_id: int, token: str, seed: int) -> None:
        rng = random.Random(seed)
        client = Client(self.port, token)
        path_next = f"/api/v1/campaigns/{self.campaign}/next/?n={self.args.page}"
        path_submit = f"/api/v1/campaigns/{self.campaign}/annotations/"
        idle = 0
        time.sleep(rng.uniform(0, self.ramp))  # people do not all press the first key in the same millisecond
        while time.monotonic() < self.deadline:
            scheduled = None
            if self.arrivals is not None:
                try:  # open phase: a page starts when the schedule says, by whichever annotator is free
                    scheduled = self.arrivals.get(timeout=0.5)
                except queue.Empty:
                    if self.finished.is_set():
                        return
                    continue
            status, body, elapsed = client.call("POST", path_next)
            if scheduled is not None:
                # Counted from the scheduled start, so time spent waiting for a free annotator
                # (a backed-up server) is part of the latency, not hidden by it.
                elapsed = time.monotonic() - scheduled
            with self.lock:
                self.next_ms.append(elapsed * 1000)
                self.samples.append(("next", time.monotonic() - self.started, elapsed * 1000,
                                     len(body.get("items", [])) if isinstance(body, dict) else -1))
            if status != 200:
                self.errors.append(f"next {status}: {body}")
                return
            items = [i["item"] for i in body["items"]]
            if not items:
                if body["status"] != "active":
                    self.finished.set()
                    return
                if scheduled is not None:
                    continue  # the next page starts at its own scheduled time
                # The rest is leased to others; their pages come back or finish. A paced annotator
                # looks again after a page's worth of time, a closed-loop one backs off from 50 ms.
                idle += 1
                time.sleep(rng.uniform(0.5, 1.5) * self.think if self.think else min(0.05 * idle, 1.0))
                continue
            idle = 0
            if rng.random() < self.args.abandon:
                self.expire(user_id, items)
                with self.lock:
                    self.abandoned.append((user_id, items))
                continue
            batch = [{"item": i, "label": rng.choice(("natural", "natural", "rendition", "ambiguous")),
                      "seconds": round(rng.uniform(1, 5), 2)} for i in items]
            if self.think:
                time.sleep(rng.uniform(0.5, 1.5) * self.think)
            status, body, elapsed = client.call("POST", path_submit, batch)
            with self.lock:
                self.submit_ms.append(elapsed * 1000)
                self.samples.append(("submit", time.monotonic() - self.started, elapsed * 1000, len(batch)))
                if status == 200:
                    for entry in batch:
                        self.acked[(entry["item"], user_id)] = entry["label"]
                else:
                    self.errors.append(f"submit {status}: {str(body)[:300]}")

    def schedule(self, pages_per_s: float, seed: int) -> None:
        """Open phase: page starts at Poisson times, ``pages_per_s`` on average, until the campaign
        is finished or the time is up."""
        rng = random.Random(seed)
        due = time.monotonic()
        while not self.finished.is_set() and due < self.deadline:
            due += rng.expovariate(pages_per_s)
            time.sleep(max(0.0, due - time.monotonic()))
            self.arrivals.put(due)

    def run(self) -> float:
        self.deadline = time.monotonic() + self.args.time_limit
        threads = [threading.Thread(target=self.annotator, args=(uid, token, self.args.seed + n), daemon=True)
                   for n, (uid, token) in enumerate(self.tokens)]
        if self.arrivals is not None:
            threads.append(threading.Thread(target=self.schedule, args=(self.args.rate / self.args.page,
                                                                        self.args.seed), daemon=True))
        start = time.perf_counter()
        self.started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - start


def check_invariants(load: Load) -> dict[str, int]:
    from django.db import connection
    from django.db.models import F

    from labeling.models import Annotation, Campaign, CampaignItem, Lease

    stored = {(a, u): label for a, u, label in Annotation.objects.filter(item__campaign_id=load.campaign)
              .values_list("item_id", "annotator_id", "label")}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM (SELECT item_id, annotator_id FROM labeling_annotation "
                       "GROUP BY 1, 2 HAVING count(*) > 1) d")
        twice = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM labeling_campaignitem i WHERE i.campaign_id = %s AND "
                       "(SELECT count(*) FROM labeling_annotation a WHERE a.item_id = i.id) > i.target_k",
                       [load.campaign])
        above_k = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM labeling_campaignitem i WHERE i.campaign_id = %s AND "
                       "(SELECT count(*) FROM labeling_annotation a WHERE a.item_id = i.id) <> i.labels_count",
                       [load.campaign])
        counter_drift = cursor.fetchone()[0]
    abandoned_items = {i for _, items in load.abandoned for i in items}
    complete = set(CampaignItem.objects.filter(campaign_id=load.campaign, labels_count__gte=F("target_k"))
                   .values_list("id", flat=True))
    return {
        "acknowledged_labels": len(load.acked),
        "acknowledged_missing_or_wrong": sum(stored.get(key) != label for key, label in load.acked.items()),
        "stored_but_not_acknowledged": len(set(stored) - set(load.acked)),
        "items_above_k": above_k,
        "annotator_twice_on_item": twice,
        "labels_count_drift": counter_drift,
        "abandoned_pages": len(load.abandoned),
        "abandoned_items_not_reassigned": len(abandoned_items - complete),
        "items_incomplete": CampaignItem.objects.filter(campaign_id=load.campaign).count() - len(complete),
        "stale_leases_left": Lease.objects.filter(item__campaign_id=load.campaign).count(),
        "campaign_finished": int(Campaign.objects.get(pk=load.campaign).status == Campaign.Status.FINISHED),
    }


def browser_paint(args: argparse.Namespace, port: int, media: Path) -> list[float]:
    """Grid page turns in Chromium: key press to next page painted, thumbnails prefetched."""
    from django.contrib.auth.models import Group, User

    from labeling.services.campaigns import campaign_create
    from tests.factories import make_dataset, make_image

    n = args.browser_pages * args.page + args.page
    dataset = make_dataset(name="bench browser pool")
    for i in range(n):
        make_image(dataset=dataset, domain=("natural", "rendition")[i % 2], seed=10_000 + i)
    user = User.objects.create_user("bench-browser", password="bench-pw")
    user.groups.add(Group.objects.get(name="annotator"))
    campaign = campaign_create(name="bench browser", datasets=[dataset], user=User.objects.get(username="bench-researcher"))
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", "bench-browser")
        page.fill("input[name=password]", "bench-pw")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/campaigns/{campaign.id}/grid/?n={args.page}")
        page.wait_for_selector("body[data-ready='1']")
        page.on("console", lambda message: print(f"  console: {message.text}", file=sys.stderr))
        for turn in range(args.browser_pages):
            page.wait_for_timeout(args.browser_dwell * 1000)  # the annotator looks; the next pages prefetch
            page.keyboard.press("Shift+1")
            page.keyboard.press("Enter")
            try:
                page.wait_for_function(f"window.__gridTimings.length >= {turn + 1}", timeout=15_000)
            except Exception as error:  # noqa: BLE001 - report what the page shows, then stop timing
                state = page.evaluate("JSON.stringify({s: window.__gridState().cur, t: window.__gridTimings, "
                                      "u: document.getElementById('unsaved').textContent})")
                print(f"  browser: page turn {turn} did not finish ({error.__class__.__name__}): {state}",
                      file=sys.stderr)
                break
        timings = page.evaluate("window.__gridTimings")
        prefetch = page.evaluate("window.__prefetchMs")
        browser.close()
    print(f"  browser: prefetch of a page (next + {args.page} thumbnails decoded): "
          f"p50={percentile(prefetch, 50):.0f} ms, p95={percentile(prefetch, 95):.0f} ms", file=sys.stderr)
    return timings


AIM_MS = 100.0
AIM_LABELS_PER_S = 500.0
VIOLATION_KEYS = ("acknowledged_missing_or_wrong", "stored_but_not_acknowledged", "items_above_k",
                  "annotator_twice_on_item", "labels_count_drift", "abandoned_items_not_reassigned")


def run_phase(args: argparse.Namespace, setup: dict[str, Any], port: int, server: subprocess.Popen[bytes],
              phase: str) -> dict[str, Any]:
    campaign, create_seconds = make_campaign(args, setup, f"bench {phase}")
    think = args.think if phase == "paced" else 0.0
    ramp = (think if args.ramp is None else args.ramp) if phase == "paced" else 0.0
    load = Load(args, port, setup["tokens"], campaign, think, ramp, open_loop=phase == "open")
    how = f"{args.rate:g} labels/s offered" if phase == "open" else f"think {think:g} s"
    print(f"{phase}: {args.annotators} annotators, {args.items} items, {how} ...", file=sys.stderr)
    cpu_before, client_before = server_cpu_seconds(server, args.db_name), time.process_time()
    seconds = load.run()
    # Backends that closed during the run are missed, so this is a lower bound; with
    # persistent connections (CONN_MAX_AGE) they stay open.
    load.server_cpu = server_cpu_seconds(server, args.db_name) - cpu_before
    load.client_cpu = time.process_time() - client_before
    return {"phase": phase, "think": think, "load": load, "seconds": seconds, "create_seconds": create_seconds,
            "invariants": check_invariants(load)}


def main() -> None:
    args = parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - {"closed", "paced", "open", "closed-orm"}:
        raise SystemExit(f"--phases takes closed, paced, open and/or closed-orm, not {args.phases!r}")
    work = Path(tempfile.mkdtemp(prefix="labeling-bench-"))
    media = work / "media"
    media.mkdir()
    recreate_database(args.db_name)
    env = dict(os.environ, DATABASE_URL=bench_url(args.db_name), DJANGO_SETTINGS_MODULE="domainsieve.settings",
               DOMAINSIEVE_VAR=str(work / "var"), MEDIA_ROOT=str(media), DEBUG="false", LOG_LEVEL="WARNING",
               CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "filesystem://"))
    os.environ.update(env)
    print(f"migrating {args.db_name} ...", file=sys.stderr)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
    setup = setup_data(args)
    port = free_port()
    server = start_gunicorn(args, port, env, work / "gunicorn.log")
    try:
        results = []
        for phase in phases:
            if phase != "closed-orm":
                results.append(run_phase(args, setup, port, server, phase))
                continue
            orm_port = free_port()
            orm_server = start_gunicorn(args, orm_port, dict(env, LABELING_PG_STATEMENTS="false"),
                                        work / "gunicorn-orm.log")
            try:
                results.append(run_phase(args, setup, orm_port, orm_server, phase))
            finally:
                os.killpg(orm_server.pid, signal.SIGTERM)
                orm_server.wait(timeout=30)
        paint: list[float] = []
        if args.browser:
            try:
                paint = browser_paint(args, port, media)
            except Exception as error:  # noqa: BLE001 - the load figures above still stand; say why paint is missing
                print(f"browser: no paint timings: {error.__class__.__name__}: {str(error)[:300]}", file=sys.stderr)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    errors = [line for log in work.glob("gunicorn*.log") for line in log.read_text(errors="replace").splitlines()
              if "Error" in line or "Traceback" in line]
    if errors:
        print(f"gunicorn logs ({work}) have errors:", *errors[:10], sep="\n  ", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    if os.environ.get("BENCH_SAMPLES"):
        Path(os.environ["BENCH_SAMPLES"]).write_text(json.dumps({r["phase"]: r["load"].samples for r in results}))
    failed = report(args, results, paint)
    if failed or (args.browser and not paint):
        sys.exit(1)


def report(args: argparse.Namespace, results: list[dict[str, Any]], paint: list[float]) -> bool:
    """Print every phase and the aims; True when an invariant broke or a call failed."""
    def line(name: str, values: list[float]) -> str:
        return (f"{name:<8} n={len(values):>6}  p50={percentile(values, 50):7.1f} ms  p95={percentile(values, 95):7.1f} ms"
                f"  p99={percentile(values, 99):7.1f} ms")

    print(f"cores: {os.cpu_count()}, gunicorn {args.workers} workers x {args.threads} threads, "
          f"{args.annotators} annotators, page {args.page}, {args.items} items per campaign")
    failed = False
    for result in results:
        load, invariants, seconds = result["load"], result["invariants"], result["seconds"]
        labels = invariants["acknowledged_labels"]
        result["rate"] = labels / seconds
        how = (f"{args.rate:g} labels/s offered at Poisson times; next counted from the scheduled start"
               if result["phase"] == "open" else f"think {result['think']:g} s per page")
        print(f"\n== {result['phase']} ({how})")
        print(f"campaign_create: {args.items} items in {result['create_seconds']:.2f} s")
        print(f"labels: {labels} in {seconds:.1f} s = {result['rate']:.0f} labels/s")
        if labels:
            per_label = load.server_cpu / labels * 1000
            print(f"server CPU (gunicorn + postgres backends): {load.server_cpu:.1f} s = {per_label:.2f} ms/label"
                  f" -> {2000 / per_label:.0f} labels/s on 2 dedicated cores; client CPU {load.client_cpu:.1f} s;"
                  f" load average now {os.getloadavg()[0]:.1f}")
        print(line("next", load.next_ms))
        print(line("submit", load.submit_ms))
        violations = sum(invariants[k] for k in VIOLATION_KEYS)
        for key, value in invariants.items():
            print(f"  {key}: {value}")
        print(f"errors: {len(load.errors)} {load.errors[:3]}")
        print(f"violations: {violations}")
        failed = failed or bool(violations or load.errors)
    if paint:
        print("\n" + line("paint", paint[1:] or paint) + "  (grid submit key -> next page painted)")
    by_phase = {r["phase"]: r for r in results}
    if "closed" in by_phase and "closed-orm" in by_phase:
        fast, base = by_phase["closed"], by_phase["closed-orm"]
        cpu = [r["load"].server_cpu / max(r["invariants"]["acknowledged_labels"], 1) for r in (fast, base)]
        print(f"\ncapacity, PostgreSQL statements vs ORM statements (closed loop, same run): "
              f"{fast['rate']:.0f} vs {base['rate']:.0f} labels/s = x{fast['rate'] / base['rate']:.2f}; "
              f"server CPU per label {cpu[0] * 1000:.2f} vs {cpu[1] * 1000:.2f} ms = x{cpu[1] / cpu[0]:.2f} less")
    for name in ("paced", "open"):
        if name not in by_phase:
            continue
        result = by_phase[name]
        next_p95, submit_p95 = percentile(result["load"].next_ms, 95), percentile(result["load"].submit_ms, 95)
        met = (result["rate"] >= AIM_LABELS_PER_S and next_p95 < AIM_MS and submit_p95 < AIM_MS and not failed)
        print(f"aim ({name}): >= {AIM_LABELS_PER_S:.0f} labels/s with p95 < {AIM_MS:.0f} ms for next and submit, "
              f"0 violations: {result['rate']:.0f} labels/s, next p95 {next_p95:.1f} ms, submit p95 "
              f"{submit_p95:.1f} ms -> {'met' if met else 'NOT met'}")
    return failed


if __name__ == "__main__":
    main()
