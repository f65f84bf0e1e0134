"""import_images on bad input: each bad item is rejected with its reason, the rest goes in."""
from __future__ import annotations

import csv
import io
import random
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from domainsieve.jobs import JobStatus
from labeling.ingest import decode
from labeling.models import Image, ImportJob
from tests.factories import jpeg_bytes
from tests.labeling.test_import_support import add_member, png_header_bomb, rejects, run_import, write_images

pytestmark = pytest.mark.django_db


def _no_half_imports(media: Path) -> None:
    """Every row has its file and thumbnail; every stored file has its thumbnail."""
    for image in Image.objects.all():
        assert (media / image.file).is_file() and (media / image.thumb).is_file()
    for stored in (media / "images").rglob("*"):
        if stored.is_file():
            assert not stored.name.startswith("."), f"temp file left: {stored}"
            assert (media / "thumbs" / stored.parent.name / f"{stored.stem}.jpg").is_file()


def test_it_rejects_each_bad_file_with_its_reason_and_imports_the_rest(media_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_images(src, range(3))
    good = jpeg_bytes(seed=99, size=(300, 200))
    (src / "truncated.jpg").write_bytes(good[: len(good) // 2])
    # Seeded garbage: some random scans still decode (as noise), so the bytes must be fixed.
    garbage = random.Random(0)
    (src / "corrupt.jpg").write_bytes(good[:700] + garbage.randbytes(3000))
    (src / "bad-header.jpg").write_bytes(good[:40] + garbage.randbytes(100))
    (src / "empty.jpg").write_bytes(b"")
    (src / "notes.txt").write_text("not an image")
    (src / "bomb.png").write_bytes(png_header_bomb())
    (src / "escape.jpg").symlink_to("/etc/hostname")
    job = run_import(src)
    assert job.status == JobStatus.SUCCEEDED
    assert (job.imported, job.rejected) == (3, 7)
    reasons = {Path(source).name: reason for source, reason in rejects(job).items()}
    assert "truncated" in reasons["truncated.jpg"]
    assert reasons["corrupt.jpg"].startswith("cannot decode")
    assert reasons["bad-header.jpg"] == "corrupt JPEG header"
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert reasons["notes.txt"].startswith("not an image")
    assert reasons["bomb.png"].startswith("decompression bomb")
    assert reasons["escape.jpg"] == "path escapes the import root"
    _no_half_imports(media_root)


def test_it_applies_the_configured_pixel_limit(media_root: Path, tmp_path: Path, settings: pytest.FixtureRequest) -> None:
    settings.MAX_IMAGE_PIXELS = 100 * 100
    write_images(tmp_path / "src", [1], size=(40, 40))
    write_images(tmp_path / "src", [2], size=(200, 100))
    job = run_import(tmp_path / "src")
    assert (job.imported, job.rejected) == (1, 1)
    assert list(rejects(job).values()) == ["decompression bomb: 200x100 pixels exceeds the limit of 10000"]


def test_it_rejects_unreadable_and_escaping_tar_members(media_root: Path, tmp_path: Path) -> None:
    shard = tmp_path / "shards" / "00000.tar"
    shard.parent.mkdir()
    with tarfile.open(shard, "w") as tar:
        add_member(tar, "000000000.jpg", jpeg_bytes(seed=1))
        add_member(tar, "../000000001.jpg", jpeg_bytes(seed=2))
        link = tarfile.TarInfo("000000002.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        add_member(tar, "000000003.jpg", jpeg_bytes(seed=3, size=(400, 300)))
    data = shard.read_bytes()
    shard.write_bytes(data[: data.index(jpeg_bytes(seed=3, size=(400, 300))) + 500])  # last member cut short
    job = run_import(shard)
    assert (job.imported, job.rejected) == (1, 3), rejects(job)
    reasons = rejects(job)
    assert reasons[f"{shard}:../000000001.jpg"] == "path escapes the import root"
    assert reasons[f"{shard}:000000002.jpg"] == "unreadable tar member: not a regular file"
    assert reasons[f"{shard}:000000003.jpg"] == "unreadable tar member: data truncated"


def test_it_reports_a_shard_that_is_not_a_tar_and_goes_on(media_root: Path, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    with tarfile.open(shards / "00000.tar", "w") as tar:
        add_member(tar, "000000000.jpg", jpeg_bytes(seed=1))
    (shards / "00001.tar").write_bytes(b"this is not a tar archive at all" * 40)
    job = run_import(shards)
    assert (job.imported, job.rejected) == (1, 1)
    assert rejects(job)[str(shards / "00001.tar")].startswith("unreadable tar")


def test_it_rejects_manifest_rows_that_escape_or_need_the_network(media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "pool", [1])
    manifest = tmp_path / "pool" / "list.csv"
    manifest.write_text(
        "path,url,domain\n"
        "img0001.jpg,,natural\n"
        "../../../../etc/hostname,,\n"
        ",https://example.org/a.jpg,\n"
        "missing.jpg,,\n"
        ",,\n"
    )
    job = run_import(manifest)
    assert (job.imported, job.rejected) == (1, 4)
    reasons = sorted(rejects(job).values())
    assert reasons == ["file not found", "path escapes the import root",
                       "remote url not importable (no network access): https://", "row has neither path nor url"]


def test_it_rejects_a_bad_domain_value(media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "pool", [1, 2])
    manifest = tmp_path / "pool" / "list.jsonl"
    manifest.write_text('{"path": "img0001.jpg", "domain": "cartoonish"}\n{"path": "img0002.jpg"}\nnot json\n')
    job = run_import(manifest)
    assert (job.imported, job.rejected) == (1, 2)
    reasons = sorted(rejects(job).values())
    assert reasons[0].startswith("bad domain: unknown label 'cartoonish'")
    assert reasons[1].startswith("malformed JSON line")


def test_it_leaves_no_half_imported_item_when_a_thumbnail_write_fails(
    media_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_images(tmp_path / "src", range(3))
    real_write = decode._write_atomic
    thumb_writes: list[Path] = []

    def disk_full_on_second_thumbnail(path: Path, data: bytes) -> None:
        if path.parent.parent.name == "thumbs":
            thumb_writes.append(path)
            if len(thumb_writes) == 2:
                raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(decode, "_write_atomic", disk_full_on_second_thumbnail)
    job = run_import(tmp_path / "src")
    assert (job.imported, job.rejected) == (2, 1)
    assert list(rejects(job).values()) == ["cannot write thumbnail: No space left on device"]
    failed_sha = thumb_writes[1].stem
    assert not Image.objects.filter(sha256=failed_sha).exists()
    assert not list((media_root / "images").rglob(f"{failed_sha}.*"))  # its file was removed again
    _no_half_imports(media_root)


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("import_images", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_prints_the_one_line_summary(media_root: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "src", range(2))
    (tmp_path / "src" / "bad.jpg").write_bytes(b"nope")
    out = _command(str(tmp_path / "src"), "--dataset", "sketch", "--kind", "testset", "--expected-domain", "rendition")
    job = ImportJob.objects.get()
    assert out.strip() == (f"imported 2, duplicate 0, rejected 1 (cross-dataset duplicates 0); "
                           f"rejects: {job.rejects_path}")
    assert job.dataset.kind == "testset" and job.dataset.expected_domain == "rendition"
    with open(job.rejects_path, newline="") as handle:
        assert list(csv.reader(handle)) == [["source", "reason"], [str(tmp_path / "src" / "bad.jpg"), "not an image (unrecognised format)"]]


@pytest.mark.parametrize("case", ["empty-folder", "all-rejected", "no-usable-column", "outside-roots", "missing"])
def test_it_exits_non_zero_on_wholly_unusable_input(media_root: Path, tmp_path: Path, case: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    expected = {
        "empty-folder": "nothing to import",
        "all-rejected": "every item was rejected (2)",
        "no-usable-column": "has no 'path' or 'url' column (columns: caption, filename)",
        "outside-roots": "is outside the import roots",
        "missing": "does not exist",
    }[case]
    source = str(src)
    if case == "all-rejected":
        (src / "a.jpg").write_bytes(b"")
        (src / "b.txt").write_text("x")
    elif case == "no-usable-column":
        source = str(src / "m.csv")
        Path(source).write_text("filename,caption\na.jpg,hello\n")
    elif case == "outside-roots":
        source = "/etc"
    elif case == "missing":
        source = str(src / "nope")
    with pytest.raises(CommandError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        _command(source, "--dataset", "x")
    assert not Image.objects.exists()


def test_it_refuses_path_traversal_in_the_source(media_root: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="outside the import roots"):
        _command(f"{tmp_path}/../../etc", "--dataset", "x")
    assert settings.IMPORT_ROOTS == [tmp_path]
