from __future__ import annotations

from .api import campaigns, datasets, quality

urlpatterns = [*datasets.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns]
