"""The offline demo set: img2dataset pool + ImageFolder test set built from packaged sample photos."""
from __future__ import annotations

import csv
import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from django.core.management import CommandError, call_command
from PIL import Image

from labeling.demodata import DemoDataError, build_demo_data
from labeling.demodata.build import RECIPES_BY_DOMAIN
from labeling.domains import AMBIGUOUS, NATURAL, RENDITION

OPTIONS = {"n_pool": 60, "n_test": 12, "seed": 3, "size": 128, "shard_size": 25}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("demo") / "set"
    build_demo_data(outdir=outdir, **OPTIONS)
    return outdir


def _pool_records(outdir: Path) -> list[dict]:
    """Every pool sample as webdataset (the reader OpenCLIP uses) decodes it, sorted by key."""
    urls = [str(p) for p in sorted((outdir / "pool").glob("*.tar"))]
    records = []
    for sample in wds.WebDataset(urls, shardshuffle=False):
        records.append({"key": sample["__key__"], "jpg": sample["jpg"], "txt": sample["txt"].decode(),
                        "json": json.loads(sample["json"]), "members": sorted(k for k in sample if not k.startswith("__"))})
    return records


def _texture(jpeg: bytes) -> tuple[float, float]:
    """(share of 8x8 blocks with fine, moderate texture; unique 5-bit colours per pixel)."""
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = (grey.shape[0] // 8) * 8, (grey.shape[1] // 8) * 8
    block_std = grey[:h, :w].reshape(h // 8, 8, w // 8, 8).std(axis=(1, 3))
    quantized = (rgb // 8).astype(np.int64).reshape(-1, 3)
    colours = len(np.unique(quantized @ np.array([1024, 32, 1]))) / len(quantized)
    return float(((block_std > 1.5) & (block_std < 12)).mean()), colours


def test_it_writes_img2dataset_shards_that_webdataset_reads(demo: Path) -> None:
    records = _pool_records(demo)
    assert len(records) == 60
    assert [p.name for p in sorted((demo / "pool").glob("*.tar"))] == ["00000.tar", "00001.tar", "00002.tar"]
    for record in records:
        assert record["members"] == ["jpg", "json", "txt"]
        meta = record["json"]
        assert len(record["key"]) == 9 and record["key"].isdigit() and meta["key"] == record["key"]
        assert meta["url"] == f"https://demo.domainsieve.invalid/{record['key']}.jpg"
        assert len(meta["uid"]) == 32 and int(meta["uid"], 16) >= 0
        assert meta["status"] == "success" and meta["caption"] == record["txt"]
        assert meta["domain"] in (NATURAL, RENDITION, AMBIGUOUS)
        assert meta["recipe"] in RECIPES_BY_DOMAIN[meta["domain"]]
        with Image.open(io.BytesIO(record["jpg"])) as image:
            assert image.size == (meta["width"], meta["height"])
    assert len({r["json"]["uid"] for r in records}) == 60

    for shard in range(3):
        rows = pq.read_table(demo / "pool" / f"{shard:05d}.parquet").to_pylist()
        with tarfile.open(demo / "pool" / f"{shard:05d}.tar") as tar:
            names = tar.getnames()
        keys = [row["key"] for row in rows]
        assert names == [f"{k}.{ext}" for k in sorted(keys) for ext in ("jpg", "txt", "json")]
        assert all(k.startswith(f"{shard:05d}") for k in keys)
        by_key = {r["key"]: r["json"] for r in records}
        for row in rows:
            meta = by_key[row["key"]]
            assert {c: row[c] for c in ("url", "caption", "uid", "width", "height", "domain", "class")} == {
                c: meta[c] for c in ("url", "caption", "uid", "width", "height", "domain", "class")}
        stats = json.loads((demo / "pool" / f"{shard:05d}_stats.json").read_text())
        assert stats["successes"] == stats["count"] == len(rows)


def test_it_writes_a_class_labelled_imagefolder_test_set(demo: Path) -> None:
    with (demo / "testset" / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    classes = {row["class"] for row in rows}
    assert len(classes) == 6
    for row in rows:
        path = demo / "testset" / row["path"]
        assert path.parent.name == row["class"] and path.parent.parent.name == "images"
        with Image.open(path) as image:
            image.load()
            assert max(image.size) <= 128
        assert len(row["uid"]) == 32
    for label in classes:  # each class has the photos and the renditions a cleaning demo needs
        assert {r["domain"] for r in rows if r["class"] == label} >= {NATURAL, RENDITION}
    assert sorted(p.name for p in (demo / "testset" / "images").iterdir()) == sorted(classes)


def test_it_keeps_the_planned_domain_shares_and_uses_every_recipe(demo: Path) -> None:
    records = _pool_records(demo)
    domains = Counter(r["json"]["domain"] for r in records)
    assert domains == {NATURAL: 27, RENDITION: 21, AMBIGUOUS: 12}  # 45 / 35 / 20 %
    recipes = {r["json"]["recipe"] for r in records}
    assert recipes == {name for names in RECIPES_BY_DOMAIN.values() for name in names}
    assert len({r["json"]["class"] for r in records}) >= 4
    summary = json.loads((demo / "summary.json").read_text())
    assert summary["pool_by_domain"] == dict(domains) and summary["options"] == OPTIONS
    readme = (demo / "README.txt").read_text()
    assert "natural    27" in readme and "pencil_grey" in readme


def test_it_renders_renditions_that_lost_the_photo_texture(demo: Path) -> None:
    """A sanity check that real NPR happened: renditions are flatter and use fewer colours than photos."""
    by_domain: dict[str, list[tuple[float, float]]] = {NATURAL: [], RENDITION: []}
    by_recipe: dict[str, list[float]] = {}
    for record in _pool_records(demo):
        meta = record["json"]
        if meta["domain"] in by_domain:
            texture = _texture(record["jpg"])
            by_domain[meta["domain"]].append(texture)
            by_recipe.setdefault(meta["recipe"], []).append(texture[0])
    natural = np.mean(by_domain[NATURAL], axis=0)
    rendition = np.mean(by_domain[RENDITION], axis=0)
    assert rendition[0] < 0.7 * natural[0]
    assert rendition[1] < 0.8 * natural[1]
    for recipe in RECIPES_BY_DOMAIN[RENDITION]:
        assert np.mean(by_recipe[recipe]) < natural[0], recipe


def test_it_is_byte_identical_under_one_seed_and_differs_under_another(tmp_path: Path) -> None:
    small = {"n_pool": 8, "n_test": 4, "size": 96, "shard_size": 5}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        build_demo_data(outdir=tmp_path / name, seed=seed, **small)

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert (tmp_path / "a" / "pool" / "00000.tar").read_bytes() != (tmp_path / "c" / "pool" / "00000.tar").read_bytes()


def test_it_reuses_a_finished_set_and_rebuilds_only_with_force(tmp_path: Path) -> None:
    options = {"outdir": tmp_path / "set", "n_pool": 6, "n_test": 3, "seed": 1, "size": 80, "shard_size": 4}
    first = build_demo_data(**options)
    tar = tmp_path / "set" / "pool" / "00000.tar"
    stamp = tar.stat().st_mtime_ns
    calls: list[int] = []
    again = build_demo_data(**options, progress=calls.append)
    assert again.reused and not first.reused and calls == []
    assert tar.stat().st_mtime_ns == stamp and again.n_pool == 6
    with pytest.raises(DemoDataError, match="other options"):
        build_demo_data(**{**options, "seed": 2})
    rebuilt = build_demo_data(**{**options, "seed": 2}, force=True)
    assert not rebuilt.reused and not (tmp_path / "set" / ".partial-build").exists()
    assert json.loads((tmp_path / "set" / "summary.json").read_text())["options"]["seed"] == 2


def test_it_refuses_to_overwrite_unfinished_or_foreign_output(tmp_path: Path) -> None:
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "mine.txt").write_text("not a demo set")
    with pytest.raises(DemoDataError, match="no finished demo set"):
        build_demo_data(outdir=tmp_path, n_pool=3, n_test=3, seed=0, size=64, shard_size=10)
    assert (tmp_path / "pool" / "mine.txt").exists()


def test_it_runs_as_a_command_with_a_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outdir = tmp_path / "cmd"
    call_command("make_demo_data", str(outdir), "--n-pool", "10", "--n-test", "8", "--size", "80",
                 "--shard-size", "4")
    out = capsys.readouterr().out
    assert out.startswith("wrote 10 pool images in 3 shards (natural 4 / rendition 4 / ambiguous 2) and 8 test "
                          f"images in 4 classes to {outdir}")
    call_command("make_demo_data", str(outdir), "--n-pool", "10", "--n-test", "8", "--size", "80",
                 "--shard-size", "4")
    assert "reused 10 pool images" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--n-pool", "2"], "n_pool must be at least 3"),
    (["--n-test", "0"], "n_test must be at least 3"),
    (["--size", "10"], "size must be between"),
    (["--shard-size", "0"], "shard_size must be between"),
])
def test_it_rejects_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("make_demo_data", str(tmp_path / "x"), *args)
    assert not (tmp_path / "x").exists()


def test_it_rejects_an_outdir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(CommandError, match="not a directory"):
        call_command("make_demo_data", str(target))


def test_it_skips_a_sample_photo_that_would_need_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    from labeling.demodata import sources

    def needs_pooch() -> np.ndarray:
        raise ModuleNotFoundError("requires the optional dependency pooch")

    catalogue = (*sources.CATALOGUE[:3], ("eagle", "an eagle", "skimage.data.eagle", needs_pooch))
    monkeypatch.setattr(sources, "CATALOGUE", catalogue)
    monkeypatch.setattr(sources, "_cache", None)
    with pytest.warns(UserWarning, match=r"skipping skimage\.data\.eagle"):
        photos = sources.load_source_photos()
    assert [p.label for p in photos] == ["astronaut", "coffee", "cat"]
    assert all(p.rgb.dtype == np.uint8 and p.rgb.ndim == 3 and p.rgb.shape[2] == 3 for p in photos)
