"""Fixtures shared by the labeling tests."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["postgresql", "orm"])
def statement_set(request: pytest.FixtureRequest, settings: object) -> str:
    """Run a test against both versions of the leasing and submit statements: the hand-written
    PostgreSQL ones and the portable ORM ones the SQLite demo uses (same rules, same answers)."""
    settings.LABELING_PG_STATEMENTS = request.param == "postgresql"
    return request.param
