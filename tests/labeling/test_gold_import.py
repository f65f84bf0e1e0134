"""Gold on import: a manifest's gold_label column makes those images gold items of a campaign."""
from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from labeling.models import CampaignItem, Dataset
from labeling.services.campaigns import CampaignError, campaign_create, campaign_next_items
from tests.labeling.test_import_support import run_import, write_images

pytestmark = pytest.mark.django_db


def _manifest(folder: Path, gold: list[str]) -> Path:
    paths = write_images(folder / "files", range(len(gold)))
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "gold_label"])
        for path, label in zip(paths, gold, strict=True):
            writer.writerow([path.relative_to(folder).as_posix(), label])
    return manifest


def test_it_marks_gold_items_from_the_import(media_root: Path, tmp_path: Path, researcher, annotator) -> None:
    job = run_import(_manifest(tmp_path, ["natural", "", "2", "", "stylistic", ""]), name="golden")
    assert job.imported == 6
    campaign = campaign_create(name="c", datasets=[Dataset.objects.get(name="golden")], user=researcher,
                               gold_rate=0.5)
    gold = dict(CampaignItem.objects.filter(campaign=campaign, is_gold=True)
                .values_list("image__source", "gold_label"))
    assert sorted(gold.values()) == ["ambiguous", "natural", "rendition"]  # names, indices and the paper's alias
    assert CampaignItem.objects.filter(campaign=campaign, is_gold=False).count() == 3
    # gold items are mixed into the annotator's queue at the campaign's gold rate
    page = campaign_next_items(campaign=campaign, annotator=annotator, n=6, rng=random.Random(1))
    assert {item.is_gold for item in page} == {True, False}


def test_it_refuses_an_unknown_gold_label(media_root: Path, tmp_path: Path, researcher) -> None:
    run_import(_manifest(tmp_path, ["natural", "photo-ish"]), name="bad-gold")
    with pytest.raises(CampaignError, match="photo-ish"):
        campaign_create(name="c", datasets=[Dataset.objects.get(name="bad-gold")], user=researcher)
