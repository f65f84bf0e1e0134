"""Annotators of foreign label files: who imported labels belong to.

A Label Studio export names its own annotators (``completed_by``), people of another system.
Their labels are stored as Annotations of an ImportedAnnotator's user: a user made for the
purpose, inactive, with no password and no role, so it can never log in, lease or be mistaken for
a person of this installation. Agreement, final labels, exports and adjudication read those
annotations like any other, and each one says where it came from (``source``, ``external_id``).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportedAnnotator(models.Model):
    source = models.CharField(max_length=64, help_text="the label source named at import, e.g. vendor-2026-11")
    external_id = models.CharField(max_length=200, blank=True, default="",
                                   help_text="the annotator as the file names them (completed_by); '' if none")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imported_as")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "external_id"],
                                               name="imported_annotator_unique_source_id")]
        ordering = ["source", "external_id"]

    def __str__(self) -> str:
        return f"{self.external_id or '(anonymous)'} of {self.source}"
