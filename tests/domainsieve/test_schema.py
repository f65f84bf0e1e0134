"""The OpenAPI schema covers every endpoint, validates, and builds without warnings."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_it_builds_a_valid_schema_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    for expected in ("/api/v1/auth/token/", "/api/v1/datasets/{id}/images/", "/api/v1/campaigns/{id}/next/",
                     "/api/v1/campaigns/{id}/annotations/", "/api/v1/campaigns/{id}/export/",
                     "/api/v1/classifier-runs/{run_id}/", "/api/v1/apply-jobs/{job_id}/",
                     "/api/v1/training-runs/", "/api/v1/eval-results/", "/api/v1/health/"):
        assert any(p.replace("{campaign_id}", "{id}").replace("{dataset_id}", "{id}") == expected for p in paths), expected
