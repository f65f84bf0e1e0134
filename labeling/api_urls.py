from __future__ import annotations

from .api import campaigns, datasets, files, mywork, quality

urlpatterns = [*datasets.urlpatterns, *files.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns,
               *mywork.urlpatterns]
