"""The Slurm backend against stand-in sbatch/sacct/scancel executables first on PATH."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from training.models import TrainingRun
from training.services.runs import (
    TrainingInputError,
    training_run_cancel,
    training_run_create,
    training_run_launch,
    training_run_poll,
    training_run_resume,
)


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sbatch prints a job id (or fails when SBATCH_FAIL exists); sacct prints the state in
    SACCT_STATE; every call is appended to calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "state"
    scripts = {
        "sbatch": f"""#!/bin/sh
echo "sbatch $@" >> {state}/calls.log
if [ -f {state}/SBATCH_FAIL ]; then echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1; fi
cp "$2" {state}/submitted.sh
echo "4242;cluster"
""",
        "sacct": f"""#!/bin/sh
echo "sacct $@" >> {state}/calls.log
cat {state}/SACCT_STATE
""",
        "scancel": f"""#!/bin/sh
echo "scancel $@" >> {state}/calls.log
""",
    }
    state.mkdir()
    (state / "SACCT_STATE").write_text("")
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return state


def _create(shard_sets: dict[str, Path], **extra: object) -> TrainingRun:
    params = dict(name="slurm-mix", backend="slurm", gpus=4, nodes=2, workers=6,
                  mixture={"sources": [{"name": "natural", "shards": str(shard_sets["natural"]), "count": 12},
                                       {"name": "rendition", "shards": str(shard_sets["rendition"]), "count": 4}]},
                  backend_options={"partition": "booster", "account": "clip", "time": "24:00:00",
                                   "setup": ["source /opt/venv/bin/activate"]})
    params.update(extra)
    return training_run_create(**params)


@pytest.mark.django_db
def test_it_writes_a_reviewable_sbatch_script(media_root: Path, shard_sets: dict[str, Path], fake_slurm: Path) -> None:
    run = _create(shard_sets)
    script = run.script
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gres=gpu:4", "#SBATCH --cpus-per-task=7",
                 "#SBATCH --partition=booster", "#SBATCH --account=clip", "#SBATCH --time=24:00:00",
                 "export CUDA_VISIBLE_DEVICES=0,1,2,3", "source /opt/venv/bin/activate",
                 'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)'):
        assert line in script
    srun = next(line for line in script.splitlines() if line.startswith("srun "))
    assert srun.startswith("srun --cpu_bind=v --accel-bind=gn python -u -m open_clip_train.main ")
    # 16,384 over 4 GPUs x 2 nodes: 2048 per GPU; the mixture's arguments are in the line.
    for part in ("--batch-size 2048", "--accum-freq 1", "--dataset-resampled", "--train-num-samples 16",
                 "--train-data-upsampling-factors", "--epochs 32", "--model ViT-B-32"):
        assert part in srun
    assert run.command == ["sbatch", "--parsable", str(Path(run.logs_dir) / "slurm-mix" / "sbatch.sh")]


@pytest.mark.django_db
def test_it_submits_polls_and_finishes(media_root: Path, shard_sets: dict[str, Path], fake_slurm: Path) -> None:
    run = training_run_launch(run_id=_create(shard_sets).id)
    assert (run.status, run.job_id) == ("running", "4242")
    assert (fake_slurm / "submitted.sh").read_text() == run.script
    (fake_slurm / "SACCT_STATE").write_text("4242|PENDING|0:0\n")
    run = training_run_poll(run=run)
    assert (run.status, run.state_detail) == ("running", "PENDING")
    # The job's log shows progress; a checkpoint appears.
    Path(run.log_path).write_text("2026 | INFO | Train Epoch: 1 [ 8192/16 (50%)] Data (t): 0.1 LR: 0.1 "
                                  "Logit Scale: 14.0 Contrastive_loss: 5.5 (5.6) Loss: 5.5000 (5.6)\n")
    ckpt = Path(run.logs_dir) / run.name / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save({"epoch": 1}, ckpt / "epoch_1.pt")  # a whole checkpoint file (torn ones are not listed)
    (fake_slurm / "SACCT_STATE").write_text("4242|RUNNING|0:0\n4242.batch|RUNNING|0:0\n")
    run = training_run_poll(run=run)
    assert (run.status, run.epoch, run.loss) == ("running", 1, 5.5)
    assert [c["epoch"] for c in run.checkpoints] == [1]
    (fake_slurm / "SACCT_STATE").write_text("4242|COMPLETED|0:0\n")
    run = training_run_poll(run=run)
    assert run.status == "succeeded" and run.exit_code == 0 and run.finished_at
    assert "sacct -j 4242 --format=JobID,State,ExitCode --parsable2 --noheader -X" in (fake_slurm / "calls.log").read_text()


@pytest.mark.django_db
@pytest.mark.parametrize("state,status", [("FAILED|1:0", "failed"), ("TIMEOUT|0:15", "failed"),
                                          ("OUT_OF_MEMORY|0:125", "failed"), ("CANCELLED by 1000|0:15", "cancelled")])
def test_it_parses_final_states(media_root: Path, shard_sets: dict[str, Path], fake_slurm: Path, state: str,
                                status: str) -> None:
    run = training_run_launch(run_id=_create(shard_sets).id)
    (fake_slurm / "SACCT_STATE").write_text(f"4242|{state}\n")
    run = training_run_poll(run=run)
    assert run.status == status
    if status == "failed":
        assert f"Slurm job 4242 ended {state.split('|')[0]}" in run.error


@pytest.mark.django_db
def test_it_surfaces_an_sbatch_failure(media_root: Path, shard_sets: dict[str, Path], fake_slurm: Path) -> None:
    (fake_slurm / "SBATCH_FAIL").write_text("")
    run = training_run_launch(run_id=_create(shard_sets).id)
    assert run.status == "failed"
    assert "sbatch failed (exit 1): sbatch: error: Batch job submission failed: Invalid partition name" in run.error


@pytest.mark.django_db
def test_it_refuses_slurm_without_sbatch(media_root: Path, shard_sets: dict[str, Path],
                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TrainingInputError, match="sbatch not found on PATH"):
        _create(shard_sets)
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_it_cancels_with_scancel_and_resumes_latest(media_root: Path, shard_sets: dict[str, Path],
                                                    fake_slurm: Path) -> None:
    run = training_run_launch(run_id=_create(shard_sets).id)
    training_run_cancel(run=run)
    assert "scancel 4242" in (fake_slurm / "calls.log").read_text()
    (fake_slurm / "SACCT_STATE").write_text("4242|CANCELLED by 0|0:0\n")
    run = training_run_poll(run=TrainingRun.objects.get(pk=run.pk))
    assert run.status == "cancelled" and run.cancel_requested
    run = training_run_resume(run=run)
    assert run.status == "queued" and "--resume latest" in run.script
    run = training_run_launch(run_id=run.id)
    assert run.status == "running" and run.attempts == 2
    assert "--resume latest" in (fake_slurm / "submitted.sh").read_text()


@pytest.mark.django_db
def test_it_refuses_script_options_that_span_lines(media_root: Path, shard_sets: dict[str, Path],
                                                  fake_slurm: Path) -> None:
    options = {"partition": "booster\n#SBATCH --uid=0", "account": "clip"}
    with pytest.raises(TrainingInputError, match="one line"):
        _create(shard_sets, backend_options=options)
    with pytest.raises(TrainingInputError, match="one line"):
        _create(shard_sets, backend_options={"setup": ["module load cuda\nrm -rf /data"]})
    assert not TrainingRun.objects.exists()
    assert not (fake_slurm / "calls.log").exists()
