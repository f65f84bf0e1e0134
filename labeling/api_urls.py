"""Labeling REST API: every route, in one place (the API classes live in ``labeling/api/``)."""
from __future__ import annotations

from django.urls import path

from .api import campaigns, consensus, datasets, files, mywork, quality

urlpatterns = [
    # datasets, imports, images
    path("datasets/", datasets.DatasetListApi.as_view(), name="api-dataset-list"),
    path("datasets/<int:dataset_id>/", datasets.DatasetDetailApi.as_view(), name="api-dataset-detail"),
    path("datasets/<int:dataset_id>/images/", datasets.DatasetImagesApi.as_view(), name="api-dataset-images"),
    path("datasets/<int:dataset_id>/imports/", datasets.DatasetImportsApi.as_view(),
         name="api-dataset-imports"),
    path("imports/<int:job_id>/", datasets.ImportDetailApi.as_view(), name="api-import-detail"),
    path("imports/<int:job_id>/rejects/", datasets.ImportRejectsApi.as_view(), name="api-import-rejects"),
    path("images/<int:image_id>/", datasets.ImageDetailApi.as_view(), name="api-image-detail"),
    path("images/<int:image_id>/thumb/", datasets.ImageThumbApi.as_view(), name="api-image-thumb"),
    path("images/<int:image_id>/file/", datasets.ImageFileApi.as_view(), name="api-image-file"),
    # files
    path("files/", files.ImportFilesApi.as_view(), name="api-import-files"),
    # campaigns
    path("campaigns/", campaigns.CampaignListApi.as_view(), name="api-campaign-list"),
    path("campaigns/<int:campaign_id>/", campaigns.CampaignDetailApi.as_view(), name="api-campaign-detail"),
    path("campaigns/<int:campaign_id>/next/", campaigns.CampaignNextApi.as_view(), name="api-campaign-next"),
    path("campaigns/<int:campaign_id>/annotations/", campaigns.CampaignAnnotationsApi.as_view(),
         name="api-campaign-annotations"),
    path("campaigns/<int:campaign_id>/progress/", campaigns.CampaignProgressApi.as_view(),
         name="api-campaign-progress"),
    # quality: agreement, adjudication, gold, snapshots, splits, exports
    path("campaigns/<int:campaign_id>/agreement/", quality.AgreementApi.as_view(),
         name="api-campaign-agreement"),
    path("campaigns/<int:campaign_id>/disagreements/", quality.DisagreementsApi.as_view(),
         name="api-campaign-disagreements"),
    path("campaigns/<int:campaign_id>/adjudications/", quality.AdjudicationsApi.as_view(),
         name="api-campaign-adjudications"),
    path("campaigns/<int:campaign_id>/quality-settings/", quality.QualitySettingsApi.as_view(),
         name="api-campaign-quality-settings"),
    path("campaigns/<int:campaign_id>/gold/", quality.GoldApi.as_view(), name="api-campaign-gold"),
    path("campaigns/<int:campaign_id>/snapshots/", quality.SnapshotListApi.as_view(),
         name="api-campaign-snapshots"),
    path("campaigns/<int:campaign_id>/export/", quality.ExportApi.as_view(), name="api-campaign-export"),
    path("campaigns/<int:campaign_id>/labelstudio-config/", quality.LabelStudioConfigApi.as_view(),
         name="api-campaign-labelstudio-config"),
    path("campaigns/<int:campaign_id>/import/labelstudio/", quality.LabelStudioImportApi.as_view(),
         name="api-campaign-import-labelstudio"),
    path("snapshots/<int:snapshot_id>/", quality.SnapshotDetailApi.as_view(), name="api-snapshot-detail"),
    path("snapshots/<int:snapshot_id>/splits/", quality.SplitListApi.as_view(), name="api-snapshot-splits"),
    path("splits/<int:split_id>/", quality.SplitDetailApi.as_view(), name="api-split-detail"),
    # consensus
    path("campaigns/<int:campaign_id>/consensus/", consensus.ConsensusApi.as_view(),
         name="api-campaign-consensus"),
    path("campaigns/<int:campaign_id>/label-issues/", consensus.LabelIssuesApi.as_view(),
         name="api-campaign-label-issues"),
    path("campaigns/<int:campaign_id>/relabel/", consensus.RelabelApi.as_view(), name="api-campaign-relabel"),
    path("campaigns/<int:campaign_id>/annotators/<int:user_id>/pause/", consensus.AnnotatorPauseApi.as_view(),
         name="api-campaign-annotator-pause"),
    path("campaigns/<int:campaign_id>/me/quality/", consensus.OwnQualityApi.as_view(),
         name="api-campaign-own-quality"),
    # my work
    path("me/annotations/", mywork.MyAnnotationsApi.as_view(), name="api-my-annotations"),
    path("me/progress/", mywork.MyProgressApi.as_view(), name="api-my-progress"),
]
