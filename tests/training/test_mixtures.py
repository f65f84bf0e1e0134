from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.mixtures import (
    MixtureError,
    Source,
    count_samples,
    expand_shards,
    plan_mixture,
    preset_names,
    preset_sources,
)


def test_it_counts_samples_from_tar_headers(shard_sets: dict[str, Path]) -> None:
    assert count_samples(str(shard_sets["natural"])) == 24
    assert count_samples(f"{shard_sets['natural']}/{{00000..00001}}.tar") == 16


def test_it_prefers_sizes_json(shard_sets: dict[str, Path]) -> None:
    (shard_sets["natural"] / "sizes.json").write_text(json.dumps({"00000.tar": 1000, "00001.tar": 1000,
                                                                   "00002.tar": 5}))
    assert count_samples(str(shard_sets["natural"])) == 2005


def test_it_realizes_a_ratio_with_upsampling_factors(shard_sets: dict[str, Path]) -> None:
    # 24 natural, 8 rendition samples; ask for 1:1 over 16 per epoch.
    plan = plan_mixture([Source("natural", str(shard_sets["natural"]), ratio=1),
                         Source("rendition", str(shard_sets["rendition"]), ratio=1)], total=16)
    assert plan.resampled
    assert plan.train_num_samples == 16
    w_nat, w_ren = (float(w) for w in plan.upsampling_factors.split("::"))
    # Share of samples from a source is proportional to n_i * w_i (OpenCLIP draws shards).
    assert 24 * w_nat == pytest.approx(8 * w_ren)
    assert w_ren == pytest.approx(2.0) and w_nat == pytest.approx(2 / 3)
    assert plan.train_data == f"{shard_sets['natural']}/{{00000..00002}}.tar::{shard_sets['rendition']}/00000.tar"
    args = plan.args()
    assert args[args.index("--train-data-upsampling-factors") + 1] == plan.upsampling_factors
    assert "--dataset-resampled" in args


def test_it_takes_absolute_counts(shard_sets: dict[str, Path]) -> None:
    plan = plan_mixture([Source("natural", str(shard_sets["natural"]), count=12),
                         Source("rendition", str(shard_sets["rendition"]), count=4)])
    assert plan.train_num_samples == 16
    assert [s["per_epoch"] for s in plan.sources] == [12, 4]
    w_nat, w_ren = (float(w) for w in plan.upsampling_factors.split("::"))
    assert (24 * w_nat) / (8 * w_ren) == pytest.approx(3.0)


def test_it_needs_no_resampling_for_all_data_once(shard_sets: dict[str, Path]) -> None:
    plan = plan_mixture([Source("natural", str(shard_sets["natural"]))])
    assert not plan.resampled and plan.upsampling_factors is None and plan.train_num_samples == 24


def test_it_refuses_a_ratio_the_sources_cannot_meet(shard_sets: dict[str, Path]) -> None:
    with pytest.raises(MixtureError, match="'rendition' holds 8 samples but the mixture needs 12"):
        plan_mixture([Source("natural", str(shard_sets["natural"]), ratio=1),
                      Source("rendition", str(shard_sets["rendition"]), ratio=1)], total=24)
    # Allowed when repeats are accepted, with a warning.
    plan = plan_mixture([Source("natural", str(shard_sets["natural"]), ratio=1),
                         Source("rendition", str(shard_sets["rendition"]), ratio=1)], total=24, allow_repeats=True)
    assert "repeats" in plan.warnings[0]


def test_it_refuses_an_empty_source_with_a_share() -> None:
    with pytest.raises(MixtureError, match="has no samples"):
        plan_mixture([Source("a", "x", n_samples=10, ratio=1), Source("b", "y", n_samples=0, ratio=1)],
                     total=5, allow_repeats=True)


