"""The Slurm backend: a reviewable sbatch script after OpenCLIP's README (one task per GPU, srun,
MASTER_ADDR from the first node), ``sbatch --parsable`` to submit, ``sacct`` to poll, ``scancel``.

Runs' ``backend_options`` may carry ``partition``, ``account``, ``time`` (``HH:MM:SS``),
``cpus_per_task``, ``python`` (the interpreter on the nodes), ``workdir`` (a checkout of this
project on the shared file system), ``setup`` (shell lines, e.g. activating an environment) and
``sbatch`` (extra ``#SBATCH`` lines).
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings

from . import BackendError, Launched, Polled

# sacct state -> our status; anything not listed (PENDING, RUNNING, REQUEUED, ...) is running.
_FINAL = {
    "COMPLETED": "succeeded",
    "CANCELLED": "cancelled",
    "FAILED": "failed",
    "TIMEOUT": "failed",
    "OUT_OF_MEMORY": "failed",
    "NODE_FAIL": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
    "PREEMPTED": "failed",
    "REVOKED": "failed",
}
TIMEOUT_S = 60


def script_path(run: Any) -> Path:
    return Path(run.logs_dir) / run.name / "sbatch.sh"  # the current attempt's script


def log_path(run: Any) -> Path:
    return Path(run.logs_dir) / run.name / "slurm.log"


def _one_line(value: object, what: str) -> str:
    """Script options are single lines: a newline would smuggle extra directives or commands."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise BackendError(f"slurm option {what} must be one line, got {text!r}")
    return text


def build_script(run: Any, python_command: list[str]) -> str:
    opts = dict(run.backend_options or {})
    for key in ("account", "partition", "time", "workdir"):
        if opts.get(key):
            _one_line(opts[key], key)
    for key in ("sbatch", "setup"):
        for line in opts.get(key, []):
            _one_line(line, key)
    gpus = int(run.gpus)
    lines = [
        "#!/bin/bash -x",
        f"#SBATCH --job-name={run.name}",
        f"#SBATCH --nodes={int(run.nodes)}",
        f"#SBATCH --ntasks-per-node={gpus}",
        f"#SBATCH --gres=gpu:{gpus}",
        f"#SBATCH --cpus-per-task={int(opts.get('cpus_per_task', int(run.workers) + 1))}",
        "#SBATCH --wait-all-nodes=1",
        f"#SBATCH --output={log_path(run)}",
        "#SBATCH --open-mode=append",
    ]
    for key, flag in (("account", "account"), ("partition", "partition"), ("time", "time")):
        if opts.get(key):
            lines.append(f"#SBATCH --{flag}={opts[key]}")
    lines += [f"#SBATCH {extra}" for extra in opts.get("sbatch", [])]
    lines += ["", "set -euo pipefail", *opts.get("setup", [])]
    lines += [
        f"export CUDA_VISIBLE_DEVICES={','.join(str(i) for i in range(gpus))}",
        "export MASTER_PORT=${MASTER_PORT:-12802}",
        'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"cd {shlex.quote(str(opts.get('workdir', settings.BASE_DIR)))}",
        'export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"',
        "",
        "srun --cpu_bind=v --accel-bind=gn " + shlex.join(python_command),
        "",
    ]
    return "\n".join(lines)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    if shutil.which(argv[0]) is None:
        raise BackendError(f"{argv[0]} not found on PATH: is this worker on a Slurm login node?")
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"{argv[0]} did not answer in {TIMEOUT_S}s") from exc


def check_available() -> None:
    if shutil.which("sbatch") is None:
        raise BackendError("sbatch not found on PATH: the slurm backend needs a Slurm login node")


def launch(run: Any) -> Launched:
    path = script_path(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.script)
    path.chmod(0o755)
    done = _run(["sbatch", "--parsable", str(path)])
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip() or "no output"
        raise BackendError(f"sbatch failed (exit {done.returncode}): {message}")
    job_id = done.stdout.strip().splitlines()[-1].split(";")[0].strip() if done.stdout.strip() else ""
    if not job_id.split("_")[0].isdigit():
        raise BackendError(f"sbatch returned no job id: {done.stdout.strip()!r}")
    return Launched(log_path=str(log_path(run)), job_id=job_id)


def parse_sacct(text: str, job_id: str) -> tuple[str, str] | None:
    """(state, exit code) of the job's own line in ``sacct --parsable2 --noheader`` output."""
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 3 and parts[0] == job_id:
            return parts[1].split()[0], parts[2]  # "CANCELLED by 1234" -> CANCELLED
    return None


def poll(run: Any) -> Polled:
    done = _run(["sacct", "-j", run.job_id, "--format=JobID,State,ExitCode", "--parsable2", "--noheader", "-X"])
    if done.returncode != 0:
        raise BackendError(f"sacct failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")
    parsed = parse_sacct(done.stdout, run.job_id)
    if parsed is None:
        return Polled(state="running", detail="PENDING (not yet in sacct)")
    state, exit_code = parsed
    code = int(exit_code.split(":")[0]) if exit_code.split(":")[0].isdigit() else None
    final = _FINAL.get(state)
    if final is None:
        return Polled(state="running", detail=state)
    if final == "failed":
        return Polled(state="failed", detail=state, exit_code=code,
                      error=f"Slurm job {run.job_id} ended {state} (exit {exit_code})")
    return Polled(state=final, detail=state, exit_code=code)


def cancel(run: Any) -> None:
    if not run.job_id:
        return
    done = _run(["scancel", run.job_id])
    if done.returncode != 0:
        raise BackendError(f"scancel failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")
