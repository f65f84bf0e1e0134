"""Runs named dr-N / dr-R before issue 13 were one-vs-rest logistic regressions fitted once; they
are renamed logreg-N / logreg-R. From now on dr-* is the published cross-fitted density ratio.
Their pickles still say "dr-*" and score as logreg (``classifier.ml.methods.method_kind``)."""
from __future__ import annotations

from django.db import migrations

RENAMED = {"dr-N": "logreg-N", "dr-R": "logreg-R"}


def forwards(apps, schema_editor):
    run = apps.get_model("classifier", "ClassifierRun")
    for old, new in RENAMED.items():
        run.objects.filter(method=old).update(method=new)


def backwards(apps, schema_editor):
    run = apps.get_model("classifier", "ClassifierRun")
    for old, new in RENAMED.items():
        run.objects.filter(method=new).update(method=old)


class Migration(migrations.Migration):
    dependencies = [("classifier", "0005_clean_testset_rule")]
    operations = [migrations.RunPython(forwards, backwards)]
