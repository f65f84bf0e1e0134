"""Jobs of the apply pages said "pending" and "done" where every other job said "queued" and
"succeeded" (domainsieve.jobs.JobStatus): their rows take the shared values. Backwards restores
the old ones (these tables never held "queued" or "succeeded" before)."""
from __future__ import annotations

from django.db import migrations

RENAMED = {"pending": "queued", "done": "succeeded"}
MODELS = ["ApplyJob", "ApplyShard", "CleanTestset", "ReshardJob", "SubsetJob"]


def _rename(apps, mapping: dict[str, str]) -> None:
    for name in MODELS:
        model = apps.get_model("classifier", name)
        for old, new in mapping.items():
            model.objects.filter(status=old).update(status=new)


def forwards(apps, schema_editor):
    _rename(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [("classifier", "0009_job_status_vocabulary")]
    operations = [migrations.RunPython(forwards, backwards)]
