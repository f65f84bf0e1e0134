"""bench/gpu_check.sh: refuses a machine without CUDA at once; its CPU dry run exercises every figure."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.sh"


def _run(*args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no device, even on a GPU host
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)


def test_it_refuses_to_run_without_cuda() -> None:
    out = _run(timeout=120)
    assert out.returncode == 2
    assert "no CUDA device visible to torch" in out.stderr and "--dry-run" in out.stderr
    assert out.stdout == ""


@pytest.mark.slow  # five figures with tiny models on CPU: ~45 s on two loaded cores
def test_it_prints_one_line_per_figure_in_a_cpu_dry_run() -> None:
    out = _run("--dry-run", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("gpu_check on CPU (dry run")
    figures = {line.split(":")[0]: line for line in lines[1:]}
    assert list(figures) == ["embed", "ft_step", "dr_fold", "apply_shard", "zeroshot"]
    assert "images/s" in figures["embed"] and "s/step" in figures["ft_step"] and "samples/s" in figures["apply_shard"]
    assert "FAILED" not in out.stdout
