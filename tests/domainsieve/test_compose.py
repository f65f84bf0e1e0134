"""docker-compose.yml is valid and declares the services DESIGN.md names."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _words(command: str | list[str]) -> str:
    return command if isinstance(command, str) else " ".join(command)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_it_passes_docker_compose_config(tmp_path: Path) -> None:
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    result = subprocess.run(["docker-compose", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "gpu-worker", "train-worker"}
    assert "gunicorn" in _words(services["web"]["command"])
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "-Q gpu" in _words(services["gpu-worker"]["command"])


def test_it_keeps_secrets_out_of_the_compose_file() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD:?" in text  # required from the environment, no default
    assert "SECRET_KEY=" not in text
