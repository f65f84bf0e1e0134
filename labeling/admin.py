"""Django admin for labeling: campaigns and what hangs off them."""
from __future__ import annotations

from django.contrib import admin

from labeling.models import Annotation, AnnotationHistory, Campaign, CampaignItem, ImportedAnnotator, Lease


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "k", "agreement_fraction", "agreement_k", "ordering", "created_at"]
    list_filter = ["status", "ordering"]
    search_fields = ["name"]
    filter_horizontal = ["datasets", "members", "member_groups"]
    readonly_fields = ["created_by", "created_at"]


@admin.register(CampaignItem)
class CampaignItemAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "image", "target_k", "labels_count", "is_gold", "gold_label", "predicted_label"]
    list_filter = ["campaign", "is_gold"]
    raw_id_fields = ["image"]
    list_select_related = ["campaign"]


@admin.register(Lease)
class LeaseAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "annotator", "expires_at"]
    raw_id_fields = ["item"]


class AnnotationHistoryInline(admin.TabularInline):
    model = AnnotationHistory
    extra = 0
    readonly_fields = ["old_label", "new_label", "changed_by", "changed_at"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "annotator", "label", "seconds", "updated_at"]
    list_filter = ["label", "item__campaign"]
    raw_id_fields = ["item"]
    inlines = [AnnotationHistoryInline]


@admin.register(ImportedAnnotator)
class ImportedAnnotatorAdmin(admin.ModelAdmin):
    """Who imported labels belong to; made by imports, never by hand."""

    list_display = ["id", "source", "external_id", "user", "created_by", "created_at"]
    list_filter = ["source"]
    readonly_fields = ["source", "external_id", "user", "created_by", "created_at"]
