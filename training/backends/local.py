"""The local backend: torchrun on this host, started by a ``train``-queue worker, not waited on.

The worker starts ``python -m training.backends.supervise --exit-file ... -- torchrun ...`` in a
new session and returns. Progress comes from the log, the end from the exit file the supervisor
writes. Polls must run on the host that launched (``run.host``); other hosts leave the run alone.
torchrun sees only the GPUs placement allocated (``CUDA_VISIBLE_DEVICES`` from ``run.devices``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

from ..guards import DispatchRefused, env_check
from . import BackendError, Launched, Polled

MARK_HOST = "DOMAINSIEVE_TRAIN_HOST"
MARK_RUN = "DOMAINSIEVE_RUN_ID"
MARK_DIR = "DOMAINSIEVE_RUN_DIR"


def torchrun_path() -> str:
    # The torchrun of this interpreter's environment, so ranks import the same packages.
    candidate = Path(sys.executable).parent / "torchrun"
    return str(candidate) if candidate.exists() else "torchrun"


def run_dir(run: Any) -> Path:
    return Path(run.logs_dir) / run.name


def exit_file(run: Any) -> Path:
    return run_dir(run) / f"exit-{run.attempts}.json"


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _placement_env(run: Any) -> dict[str, str]:
    """torchrun sees only the devices placement gave the run (none for a CPU run), numbered as
    nvidia-smi numbers them; the markers let a returning host find processes it no longer owns."""
    return {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": ",".join(str(int(i)) for i in (run.devices or [])),
        MARK_HOST: str(settings.TRAIN_HOST_NAME),
        MARK_RUN: str(run.id),
        MARK_DIR: str(run_dir(run)),
    }


def live_supervisors(host: str) -> list[tuple[int, int, str]]:
    """``(pid, run_id, run_dir)`` of each live supervisor launched on this host (found through
    ``/proc``: the leader of its process group carrying our markers); empty where there is no
    ``/proc`` or nothing is readable."""
    found = []
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if os.getpgid(pid) != pid or not _pid_alive(pid):
                continue
            raw = (entry / "environ").read_bytes()
        except (OSError, ProcessLookupError):
            continue
        env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        if env.get(MARK_HOST) == host and env.get(MARK_RUN, "").isdigit() and env.get(MARK_DIR):
            found.append((pid, int(env[MARK_RUN]), env[MARK_DIR]))
    return found


def launch(run: Any) -> Launched:
    folder = run_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "launch.log"
    exit_path = exit_file(run)
    exit_path.unlink(missing_ok=True)
    env = dict(os.environ)
    base = str(settings.BASE_DIR)
    env["PYTHONPATH"] = base + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    try:
        # Checked when the run was made; again here, where the process starts.
        env.update(env_check((run.backend_options or {}).get("env", {})))
    except DispatchRefused as exc:
        raise BackendError(str(exc)) from exc
    env.update(_placement_env(run))  # after the run's own env: the allocation always wins
    command = list(run.command)
    if Path(command[0]).name == "torchrun" and not Path(command[0]).exists():
        command[0] = torchrun_path()  # rendered on the web host; this host's environment may live elsewhere
    if settings.TRAIN_LOCAL_STANDIN:
        command = [sys.executable, str(settings.TRAIN_LOCAL_STANDIN)]  # tests: a light process instead
    argv = [sys.executable, "-m", "training.backends.supervise", "--exit-file", str(exit_path), "--", *command]
    with log_path.open("ab") as log:
        log.write(f"\n=== attempt {run.attempts}: {' '.join(run.command)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(argv, cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise BackendError(f"could not start {run.command[0]}: {exc}") from exc
    return Launched(log_path=str(log_path), pid=proc.pid, host=str(settings.TRAIN_HOST_NAME))


def poll(run: Any) -> Polled:
    path = exit_file(run)
    if path.exists():
        info = json.loads(path.read_text())
        code = int(info["exit_code"])
        if run.cancel_requested or info.get("signalled"):
            return Polled(state="cancelled", detail=f"exit {code}", exit_code=code)
        if code == 0:
            return Polled(state="succeeded", detail="exit 0", exit_code=0)
        return Polled(state="failed", detail=f"exit {code}", exit_code=code,
                      error=f"torchrun exited with code {code}")
    if run.pid and not _pid_alive(run.pid):
        return Polled(state="failed", detail="process vanished",
                      error="the training process is gone and left no exit code (host restart or kill -9?)")
    return Polled(state="running", detail="process alive")


def cancel(run: Any) -> None:
    if not run.pid:
        return
    try:
        os.killpg(run.pid, signal.SIGTERM)  # the supervisor leads its own session/process group
    except ProcessLookupError:
        pass
