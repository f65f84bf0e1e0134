"""Production settings: HTTPS=true hardens the site, `check --deploy` is clean with the settings of
docs/operations.md, and the .env.example placeholder secret is refused outside DEBUG.

Each case imports the real settings module in a fresh interpreter with a chosen environment, as a
production process would start."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STRONG_KEY = "x7Qp-3vL9sKd0Wm2Zr8Yt4Hc6Nb1Jf5Ga_eUiOoPqRsTuVwXyZ0123456789abcd"
# The production environment docs/operations.md ("Production settings") documents.
PRODUCTION = {
    "DEBUG": "false",
    "DJANGO_SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "sieve.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://sieve.example.org",
    "HTTPS": "true",
}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # A clean environment, as a fresh production process has (the test runner sets e.g.
    # DJANGO_ALLOW_ASYNC_UNSAFE for its browser tests).
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update({"DOMAINSIEVE_VAR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                "CELERY_BROKER_URL": "filesystem://localhost//", "DJANGO_SETTINGS_MODULE": "domainsieve.settings"})
    env.update(extra)
    return env


def _settings(env: dict[str, str], names: list[str]) -> dict[str, object]:
    code = ("import json, django; from django.conf import settings; django.setup(); "
            f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}, default=str))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_it_turns_on_hsts_redirect_secure_cookies_and_the_proxy_header_with_https(tmp_path: Path) -> None:
    names = ["SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
             "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    on = _settings(_env(tmp_path, **PRODUCTION), names)
    assert on["SECURE_HSTS_SECONDS"] >= 31536000
    assert on["SECURE_SSL_REDIRECT"] is True and on["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert on["SESSION_COOKIE_SECURE"] is True and on["CSRF_COOKIE_SECURE"] is True
    assert on["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    off = _settings(_env(tmp_path, HTTPS="false"), names)
    # A laptop checkout over plain http keeps working: no redirect, no secure-only cookies.
    assert not off["SECURE_HSTS_SECONDS"] and not off["SECURE_SSL_REDIRECT"]
    assert not off["SESSION_COOKIE_SECURE"] and off["SECURE_PROXY_SSL_HEADER"] is None


def test_it_passes_check_deploy_with_the_documented_production_settings(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO,
                          env=_env(tmp_path, **PRODUCTION), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
    # The documented block really is the one tested here.
    docs = (REPO / "docs" / "operations.md").read_text()
    for name in PRODUCTION:
        assert f"{name}=" in docs


def test_it_fails_check_deploy_without_https(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO,
                          env=_env(tmp_path, **{**PRODUCTION, "HTTPS": "false"}), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode != 0
    assert "SECURE_HSTS_SECONDS" in done.stderr + done.stdout


def _placeholder() -> str:
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.startswith("DJANGO_SECRET_KEY="):
            return line.split("=", 1)[1]
    raise AssertionError(".env.example sets no DJANGO_SECRET_KEY")


@pytest.mark.parametrize("command", [["check"], ["migrate", "--plan"]])
def test_it_refuses_to_start_in_production_with_the_env_example_secret(tmp_path: Path, command: list[str]) -> None:
    env = _env(tmp_path, **{**PRODUCTION, "DJANGO_SECRET_KEY": _placeholder()})
    done = subprocess.run([sys.executable, "manage.py", *command], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and ".env.example placeholder" in done.stderr


def test_it_accepts_the_placeholder_only_in_debug(tmp_path: Path) -> None:
    env = _env(tmp_path, DEBUG="true", DJANGO_SECRET_KEY=_placeholder())
    assert _settings(env, ["DEBUG"])["DEBUG"] is True
