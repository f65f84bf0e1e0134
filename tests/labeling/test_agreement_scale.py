"""End to end at the paper's scale: 31,000 items x 3 labels read from PostgreSQL (slow: bulk setup)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from labeling.models import Annotation, Campaign, CampaignItem, Image
from labeling.selectors.quality import campaign_agreement, export_frame
from tests.conftest import ANNOTATOR, make_user
from tests.factories import make_dataset

N_ITEMS = 31_000


@pytest.mark.slow
def test_it_computes_campaign_agreement_for_31000_items_in_seconds(db, researcher) -> None:
    dataset = make_dataset()
    Image.objects.bulk_create(
        [Image(dataset=dataset, sha256=f"{i:064x}", file="x", thumb="x", width=1, height=1, format="JPEG",
               size_bytes=1, uid=f"{i:032x}", source=f"s{i}") for i in range(N_ITEMS)], batch_size=5000)
    campaign = Campaign.objects.create(name="scale", k=3, created_by=researcher)
    campaign.datasets.add(dataset)
    CampaignItem.objects.bulk_create([CampaignItem(campaign=campaign, image_id=i, target_k=3, labels_count=3)
                                      for i in Image.objects.values_list("id", flat=True)], batch_size=5000)
    users = [make_user(f"scale{r}", ANNOTATOR) for r in range(6)]
    rng = np.random.default_rng(0)
    names = campaign.label_names
    rows = []
    for item_id in CampaignItem.objects.filter(campaign=campaign).values_list("id", flat=True):
        truth = rng.integers(0, 3)
        for r in rng.choice(6, 3, replace=False):
            label = truth if rng.random() > 0.2 else rng.integers(0, 3)
            rows.append(Annotation(item_id=item_id, annotator=users[r], label=names[label]))
    Annotation.objects.bulk_create(rows, batch_size=10000)
    start = time.perf_counter()
    report = campaign_agreement(campaign=campaign, n_boot=1000)
    elapsed = time.perf_counter() - start
    assert report["fleiss_kappa"]["n_items"] == N_ITEMS
    assert elapsed < 5.0, f"agreement took {elapsed:.2f}s"
    start = time.perf_counter()
    frame = export_frame(campaign=campaign)
    export_seconds = time.perf_counter() - start
    assert len(frame) == N_ITEMS
    print(f"\nagreement of 31,000 x 3 from PostgreSQL: {elapsed:.2f}s; export rows: {export_seconds:.2f}s")
