from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .api import HealthApi, TokenApi

api_v1 = [
    path("auth/token/", TokenApi.as_view(), name="api-token"),
    path("health/", HealthApi.as_view(), name="api-health"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("labeling.api_urls")),
    path("", include("classifier.api_urls")),
    path("", include("training.api_urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("frontend.urls")),
    path("", include("labeling.urls")),
    path("", include("classifier.urls")),
    path("", include("training.urls")),
]
