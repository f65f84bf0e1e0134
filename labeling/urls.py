"""Labeling pages: every route, in one place (the views live in ``labeling/views/``)."""
from __future__ import annotations

from django.urls import path

from .views import campaigns, consensus, datasets, mywork, quality

urlpatterns = [
    # datasets
    path("datasets/", datasets.dataset_list_page, name="dataset-list"),
    path("datasets/<int:dataset_id>/", datasets.dataset_detail_page, name="dataset-detail"),
    # campaigns
    path("campaigns/", campaigns.campaign_list, name="campaign-list"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign-new"),
    path("campaigns/<int:campaign_id>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/predictions/", campaigns.campaign_predictions,
         name="campaign-predictions"),
    path("campaigns/<int:campaign_id>/settings/", campaigns.campaign_settings, name="campaign-settings"),
    path("campaigns/<int:campaign_id>/status/", campaigns.campaign_status, name="campaign-status"),
    path("campaigns/<int:campaign_id>/members/", campaigns.campaign_members, name="campaign-members"),
    path("campaigns/<int:campaign_id>/grid/", campaigns.campaign_grid, name="campaign-grid"),
    path("campaigns/<int:campaign_id>/single/", campaigns.campaign_single, name="campaign-single"),
    # quality: agreement, adjudication, snapshots, splits
    path("campaigns/<int:campaign_id>/agreement/", quality.agreement_page, name="campaign-agreement"),
    path("campaigns/<int:campaign_id>/adjudicate/", quality.adjudicate_page, name="campaign-adjudicate"),
    path("campaigns/<int:campaign_id>/snapshots/", quality.snapshots_page, name="campaign-snapshots"),
    path("snapshots/<int:snapshot_id>/splits/", quality.splits_page, name="snapshot-splits"),
    # consensus
    path("campaigns/<int:campaign_id>/consensus-settings/", consensus.consensus_settings,
         name="campaign-consensus-settings"),
    path("campaigns/<int:campaign_id>/annotators/<int:user_id>/pause/", consensus.annotator_pause_view,
         name="campaign-annotator-pause"),
    path("campaigns/<int:campaign_id>/agreement/charts/<slug:name>.csv", consensus.chart_csv,
         name="campaign-chart-csv"),
    path("campaigns/<int:campaign_id>/label-issues/", consensus.label_issues_page,
         name="campaign-label-issues"),
    path("campaigns/<int:campaign_id>/me/", consensus.own_quality_page, name="campaign-own-quality"),
    # my work
    path("me/labels/", mywork.my_labels_page, name="my-labels"),
    path("me/progress/", mywork.my_progress_page, name="my-progress"),
]
