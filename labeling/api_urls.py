from __future__ import annotations

from .api import campaigns, consensus, datasets, quality

urlpatterns = [*datasets.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns, *consensus.urlpatterns]
