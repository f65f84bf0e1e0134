"""Fixed-size subsets as the paper trained: make_subset draws N uids once; presets read them once per epoch."""
from __future__ import annotations

import tarfile
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from classifier.apply.subsets import draw_subset, parse_count
from classifier.apply.uids import array_to_uids, derive_uid, load_uid_list, save_uid_list, sorted_uid_array
from tests.training.conftest import write_shards
from training.mixtures import MixtureError, epoch_samples, plan_mixture, preset_sources


def _pool(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """80 samples in 10 shards, their uid list, and key -> uid."""
    shards = tmp_path / "pool"
    write_shards(shards, shards=10, per_shard=8, seed=4)
    key_uid = {}
    for tar_path in sorted(shards.glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            for member in tar:
                if member.name.endswith(".jpg"):
                    key = member.name[:-4]
                    key_uid[key] = derive_uid(meta={}, key=key)[0]
    ids = tmp_path / "pool.npy"
    save_uid_list(ids, key_uid.values())
    return shards, ids, key_uid


def _make_subset(*args: str) -> str:
    out = StringIO()
    call_command("make_subset", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_it_trains_32_epochs_of_random_n_on_exactly_n_distinct_images(tmp_path: Path) -> None:
    shards, ids, key_uid = _pool(tmp_path)
    out = _make_subset("--n", "20", "--seed", "3", "--ids", str(ids), "--shards", str(shards),
                       "--out", str(tmp_path / "random_20.npy"), "--reshard-into", str(tmp_path / "random_20"),
                       "--shard-size", "5")
    assert "drew 20 of 80 uids" in out and "resharded 20 samples into 4 shards" in out
    sources, total = preset_sources("random_20M", pool=str(tmp_path / "random_20"), unit=1)
    plan = plan_mixture(sources, total=total)
    assert not plan.resampled and plan.train_num_samples == 20 and "--dataset-resampled" not in plan.args()
    epochs = epoch_samples(plan, epochs=32)
    seen = {key for epoch in epochs for key in epoch}
    assert len(seen) == 20 and all(sorted(e) == sorted(seen) for e in epochs)  # each image once per epoch
    subset = set(array_to_uids(load_uid_list(tmp_path / "random_20.npy")))
    assert {key_uid[k] for k in seen} == subset

    # The old behaviour, under its explicit name, redraws from the whole pool every epoch.
    sources, total = preset_sources("random_20M_resampled", pool=str(shards), unit=1)
    resampled = plan_mixture(sources, total=total)
    assert resampled.resampled and resampled.train_num_samples == 20
    assert len({k for epoch in epoch_samples(resampled, epochs=32) for k in epoch}) > 40
    # A fixed preset refuses a shard set of the wrong size rather than resampling silently.
    with pytest.raises(MixtureError, match="make_subset --n 20"):
        preset_sources("random_20M", pool=str(shards), unit=1)


@pytest.mark.django_db
def test_it_builds_a_fixed_mixture_from_natural_and_rendition_subsets(tmp_path: Path) -> None:
    write_shards(tmp_path / "nat", shards=4, per_shard=8, seed=1)
    write_shards(tmp_path / "ren", shards=2, per_shard=8, seed=2, flat=True, start=100)
    for name, n in (("nat", 12), ("ren", 4)):
        keys = [m.name[:-4] for p in sorted((tmp_path / name).glob("*.tar")) for m in tarfile.open(p)
                if m.name.endswith(".jpg")]
        save_uid_list(tmp_path / f"{name}.npy", [derive_uid(meta={}, key=k)[0] for k in keys])
        _make_subset("--n", str(n), "--ids", str(tmp_path / f"{name}.npy"), "--shards", str(tmp_path / name),
                     "--out", str(tmp_path / f"{name}_sub.npy"), "--reshard-into", str(tmp_path / f"{name}_sub"))
    sources, total = preset_sources("mix_3_1", natural=str(tmp_path / "nat_sub"), rendition=str(tmp_path / "ren_sub"),
                                    unit=4)
    plan = plan_mixture(sources, total=total)
    assert not plan.resampled and plan.upsampling_factors is None and plan.train_num_samples == 16
    epochs = epoch_samples(plan, epochs=3)
    assert len({k for e in epochs for k in e}) == 16 and all(len(e) == 16 for e in epochs)


def test_it_draws_the_same_subset_for_the_same_seed_whatever_the_pool_order() -> None:
    uids = [f"{i:032x}" for i in range(1000)]
    pool = sorted_uid_array(uids)
    shuffled = pool[np.random.default_rng(1).permutation(len(pool))]
    a, b = draw_subset(pool, 100, seed=7), draw_subset(shuffled, 100, seed=7)
    assert np.array_equal(a, b) and len(np.unique(a)) == 100
    assert not np.array_equal(a, draw_subset(pool, 100, seed=8))
    exclude = sorted_uid_array(uids[:500])
    kept = set(array_to_uids(draw_subset(pool, 400, seed=7, exclude=exclude)))
    assert len(kept) == 400 and not kept & set(uids[:500])
    assert parse_count("57M") == 57_000_000 and parse_count("2.5K") == 2500


@pytest.mark.django_db
def test_it_refuses_bad_subset_requests(tmp_path: Path) -> None:
    _, ids, key_uid = _pool(tmp_path)
    exclude = tmp_path / "contaminated.npy"
    save_uid_list(exclude, list(key_uid.values())[:70])
    with pytest.raises(CommandError, match="asked for 20 uids but the pool holds 10 after exclusion"):
        _make_subset("--n", "20", "--ids", str(ids), "--exclude", str(exclude), "--out", str(tmp_path / "s.npy"))
    with pytest.raises(CommandError, match="not a count"):
        _make_subset("--n", "lots", "--ids", str(ids), "--out", str(tmp_path / "s.npy"))
    with pytest.raises(CommandError, match="does not exist"):
        _make_subset("--n", "5", "--ids", str(tmp_path / "nope.npy"), "--out", str(tmp_path / "s.npy"))
    with pytest.raises(CommandError, match="give --ids POOL.npy or --job N"):
        _make_subset("--n", "5", "--out", str(tmp_path / "s.npy"))
    assert not (tmp_path / "s.npy").exists()
