from __future__ import annotations

from .views import campaigns, datasets, quality

urlpatterns = [*datasets.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns]
