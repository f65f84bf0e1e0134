"""The local backend: torchrun on this host, started by a ``train``-queue worker, not waited on.

The worker starts ``python -m training.backends.supervise --exit-file ... -- torchrun ...`` in a
new session and returns. Progress comes from the log, the end from the exit file the supervisor
writes. Polls must run on the host that launched (``run.host``); other hosts leave the run alone.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

from ..guards import DispatchRefused, env_check
from . import BackendError, Launched, Polled


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
    command = list(run.command)
    if Path(command[0]).name == "torchrun" and not Path(command[0]).exists():
        command[0] = torchrun_path()  # rendered on the web host; this host's environment may live elsewhere
    argv = [sys.executable, "-m", "training.backends.supervise", "--exit-file", str(exit_path), "--", *command]
    with log_path.open("ab") as log:
        log.write(f"\n=== attempt {run.attempts}: {' '.join(run.command)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(argv, cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise BackendError(f"could not start {run.command[0]}: {exc}") from exc
    return Launched(log_path=str(log_path), pid=proc.pid, host=socket.gethostname())


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
