"""The Django-free apply pieces: shard reading, uids, scoring, process_shard, summary, cleaning math."""
from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from classifier.apply.clean import clean_testset_scores, table12_csv
from classifier.apply.process import ShardCancelled, process_shard
from classifier.apply.scoring import HeadPair, LinearHead, Thresholds, assign_domains
from classifier.apply.shards import CorruptShardError, ShardPatternError, expand_shards
from classifier.apply.summary import summarize_scores
from classifier.apply.uids import (
    UID_DTYPE,
    array_to_uids,
    derive_uid,
    load_uid_list,
    save_uid_list,
    uid_membership,
)
from tests.classifier.apply_factories import cheap_embed, cheap_heads, write_shard, write_shards

T = Thresholds(natural=0.5, rendition=0.5)


def test_it_expands_brace_patterns_and_globs(tmp_path: Path) -> None:
    write_shards(tmp_path, 3, n=2)
    assert [p.name for p in expand_shards(str(tmp_path / "{00000..00002}.tar"))] == ["00000.tar", "00001.tar",
                                                                                      "00002.tar"]
    assert len(expand_shards(str(tmp_path / "*.tar"))) == 3
    assert len(expand_shards(f"{tmp_path}/00000.tar::{tmp_path}/0000[12].tar")) == 3


def test_it_refuses_empty_patterns_and_missing_shards(tmp_path: Path) -> None:
    write_shards(tmp_path, 2, n=2)
    with pytest.raises(ShardPatternError, match="empty"):
        expand_shards("  ")
    with pytest.raises(ShardPatternError, match="1 shard.*00002.tar"):
        expand_shards(str(tmp_path / "{00000..00002}.tar"))
    with pytest.raises(ShardPatternError, match="matches no file"):
        expand_shards(str(tmp_path / "nothing*.tar"))


def test_it_derives_uids_from_json_then_url_then_key() -> None:
    assert derive_uid(meta={"uid": "AB" * 16, "url": "x"}, key="k") == ("ab" * 16, "json")
    assert derive_uid(meta={"url": "http://a/b.jpg"}, key="k") == (hashlib.md5(b"http://a/b.jpg").hexdigest(), "url")
    assert derive_uid(meta={}, key="000010001") == (hashlib.md5(b"000010001").hexdigest(), "key")
    assert derive_uid(meta={"uid": "not-hex", "url": "u"}, key="k")[1] == "url"


def test_it_writes_sorted_datacomp_uid_lists(tmp_path: Path) -> None:
    uids = ["ff" * 16, "00" * 15 + "01", "80" + "00" * 15, "00" * 8 + "ff" * 8]
    n = save_uid_list(tmp_path / "ids.npy", uids)
    loaded = load_uid_list(tmp_path / "ids.npy")
    assert n == 4 and loaded.dtype == np.dtype("u8,u8") == UID_DTYPE
    assert array_to_uids(loaded) == sorted(uids)
    assert tuple(loaded[0]) == (0, 1) and tuple(loaded[-1]) == (2**64 - 1, 2**64 - 1)
    assert uid_membership(loaded, ["ff" * 16, "aa" * 16]).tolist() == [True, False]


def test_it_assigns_domains_with_the_two_head_rule() -> None:
    p_nat = np.array([0.9, 0.1, 0.9, 0.1])
    p_ren = np.array([0.1, 0.9, 0.9, 0.1])
    assert assign_domains(p_nat, p_ren, T).tolist() == ["natural", "rendition", "ambiguous", "ambiguous"]


def test_it_uses_the_ternary_ambiguous_column_or_one_minus_max() -> None:
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    ternary = LinearHead.random(dim=4, classes=["natural", "rendition", "ambiguous"], seed=0)
    binary_n = LinearHead.random(dim=4, classes=["natural", "rest"], seed=1)
    binary_r = LinearHead.random(dim=4, classes=["rendition", "rest"], seed=2)
    n, r, a = HeadPair(ternary, binary_r).score(x)
    assert np.allclose(a, ternary.predict_proba(x)[:, 2])
    n, r, a = HeadPair(binary_n, binary_r).score(x)
    assert np.allclose(a, 1 - np.maximum(n, r))
    with pytest.raises(ValueError, match="needs a 'rendition' class"):
        HeadPair(binary_n, binary_n).score(x)