def test_it_reports_missing_shards(tmp_path: Path) -> None:
    with pytest.raises(MixtureError, match=r"source .natural.: missing shard .*00000.tar \(and 1 more\)"):
        plan_mixture([Source("natural", f"{tmp_path}/{{00000..00001}}.tar", ratio=1)], total=4)
    with pytest.raises(MixtureError, match="no shards match"):
        count_samples(str(tmp_path))


def test_it_refuses_mixed_ratio_and_count() -> None:
    with pytest.raises(MixtureError, match="either a ratio or a count"):
        plan_mixture([Source("a", "x", n_samples=10, ratio=1), Source("b", "y", n_samples=10, count=3)])


def test_it_builds_paper_presets(shard_sets: dict[str, Path]) -> None:
    assert {"laion_natural", "random_57M", "mix_44_13", "mix_8_8", "mix_0_8"} <= set(preset_names())
    # Fixed subsets: natural holds 24 samples, rendition 8, so mix_3_1 at 8 per "M" fits exactly.
    sources, _ = preset_sources("mix_3_1", natural=str(shard_sets["natural"]),
                                rendition=str(shard_sets["rendition"]), unit=8)
    assert [(s.name, s.count) for s in sources] == [("natural", 24), ("rendition", 8)]
    with pytest.raises(MixtureError, match="fixed 12-sample natural subset.*holds 24.*make_subset --n 12"):
        preset_sources("mix_3_1", natural=str(shard_sets["natural"]), rendition=str(shard_sets["rendition"]), unit=4)
    sources, _ = preset_sources("mix_3_1_resampled", natural=str(shard_sets["natural"]),
                                rendition=str(shard_sets["rendition"]), unit=4)
    assert [(s.name, s.count) for s in sources] == [("natural", 12), ("rendition", 4)]
    sources, _ = preset_sources("mix_0_1", rendition=str(shard_sets["rendition"]), unit=8)
    assert [s.name for s in sources] == ["rendition"]
    sources, _ = preset_sources("random_16M_resampled", pool="p")
    assert sources[0].count == 16_000_000
    with pytest.raises(MixtureError, match="unknown preset"):
        preset_sources("mix_a_b")
    with pytest.raises(MixtureError, match="needs the rendition shard set"):
        preset_sources("mix_8_8", natural="n")


def test_it_expands_folders_and_brace_patterns(shard_sets: dict[str, Path]) -> None:
    assert len(expand_shards(str(shard_sets["natural"]))) == 3
    assert len(expand_shards(f"{shard_sets['natural']}/{{00000..00002}}.tar::{shard_sets['rendition']}")) == 4


def test_it_repeats_a_factor_for_every_component_of_a_source(tmp_path: Path) -> None:
    from tests.training.conftest import write_shards

    write_shards(tmp_path / "gappy", shards=1, per_shard=4, start=0)
    write_shards(tmp_path / "gappy", shards=1, per_shard=4, start=7)  # 00000.tar and 00007.tar
    write_shards(tmp_path / "other", shards=1, per_shard=8)
    plan = plan_mixture([Source("a", str(tmp_path / "gappy"), ratio=1), Source("b", str(tmp_path / "other"), ratio=1)],
                        total=8)
    # OpenCLIP asserts one weight per "::" component.
    assert plan.train_data.count("::") == plan.upsampling_factors.count("::") == 2
    assert plan.upsampling_factors.split("::")[0] == plan.upsampling_factors.split("::")[1]


def test_it_reads_the_same_shard_specs_as_apply_jobs(shard_sets: dict[str, Path]) -> None:
    """A glob that an apply job accepts also names a mixture source: counted, and handed to
    OpenCLIP as a brace pattern (OpenCLIP does not glob); a glob without a match is an error."""
    from training.mixtures import shard_components

    folder = shard_sets["natural"]
    assert count_samples(f"{folder}/*.tar") == count_samples(str(folder)) > 0
    assert shard_components(f"{folder}/*.tar") == [f"{folder}/{{00000..00002}}.tar"]
    with pytest.raises(MixtureError, match="no shards match .*nothing"):
        count_samples(f"{folder}/nothing*.tar")
