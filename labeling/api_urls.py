from __future__ import annotations

from .api import campaigns, datasets, files, quality

urlpatterns = [*datasets.urlpatterns, *files.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns]