def test_it_scores_a_shard_into_parquet(tmp_path: Path) -> None:
    metas = write_shard(tmp_path / "00000.tar", shard=0, n=11)
    out = tmp_path / "out" / "00000.parquet"
    result = process_shard(shard_path=tmp_path / "00000.tar", out_path=out, embed_fn=cheap_embed,
                           heads=cheap_heads(), thresholds=T, batch_size=4)
    table = pq.read_table(out).to_pandas()
    assert result.rows == 11 and result.skipped == 0 and result.uid_sources == {"json": 11}
    assert list(table.columns) == ["uid", "key", "shard", "p_natural", "p_rendition", "p_ambiguous", "domain"]
    assert table.uid.tolist() == [m["uid"] for m in metas] and set(table.shard) == {"00000.tar"}
    expected = assign_domains(table.p_natural.to_numpy(), table.p_rendition.to_numpy(), T)
    assert table.domain.tolist() == expected.tolist()
    assert not list(out.parent.glob("*.tmp"))


def test_it_skips_and_counts_corrupt_images_and_samples_without_image(tmp_path: Path) -> None:
    write_shard(tmp_path / "s.tar", shard=0, n=8, corrupt=(2, 5), no_image=(7,), with_uid=False)
    result = process_shard(shard_path=tmp_path / "s.tar", out_path=tmp_path / "s.parquet", embed_fn=cheap_embed,
                           heads=cheap_heads(), thresholds=T, batch_size=3)
    assert (result.rows, result.skipped) == (5, 3)
    assert result.skipped_keys == ["000000002", "000000005", "000000007"]
    assert result.uid_sources == {"url": 5}
    assert pq.read_metadata(tmp_path / "s.parquet").num_rows == 5


def test_it_skips_a_shard_whose_output_exists(tmp_path: Path) -> None:
    write_shard(tmp_path / "s.tar", shard=0, n=4)
    calls = []

    def counting_embed(images: list) -> np.ndarray:
        calls.append(len(images))
        return cheap_embed(images)

    kwargs = dict(shard_path=tmp_path / "s.tar", out_path=tmp_path / "s.parquet", embed_fn=counting_embed,
                  heads=cheap_heads(), thresholds=T)
    first = process_shard(**kwargs)
    second = process_shard(**kwargs)
    assert calls == [4] and second.already_done and second.rows == first.rows == 4


