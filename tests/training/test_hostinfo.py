"""How a train host finds its GPUs: a declaration, or nvidia-smi (here a script on PATH printing
what nvidia-smi prints on an 8 x A100 host), limited by the worker's CUDA_VISIBLE_DEVICES."""
from __future__ import annotations

from pathlib import Path

import pytest

from training.hostinfo import HostInfoError, discover_gpus, parse_nvidia_smi, visible_subset

SMI_OUTPUT = "".join(f"{i}, GPU-{i}aa{i}-uuid, NVIDIA A100-SXM4-80GB, 81920\n" for i in range(8))


@pytest.fixture
def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "bin" / "nvidia-smi"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\ncat <<'EOF'\n" + SMI_OUTPUT + "EOF\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    return script


def test_it_reads_every_gpu_from_nvidia_smi(fake_smi: Path) -> None:
    gpus, source = discover_gpus()
    assert source == "nvidia-smi" and [g.index for g in gpus] == list(range(8))
    assert {(g.model, g.memory_mb) for g in gpus} == {("NVIDIA A100-SXM4-80GB", 81920)}


def test_it_offers_only_the_devices_the_worker_may_see(fake_smi: Path) -> None:
    gpus, _ = discover_gpus(cuda_visible_devices="6,7")
    assert [g.index for g in gpus] == [6, 7]
    assert [g.index for g in discover_gpus(cuda_visible_devices="GPU-3aa3")[0]] == [3]
    assert discover_gpus(cuda_visible_devices="")[0] == []


def test_it_prefers_a_declaration_and_checks_it(fake_smi: Path) -> None:
    gpus, source = discover_gpus(declared="2", model="H100", memory_mb=81559)
    assert source == "declared" and [(g.index, g.model, g.memory_mb) for g in gpus] == [(0, "H100", 81559),
                                                                                         (1, "H100", 81559)]
    for bad in ("two", "-1", "65"):
        with pytest.raises(HostInfoError, match="TRAIN_HOST_GPUS"):
            discover_gpus(declared=bad)


def test_it_has_no_gpus_without_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert discover_gpus() == ([], "none")


def test_it_skips_lines_it_cannot_read() -> None:
    text = "No devices were found\n0, GPU-x, Tesla T4, 15360\n"
    assert [(g.index, g.memory_mb) for g in parse_nvidia_smi(text)] == [(0, 15360)]
    assert visible_subset(parse_nvidia_smi(text), None)[0].model == "Tesla T4"
