from __future__ import annotations

from django.contrib import admin

from .models import EvalResult, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "backend", "status", "epoch", "loss", "created_at"]
    list_filter = ["status", "backend"]
    search_fields = ["name"]
    readonly_fields = ["command", "script", "plan", "checkpoints"]


@admin.register(EvalResult)
class EvalResultAdmin(admin.ModelAdmin):
    list_display = ["id", "training_run", "checkpoint", "epoch", "test_set", "clean", "top1", "top5", "n"]
    list_filter = ["clean", "domain"]
