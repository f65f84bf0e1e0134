from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .api import HealthApi, TokenApi, UserTokenApi

# Swagger UI with its init code served as a separate script (?script), so script-src 'self' holds;
# its page and bundle set inline styles, which only this page allows.
api_docs = csp_update({"style-src": [SELF, UNSAFE_INLINE]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

api_v1 = [
    path("auth/token/", TokenApi.as_view(), name="api-token"),
    path("auth/tokens/<str:username>/", UserTokenApi.as_view(), name="api-user-token"),
    path("health/", HealthApi.as_view(), name="api-health"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", api_docs, name="api-docs"),
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
