"""docker-compose.yml is valid and declares the services DESIGN.md names."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "gpu-worker", "train-worker")
DOCKERFILE_UID = "10001"


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
    # Web and every worker run as the Dockerfile's unprivileged user, never root.
    for name in APP_SERVICES:
        user = str(services[name].get("user", ""))
        assert user and user.split(":")[0] not in {"0", "root"}, (name, user)
        assert user.split(":")[0] == DOCKERFILE_UID, (name, user)


def test_it_keeps_secrets_out_of_the_compose_file() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD:?" in text  # required from the environment, no default
    assert "SECRET_KEY=" not in text


def test_it_runs_the_image_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "the Dockerfile sets no USER: every service would run as root"
    final = users[-1].split(":")[0]
    assert final not in {"root", "0"}
    assert any(f"--uid {DOCKERFILE_UID}" in line and final in line for line in lines)
    # The user is set after the last step that needs root (installing, collectstatic, chown).
    last_user = max(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert not any(line.startswith("RUN ") for line in lines[last_user:])


def test_it_sets_the_non_root_user_on_every_app_service() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for name in APP_SERVICES:
        assert str(services[name]["user"]).split(":")[0] == DOCKERFILE_UID, name
