from __future__ import annotations

from django.contrib import admin

from classifier.models import ClassifierRun, EmbeddingSet


@admin.register(EmbeddingSet)
class EmbeddingSetAdmin(admin.ModelAdmin):
    list_display = ["id", "dataset", "extractor", "status", "count", "failed", "created_at"]
    list_filter = ["status", "extractor"]
    readonly_fields = ["path", "dim", "count", "done", "failed", "started_at", "finished_at"]


@admin.register(ClassifierRun)
class ClassifierRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "method", "extractor", "labels_source", "status", "duration_s", "created_at"]
    list_filter = ["status", "method", "labels_source"]
    readonly_fields = ["metrics", "thresholds", "artifacts", "progress", "duration_s", "started_at", "finished_at"]
