from __future__ import annotations

from .views import campaigns, consensus, datasets, mywork, quality

urlpatterns = [*datasets.urlpatterns, *campaigns.urlpatterns, *quality.urlpatterns, *consensus.urlpatterns,
               *mywork.urlpatterns]
