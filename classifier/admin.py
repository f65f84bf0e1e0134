from __future__ import annotations

from django.contrib import admin

from classifier.models import ClassifierRun, EmbeddingSet
from classifier.models.neighbours import ContaminationReport, DedupRun, VectorIndex


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


@admin.register(VectorIndex)
class VectorIndexAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "extractor", "factory", "status", "size", "index_bytes", "build_seconds"]
    list_filter = ["status", "extractor"]
    readonly_fields = ["path", "parameters", "rows", "size", "index_bytes", "peak_memory_bytes", "build_seconds",
                       "done", "total", "started_at", "finished_at"]


@admin.register(DedupRun)
class DedupRunAdmin(admin.ModelAdmin):
    list_display = ["id", "index", "thresholds", "status", "created_at"]
    readonly_fields = ["counts", "out_dir", "done", "total", "started_at", "finished_at"]


@admin.register(ContaminationReport)
class ContaminationReportAdmin(admin.ModelAdmin):
    list_display = ["id", "index", "threshold", "status", "exclusion_count", "created_at"]
    readonly_fields = ["summary", "exclusion_path", "exclusion_count", "done", "total", "started_at", "finished_at"]