def test_it_fails_a_truncated_shard_without_output(tmp_path: Path) -> None:
    write_shard(tmp_path / "s.tar", shard=0, n=6)
    data = (tmp_path / "s.tar").read_bytes()
    (tmp_path / "s.tar").write_bytes(data[: len(data) // 2 + 100])
    with pytest.raises(CorruptShardError, match="corrupt or truncated"):
        process_shard(shard_path=tmp_path / "s.tar", out_path=tmp_path / "s.parquet", embed_fn=cheap_embed,
                      heads=cheap_heads(), thresholds=T, batch_size=2)
    (tmp_path / "junk.tar").write_bytes(b"this is no tar at all" * 40)
    with pytest.raises(CorruptShardError):
        process_shard(shard_path=tmp_path / "junk.tar", out_path=tmp_path / "j.parquet", embed_fn=cheap_embed,
                      heads=cheap_heads(), thresholds=T)
    assert not (tmp_path / "s.parquet").exists() and not (tmp_path / "j.parquet").exists()


def test_it_stops_between_batches_when_cancelled(tmp_path: Path) -> None:
    write_shard(tmp_path / "s.tar", shard=0, n=10)
    batches = []
    with pytest.raises(ShardCancelled):
        process_shard(shard_path=tmp_path / "s.tar", out_path=tmp_path / "s.parquet", embed_fn=cheap_embed,
                      heads=cheap_heads(), thresholds=T, batch_size=3, on_batch=batches.append,
                      should_cancel=lambda: len(batches) >= 2)
    assert batches == [3, 6] and not (tmp_path / "s.parquet").exists()


def test_it_summarizes_at_strict_and_default_thresholds(tmp_path: Path) -> None:
    paths = write_shards(tmp_path / "in", 3, n=10)
    outs = []
    for i, shard in enumerate(paths):
        out = tmp_path / f"{i}.parquet"
        process_shard(shard_path=shard, out_path=out, embed_fn=cheap_embed, heads=cheap_heads(), thresholds=T)
        outs.append(out)
    strict = Thresholds(natural=0.9, rendition=0.9)
    summary = summarize_scores(outs, strict=strict, default=T, subsets_dir=tmp_path / "subsets")
    frame = __import__("pandas").concat([pq.read_table(o).to_pandas() for o in outs])
    assert summary["total"] == 30
    for level, thr in (("strict", strict), ("default", T)):
        domains = assign_domains(frame.p_natural.to_numpy(), frame.p_rendition.to_numpy(), thr)
        rows = {r["domain"]: r for r in summary["rows"]}
        for d in ("natural", "ambiguous", "rendition"):
            assert rows[d][f"{level}_count"] == int((domains == d).sum())
        assert sum(r[f"{level}_count"] for r in summary["rows"]) == 30
        for d in ("natural", "rendition"):
            ids = load_uid_list(tmp_path / "subsets" / f"{d}_{level}.npy")
            assert array_to_uids(ids) == sorted(frame.uid[domains == d])
    assert [r["domain"] for r in summary["rows"]] == ["natural", "ambiguous", "rendition"]


def test_it_cleans_a_testset_and_masks_empty_classes() -> None:
    p_nat = np.array([0.99, 0.99, 0.2, 0.99, 0.1, 0.99])
    p_ren = np.array([0.0, 0.0, 0.99, 0.99, 0.0, 0.0])
    classes = ["cat", "cat", "dog", "dog", "eel", "fox"]
    result = clean_testset_scores(p_natural=p_nat, p_rendition=p_ren, class_names=classes,
                                  expected_domain="natural", thresholds=Thresholds(0.95, 0.95), rule="two_head")
    assert result.keep.tolist() == [True, True, False, False, False, True]
    paper = clean_testset_scores(p_natural=p_nat, p_rendition=p_ren, class_names=classes,
                                 expected_domain="natural", thresholds=Thresholds(0.95, 0.95))
    assert paper.keep.tolist() == [True, True, False, True, False, True]  # the natural classifier alone decides
    rendition_set = clean_testset_scores(p_natural=p_nat, p_rendition=p_ren, class_names=classes,
                                         expected_domain="rendition", thresholds=Thresholds(0.95, 0.95))
    assert rendition_set.keep.tolist() == [False, False, True, True, False, False]
    assert result.masked_classes == ["dog", "eel"]
    row = result.table12_row("IN-Val")
    assert (row["classes"], row["classes_total"], row["images"], row["images_total"]) == (2, 4, 3, 6)
    assert table12_csv([row]).splitlines()[1] == "IN-Val,2,4,3,6,50.0"
    with pytest.raises(ValueError, match="natural or rendition"):
        clean_testset_scores(p_natural=p_nat, p_rendition=p_ren, class_names=classes, expected_domain="",
                             thresholds=T)


def test_it_reads_tars_written_by_other_tools(tmp_path: Path) -> None:
    # Directory-prefixed members (webdataset keys keep the folder), as some writers produce.
    write_shard(tmp_path / "a.tar", shard=0, n=2)
    with tarfile.open(tmp_path / "a.tar") as src, tarfile.open(tmp_path / "b.tar", "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            member.name = "sub/" + member.name
            dst.addfile(member, __import__("io").BytesIO(data))
    result = process_shard(shard_path=tmp_path / "b.tar", out_path=tmp_path / "b.parquet", embed_fn=cheap_embed,
                           heads=cheap_heads(), thresholds=T)
    assert result.rows == 2
    assert pq.read_table(tmp_path / "b.parquet").column("key").to_pylist() == ["sub/000000000", "sub/000000001"]


def test_it_decodes_in_threads_with_the_same_result(tmp_path: Path) -> None:
    write_shard(tmp_path / "s.tar", shard=0, n=9, corrupt=(4,))
    kwargs = dict(shard_path=tmp_path / "s.tar", embed_fn=cheap_embed, heads=cheap_heads(), thresholds=T,
                  batch_size=4)
    serial = process_shard(out_path=tmp_path / "a.parquet", **kwargs)
    threaded = process_shard(out_path=tmp_path / "b.parquet", decode_threads=3, **kwargs)
    assert (threaded.rows, threaded.skipped_keys) == (serial.rows, serial.skipped_keys) == (8, ["000000004"])
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))


def test_it_reads_a_folder_of_shards_as_its_tars(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"{i:05d}.tar").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    assert [p.name for p in expand_shards(str(tmp_path))] == ["00000.tar", "00001.tar"]
    with pytest.raises(ShardPatternError, match="holds no .tar"):
        expand_shards(str(tmp_path / "empty"))


def test_it_applies_the_one_combination_rule_the_calibration_tests_exercise() -> None:
    from classifier.ml.calibration import combine

    rng = np.random.default_rng(4)
    p_nat, p_ren = rng.random(500), rng.random(500)
    t = Thresholds(0.3, 0.6)
    assert assign_domains(p_nat, p_ren, t).tolist() == combine(p_nat >= 0.3, p_ren >= 0.6).tolist()
