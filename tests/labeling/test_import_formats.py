"""import_images: every input format, sampling, deduplication and re-import."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings

from domainsieve.jobs import JobStatus
from labeling.ingest import decode
from labeling.models import Image
from tests.factories import jpeg_bytes
from tests.labeling.test_import_support import rejects, run_import, write_images, write_shard

pytestmark = pytest.mark.django_db


def _files_exist(image: Image) -> bool:
    return (Path(settings.MEDIA_ROOT) / image.file).is_file() and (Path(settings.MEDIA_ROOT) / image.thumb).is_file()


def test_it_imports_a_folder_recursively_with_thumbnails(media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "src", range(3))
    write_images(tmp_path / "src" / "deeper" / "still", range(3, 5), size=(400, 300))
    (tmp_path / "src" / "img0001.jpg").rename(tmp_path / "src" / "photo.jpg")  # top-level image: plain folder
    job = run_import(tmp_path / "src")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.imported, job.duplicates, job.rejected) == (5, 0, 0)
    assert job.options["detected_format"] == "folder"
    images = list(Image.objects.all())
    assert all(_files_exist(image) for image in images)
    big = next(i for i in images if i.width == 400)
    assert big.file == f"images/{big.sha256[:2]}/{big.sha256}.jpg" and big.class_name == ""
    from PIL import Image as PILImage

    with PILImage.open(media_root / big.thumb) as thumb:
        assert max(thumb.size) == settings.THUMBNAIL_SIZE
    assert len(big.uid) == 32 and big.source.endswith(".jpg")


def test_it_reads_class_names_from_an_imagefolder_tree(media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "sketch" / "n01440764", range(2))
    write_images(tmp_path / "sketch" / "n01443537", range(2, 5))
    job = run_import(tmp_path / "sketch", kind="testset")
    assert job.options["detected_format"] == "imagefolder"
    counts = {c: Image.objects.filter(class_name=c).count() for c in ("n01440764", "n01443537")}
    assert counts == {"n01440764": 2, "n01443537": 3}


def test_it_reads_domainnet_lists_and_maps_domains(media_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "domainnet"
    write_images(root / "real" / "cat", [1])
    write_images(root / "clipart" / "cat", [2])
    write_images(root / "sketch" / "dog", [3, 4])
    (root / "real_test.txt").write_text("real/cat/img0001.jpg 0\n")
    (root / "clipart_test.txt").write_text("clipart/cat/img0002.jpg 0\n")
    (root / "sketch_test.txt").write_text("sketch/dog/img0003.jpg 1\n")  # img0004 is not listed
    (root / "sketch_train.txt").write_text("sketch/dog/img0004.jpg 1\n")
    job = run_import(root)
    assert job.options["detected_format"] == "domainnet"
    assert job.imported == 3  # test lists only
    rows = {i.meta["domainnet_domain"]: (i.class_name, i.intended_domain, i.meta["label"]) for i in Image.objects.all()}
    assert rows == {"real": ("cat", "natural", 0), "clipart": ("cat", "rendition", 0), "sketch": ("dog", "rendition", 1)}


def test_it_imports_webdataset_shards_with_their_metadata(media_root: Path, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    write_shard(shards / "00000.tar", [
        {"key": "000000000", "seed": 1, "caption": "a dog on grass", "json": {"uid": "u" * 32}},
        {"key": "000000001", "seed": 2, "caption": "a cartoon cat", "json": {"domain": "rendition", "class": "cat"}},
    ])
    write_shard(shards / "00001.tar", [{"key": "000010000", "seed": 3}])
    write_shard(shards / "00002.tar", [{"key": "000020000", "seed": 4}])  # outside the pattern below
    job = run_import(f"{shards}/{{00000..00001}}.tar")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.imported == 3 and job.options["detected_format"] == "webdataset"
    first = Image.objects.get(key="000000000")
    assert (first.uid, first.caption, first.meta["url"]) == ("u" * 32, "a dog on grass", "https://example.org/000000000.jpg")
    assert first.source == f"{shards}/00000.tar:000000000.jpg"
    second = Image.objects.get(key="000000001")
    assert (second.intended_domain, second.class_name) == ("rendition", "cat")
    assert second.uid == decode_uid("https://example.org/000000001.jpg")  # no uid given: hash of the url
    # a folder source takes every shard
    assert run_import(shards, name="all").imported == 4


def decode_uid(url: str) -> str:
    """The uid an apply job derives for the same shard sample: imports and applies must agree."""
    from classifier.apply.uids import derive_uid

    uid, basis = derive_uid(meta={"url": url}, key="000000001")
    assert basis == "url"
    return uid


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_it_imports_manifests(media_root: Path, tmp_path: Path, kind: str) -> None:
    paths = write_images(tmp_path / "pool" / "files", range(3))
    rows = [
        {"path": "files/img0000.jpg", "caption": "first", "class": "boat", "uid": "id-0", "domain": "natural", "extra": "x"},
        {"path": str(paths[1]), "caption": "", "class": "", "uid": "", "domain": "1", "extra": "y"},
        {"url": f"file://{paths[2]}", "caption": "third", "class": "", "uid": "", "domain": "", "extra": "z"},
    ]
    manifest = tmp_path / "pool" / f"manifest.{kind}"
    if kind == "csv":
        with manifest.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["path", "url", "caption", "class", "uid", "domain", "extra"])
            writer.writeheader()
            writer.writerows(rows)
    elif kind == "jsonl":
        manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        pq.write_table(pa.Table.from_pylist([{"url": "", **row} for row in rows]), manifest)
    job = run_import(manifest)
    assert job.options["detected_format"] == "manifest"
    assert (job.imported, job.rejected) == (3, 0), rejects(job)
    first = Image.objects.get(uid="id-0")
    assert (first.caption, first.class_name, first.intended_domain, first.meta["extra"]) == ("first", "boat", "natural", "x")
    assert Image.objects.get(source=str(paths[1])).intended_domain == "rendition"
    third = Image.objects.get(source=f"file://{paths[2]}")
    assert third.uid == decode_uid(f"file://{paths[2]}")


def test_it_samples_reproducibly_before_decoding(media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "src", range(20))
    picked = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        job = run_import(tmp_path / "src", name=name, sample=5, seed=seed)
        assert job.total == 5 and job.imported == 5
        picked[name] = set(Image.objects.filter(dataset__name=name).values_list("source", flat=True))
    assert picked["a"] == picked["b"]
    assert picked["a"] != picked["c"]


def test_it_dedups_within_a_dataset_and_reports_cross_dataset(media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "one", range(3))
    (tmp_path / "one" / "copy.jpg").write_bytes(jpeg_bytes(seed=0, size=(48, 32)))  # same bytes as img0000
    job = run_import(tmp_path / "one", name="first")
    assert (job.imported, job.duplicates) == (3, 1)
    write_images(tmp_path / "two", [2, 3])  # img0002 is also in "first"
    second = run_import(tmp_path / "two", name="second")
    assert (second.imported, second.duplicates, second.cross_dataset_duplicates) == (2, 0, 1)
    shared = Image.objects.filter(sha256=Image.objects.get(dataset__name="second", source__endswith="img0002.jpg").sha256)
    assert shared.count() == 2 and len({i.file for i in shared}) == 1  # two rows, one file
    with open(Path(second.rejects_path).with_name("duplicates.csv")) as handle:
        assert "dataset first" in handle.read()


def test_it_adds_nothing_and_decodes_nothing_on_reimport(media_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_images(tmp_path / "src", range(4))
    assert run_import(tmp_path / "src").imported == 4

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("re-import must not decode")

    monkeypatch.setattr(decode, "_store", no_decoding)
    again = run_import(tmp_path / "src")
    assert again.status == JobStatus.SUCCEEDED
    assert (again.imported, again.duplicates, again.rejected) == (0, 4, 0)
    assert Image.objects.count() == 4


def test_it_decodes_in_a_worker_pool(media_root: Path, tmp_path: Path, settings: pytest.FixtureRequest) -> None:
    settings.IMPORT_WORKERS = 2
    write_images(tmp_path / "src", range(60))
    (tmp_path / "src" / "zz-broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    job = run_import(tmp_path / "src")
    assert (job.imported, job.rejected, job.done, job.total) == (60, 1, 61, 61)
    assert all(_files_exist(image) for image in Image.objects.all())


def test_it_stores_text_postgres_cannot_hold(media_root: Path, tmp_path: Path) -> None:
    shard = write_shard(tmp_path / "shards" / "00000.tar", [
        {"key": "000000000", "seed": 5, "caption": "nul\x00inside", "json": {"note": "also\x00here"}},
    ], parquet=False)
    job = run_import(shard)
    assert job.imported == 1, job.error
    image = Image.objects.get()
    assert (image.caption, image.meta["note"]) == ("nulinside", "alsohere")


def test_it_keeps_png_and_gif_bytes_and_makes_jpeg_thumbnails(media_root: Path, tmp_path: Path) -> None:
    from PIL import Image as PILImage

    src = tmp_path / "src"
    src.mkdir()
    PILImage.new("RGBA", (300, 100), (255, 0, 0, 0)).save(src / "clear.png")
    PILImage.new("P", (40, 40), 3).save(src / "tiny.gif")
    job = run_import(src)
    assert job.imported == 2, rejects(job)
    png = Image.objects.get(format="PNG")
    assert png.file.endswith(".png") and (media_root / png.file).read_bytes() == (src / "clear.png").read_bytes()
    with PILImage.open(media_root / png.thumb) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (256, 85)
        assert thumb.getpixel((10, 10)) == (255, 255, 255)  # transparency flattened onto white
    assert Image.objects.get(format="GIF").file.endswith(".gif")


def test_it_makes_the_task_safe_to_redeliver(media_root: Path, tmp_path: Path) -> None:
    from labeling.models import Dataset
    from labeling.services.datasets import import_create
    from labeling.tasks.datasets import import_images_task

    write_images(tmp_path / "src", range(3))
    job = import_create(dataset=Dataset.objects.create(name="q"), source=str(tmp_path / "src"), enqueue=False)
    assert import_images_task.run(job.id) == "succeeded"
    assert import_images_task.run(job.id) == "succeeded"  # redelivered after success: nothing happens
    job.refresh_from_db()
    assert job.imported == 3 and Image.objects.count() == 3
    assert import_images_task.run(999999) == "missing"
