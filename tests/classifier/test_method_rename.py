"""Runs made as "dr-*" before the published DR existed were one-vs-rest logistic regressions: the data
migration renames them logreg-*, and their pickles keep scoring as such."""
from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from classifier.ml.methods import ALL_METHODS, RENAME_NOTE
from classifier.models import ClassifierRun

pytestmark = pytest.mark.django_db


def test_it_renames_old_dr_runs_to_logreg_and_back() -> None:
    migration = importlib.import_module("classifier.migrations.0006_rename_ovr_logreg_methods")
    common = dict(labels_source="intended_domain", classes=["rendition"], status="succeeded", extractor="x")
    old = ClassifierRun.objects.create(name="old", method="dr-R", **common)
    other = ClassifierRun.objects.create(name="other", method="knn-R", **common)
    migration.forwards(apps, None)
    old.refresh_from_db(), other.refresh_from_db()
    assert (old.method, other.method) == ("logreg-R", "knn-R")
    migration.backwards(apps, None)
    old.refresh_from_db()
    assert old.method == "dr-R"


def test_it_offers_both_names_and_says_what_changed(client: object, researcher: object) -> None:
    assert {"dr-N", "dr-R", "dr-ft-N", "dr-ft-R", "logreg-N", "logreg-R"} <= set(ALL_METHODS)
    client.force_login(researcher)
    page = client.get("/classifier/runs/").content.decode()
    assert "logreg-R" in page and "one-vs-rest logistic regressions" in page and "logreg-N/logreg-R" in RENAME_NOTE
