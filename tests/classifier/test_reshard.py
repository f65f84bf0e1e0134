"""Resharding a subset from its uid list; OpenCLIP's training data pipeline reads the result."""
from __future__ import annotations

import json
import tarfile
from argparse import Namespace
from pathlib import Path

import pytest

from classifier.apply.reshard import reshard_subset
from classifier.apply.uids import sorted_uid_array
from tests.classifier.apply_factories import write_shards


def test_it_reshards_the_selected_samples_with_counts_and_manifest(tmp_path: Path) -> None:
    sources = write_shards(tmp_path / "src", 3, n=6)
    metas = [json.loads(tarfile.open(s).extractfile(m).read()) for s in sources
             for m in tarfile.open(s).getmembers() if m.name.endswith(".json")]
    chosen = [m["uid"] for m in metas[::2]] + ["ab" * 16]  # 9 present, 1 absent
    result = reshard_subset(uid_list=sorted_uid_array(chosen), source_shards=sources, out_dir=tmp_path / "out",
                            shard_size=4)
    assert (result.samples, result.shards) == (9, 3)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["sizes"] == {"00000.tar": 4, "00001.tar": 4, "00002.tar": 1}
    assert manifest["missing_uids"] == 1 and manifest["pattern"].endswith("{00000..00002}.tar")
    assert json.loads((tmp_path / "out" / "sizes.json").read_text()) == manifest["sizes"]
    names = tarfile.open(tmp_path / "out" / "00000.tar").getnames()
    assert names[:3] == ["000000000.jpg", "000000000.txt", "000000000.json"]
    with pytest.raises(FileExistsError):
        reshard_subset(uid_list=sorted_uid_array(chosen), source_shards=sources, out_dir=tmp_path / "out")


def test_it_feeds_openclip_training_data_pipeline(tmp_path: Path) -> None:
    open_clip = pytest.importorskip("open_clip")
    from open_clip_train.data import get_wds_dataset

    from classifier.ml.extractors import register_tiny_openclip

    sources = write_shards(tmp_path / "src", 2, n=6)
    metas = [json.loads(tarfile.open(s).extractfile(m).read()) for s in sources
             for m in tarfile.open(s).getmembers() if m.name.endswith(".json")]
    result = reshard_subset(uid_list=sorted_uid_array([m["uid"] for m in metas[:8]]), source_shards=sources,
                            out_dir=tmp_path / "out", shard_size=4)
    arch = register_tiny_openclip()
    _, preprocess, _ = open_clip.create_model_and_transforms(arch, pretrained=None)
    args = Namespace(train_data=result.pattern, train_num_samples=None, dataset_resampled=False,
                     train_data_upsampling_factors=None, seed=0, batch_size=4, workers=1, world_size=1)
    data = get_wds_dataset(args, preprocess, is_train=True, tokenizer=open_clip.get_tokenizer(arch))
    assert data.dataloader.num_samples == 8
    images, texts = next(iter(data.dataloader))
    assert tuple(images.shape) == (4, 3, 32, 32) and texts.shape[0] == 4
