"""Splits: deterministic, seeded, stratified, versioned and frozen; test images keep their identity."""
from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from labeling.agreement.splits import TEST, TRAIN, UNUSED, VAL, assign_splits
from labeling.models import ImmutableError, Split
from labeling.selectors.quality import split_assignments
from labeling.services.quality import QualityError, snapshot_create, split_create
from tests.labeling.quality_helpers import labelled_campaign

N, R, A = "natural", "rendition", "ambiguous"


def test_it_reproduces_the_paper_preset_at_full_size() -> None:
    # The paper's 19,000 LAION images: 13,000 train + 3,000 val + 3,000 test, val/test balanced.
    labels = np.repeat([0, 1, 2], [7268 + 2000, 2978 + 2000, 2754 + 2000])
    keys = np.arange(labels.size) * 7919 + 11
    codes = assign_splits(keys=keys, labels=labels, n_classes=3, seed=0, preset="paper")
    for subset, per_class in ((VAL, [1000] * 3), (TEST, [1000] * 3)):
        assert np.bincount(labels[codes == subset], minlength=3).tolist() == per_class
    assert np.bincount(labels[codes == TRAIN], minlength=3).tolist() == [7268, 2978, 2754]
    assert (codes == UNUSED).sum() == 0
    shuffled = np.random.default_rng(1).permutation(labels.size)
    again = assign_splits(keys=keys[shuffled], labels=labels[shuffled], n_classes=3, seed=0, preset="paper")
    assert np.array_equal(again, codes[shuffled])  # row order does not matter
    other = assign_splits(keys=keys, labels=labels, n_classes=3, seed=1, preset="paper")
    assert not np.array_equal(other, codes)


def test_it_splits_by_ratio_per_class_and_keeps_test_only_images_out_of_training() -> None:
    labels = np.repeat([0, 1], [100, 50])
    test_only = np.zeros(150, bool)
    test_only[:10] = True
    codes = assign_splits(keys=np.arange(150), labels=labels, n_classes=2, seed=3, preset="ratio",
                          ratios=(0.8, 0.1, 0.1), test_only=test_only)
    assert np.bincount(labels[codes == TEST], minlength=2).tolist() == [9, 5]
    assert np.bincount(labels[codes == VAL], minlength=2).tolist() == [9, 5]
    assert not np.isin(codes[:10], [TRAIN, VAL]).any()
    with pytest.raises(ValueError, match="test subset needs"):
        assign_splits(keys=np.arange(150), labels=labels, n_classes=2, seed=0, preset="paper")


@pytest.fixture
def snapshot(media_root, researcher, admin_user):
    rows = [[N, N]] * 12 + [[R, R]] * 9 + [[A, A]] * 6
    campaign, _, _ = labelled_campaign(labels=rows, owner=researcher)
    return snapshot_create(campaign=campaign, name="snap", created_by=admin_user)


def test_it_versions_splits_and_keeps_test_images_in_test(snapshot, admin_user) -> None:
    first = split_create(snapshot=snapshot, name="paper-small", preset="paper", seed=0, train=10,
                         val_per_class=2, test_per_class=2, created_by=admin_user)
    assert first.version == 1
    assert first.counts["test"] == {N: 2, R: 2, A: 2} and sum(first.counts["train"].values()) == 10
    second = split_create(snapshot=snapshot, name="paper-small", preset="paper", seed=99, train=10,
                          val_per_class=2, test_per_class=2, created_by=admin_user)
    assert (second.version, second.previous_id) == (2, first.id)
    test_before = {i for i, s in split_assignments(first).items() if s == "test"}
    test_after = {i for i, s in split_assignments(second).items() if s == "test"}
    assert test_before == test_after
    assert second.params["kept_test_from_previous"] == 6
    again = split_create(snapshot=snapshot, name="other", preset="paper", seed=0, train=10, val_per_class=2,
                         test_per_class=2, created_by=admin_user)
    assert split_assignments(again) == split_assignments(first)  # same seed, same snapshot: same split
    with pytest.raises(ImmutableError):
        first.delete()


def test_it_refuses_a_split_the_snapshot_cannot_fill(snapshot, admin_user) -> None:
    with pytest.raises(QualityError, match="has 12 images; the test subset needs 1000"):
        split_create(snapshot=snapshot, name="too-big", preset="paper", seed=0, created_by=admin_user)
    assert not Split.objects.exists()


def test_it_makes_splits_from_the_command_and_the_api(snapshot, api, admin_user, researcher) -> None:
    err = StringIO()
    call_command("make_splits", "snap", "--name", "cmd", "--preset", "ratio", "--ratios", "0.6", "0.2", "0.2",
                 "--seed", "5", stdout=StringIO(), stderr=err)
    assert "cmd v1" in err.getvalue()
    with pytest.raises(CommandError, match="no snapshot"):
        call_command("make_splits", "missing", "--name", "x", stdout=StringIO(), stderr=StringIO())
    url = f"/api/v1/snapshots/{snapshot.id}/splits/"
    assert api(researcher).post(url, {"name": "api", "preset": "ratio"}, format="json").status_code == 403
    made = api(admin_user).post(url, {"name": "api", "preset": "ratio", "ratios": [0.6, 0.2, 0.2], "seed": 5},
                                format="json")
    assert made.status_code == 201
    detail = api(researcher).get(f"/api/v1/splits/{made.json()['id']}/?assignments=1").json()
    cmd_split = Split.objects.get(name="cmd")
    assert {int(k): v for k, v in detail["assignments"].items()} == split_assignments(cmd_split)


def test_it_shows_the_splits_page(client, snapshot, admin_user) -> None:
    client.force_login(admin_user)
    response = client.post(f"/snapshots/{snapshot.id}/splits/", {"name": "page", "preset": "ratio",
                                                                  "ratios": "0.8 0.1 0.1", "seed": "1"})
    assert response.status_code == 302
    page = client.get(f"/snapshots/{snapshot.id}/splits/")
    assert b"page v1" in page.content
