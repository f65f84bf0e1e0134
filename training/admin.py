from __future__ import annotations

from django.contrib import admin

from .models import EvalResult, TrainGpu, TrainHost, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "backend", "status", "host", "priority", "epoch", "loss", "created_at"]
    list_filter = ["status", "backend"]
    search_fields = ["name"]
    readonly_fields = ["command", "script", "plan", "checkpoints"]


@admin.register(EvalResult)
class EvalResultAdmin(admin.ModelAdmin):
    list_display = ["id", "training_run", "checkpoint", "epoch", "test_set", "clean", "top1", "top5", "n"]
    list_filter = ["clean", "domain"]


class TrainGpuInline(admin.TabularInline):
    model = TrainGpu
    extra = 0
    readonly_fields = ["index", "model", "memory_mb", "run", "allocated_at"]
    can_delete = False


@admin.register(TrainHost)
class TrainHostAdmin(admin.ModelAdmin):
    """Delete a host that will not come back (its row returns if its worker registers again)."""

    list_display = ["name", "status", "gpu_count", "gpu_model", "last_heartbeat", "worker"]
    list_filter = ["status"]
    readonly_fields = ["queue", "gpu_count", "gpu_model", "gpu_memory_mb", "gpu_source", "worker", "registered_at",
                       "last_heartbeat", "lost_at"]
    inlines = [TrainGpuInline]
