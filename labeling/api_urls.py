from __future__ import annotations

from .api import campaigns, consensus, datasets, files, mywork, quality

urlpatterns = [*datasets.urlpatterns, *files.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns,
               *consensus.urlpatterns, *mywork.urlpatterns]
