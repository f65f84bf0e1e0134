from __future__ import annotations

import pytest

from training.specs import MODEL_CONFIG_DIR, BatchSplit, RunSpec, SpecError, split_batch


def test_it_splits_the_paper_batch_over_gpus() -> None:
    assert split_batch(global_batch=16384, gpus=8) == BatchSplit(16384, 2048, 1, 8, 1)
    assert split_batch(global_batch=16384, gpus=4, max_per_gpu_batch=1024) == BatchSplit(16384, 1024, 4, 4, 1)
    assert split_batch(global_batch=16384, gpus=8, per_gpu_batch=256) == BatchSplit(16384, 256, 8, 8, 1)
    assert split_batch(global_batch=16384, gpus=4, nodes=2) == BatchSplit(16384, 2048, 1, 4, 2)


def test_it_refuses_a_gpu_count_that_does_not_divide_the_batch() -> None:
    with pytest.raises(SpecError, match="16,384 is not divisible by 3 GPU"):
        split_batch(global_batch=16384, gpus=3)
    with pytest.raises(SpecError, match="per-GPU batch 300 does not divide"):
        split_batch(global_batch=16384, gpus=8, per_gpu_batch=300)


def test_it_renders_the_torchrun_command() -> None:
    spec = RunSpec(name="r", logs_dir="/logs", data_args=["--train-data", "a.tar"], split=BatchSplit(16384, 1024, 2, 8, 1))
    cmd = spec.torchrun_command()
    assert cmd[:6] == ["torchrun", "--nproc_per_node", "8", "-m", "--", "open_clip_train.main"]
    for flag, value in (("--model", "ViT-B-32"), ("--epochs", "32"), ("--batch-size", "1024"), ("--accum-freq", "2"),
                        ("--logs", "/logs"), ("--name", "r"), ("--precision", "amp")):
        assert cmd[cmd.index(flag) + 1] == value
    assert "--resume" not in cmd
    resumed = RunSpec(name="r", logs_dir="/logs", data_args=[], resume=True).torchrun_command()
    assert resumed[resumed.index("--resume") + 1] == "latest"


def test_it_uses_the_launcher_for_a_shipped_model_config() -> None:
    spec = RunSpec(name="r", logs_dir="/l", data_args=[], model="DS-Tiny",
                   model_config=str(MODEL_CONFIG_DIR / "DS-Tiny.json"))
    cmd = spec.torchrun_command()
    assert cmd[5:8] == ["training.launch_openclip", "--model-config", str(MODEL_CONFIG_DIR / "DS-Tiny.json")]
