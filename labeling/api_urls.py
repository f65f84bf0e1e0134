from __future__ import annotations

from .api import campaigns, datasets, mywork, quality

urlpatterns = [*datasets.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns, *mywork.urlpatterns]
