"""Imports read nothing outside IMPORT_ROOTS and nothing larger than IMPORT_MAX_BYTES.

Every file an import opens (tars found in a folder, parquet sidecars, DomainNet list files,
manifest rows) is resolved and checked; patterns are checked before they are expanded, so no
answer depends on what exists elsewhere; images and tar members are size-capped before reading.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from domainsieve.jobs import JobStatus
from labeling.ingest import DecodeConfig, Item, Member
from labeling.ingest.decode import process_item
from labeling.models import Dataset, Image
from tests.factories import jpeg_bytes
from tests.labeling.test_import_support import add_member, rejects, run_import, write_images, write_shard

pytestmark = pytest.mark.django_db


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder beside the import root (IMPORT_ROOTS is the test's tmp_path), never inside it."""
    return tmp_path_factory.mktemp("outside")


def test_it_never_opens_a_tar_that_a_symlink_in_the_folder_points_outside(media_root: Path, tmp_path: Path,
                                                                            outside: Path) -> None:
    write_shard(outside / "00001.tar", [{"key": "000010000", "seed": 11, "caption": "secret"}])
    shards = tmp_path / "shards"
    write_shard(shards / "00000.tar", [{"key": "000000000", "seed": 1}])
    (shards / "00001.tar").symlink_to(outside / "00001.tar")
    job = run_import(shards)
    assert (job.imported, job.rejected) == (1, 1)
    assert rejects(job) == {str(shards / "00001.tar"): "path escapes the import root"}
    assert not Image.objects.filter(caption="secret").exists()


def test_it_never_reads_a_parquet_sidecar_outside_the_root(media_root: Path, tmp_path: Path, outside: Path) -> None:
    shard = write_shard(tmp_path / "shards" / "00000.tar", [{"key": "000000000", "seed": 1}], parquet=False)
    pq.write_table(pa.table({"key": ["000000000"], "url": ["https://secret.example/x.jpg"], "caption": ["secret"],
                             "status": ["success"]}), outside / "meta.parquet")
    shard.with_suffix(".parquet").symlink_to(outside / "meta.parquet")
    job = run_import(shard)
    assert job.imported == 1
    image = Image.objects.get()
    assert "secret" not in image.caption and "secret" not in json.dumps(image.meta)
    reasons = rejects(job)
    assert "path escapes the import root" in reasons[str(shard.with_suffix(".parquet"))]


def test_it_never_reads_a_domainnet_list_outside_the_root(media_root: Path, tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "domainnet"
    write_images(root / "real" / "cat", [1])
    write_images(root / "real" / "dog", [2])
    (outside / "real_test.txt").write_text("real/cat/img0001.jpg 7\n")
    (root / "real_test.txt").symlink_to(outside / "real_test.txt")
    job = run_import(root, fmt="domainnet")
    assert str(root / "real_test.txt") in rejects(job)
    assert rejects(job)[str(root / "real_test.txt")] == "path escapes the import root"
    assert not any("label" in image.meta for image in Image.objects.all())  # nothing came from the list


@pytest.mark.parametrize("row", ["../../../../../../etc/passwd", "file:///etc/passwd", "/etc/passwd"])
def test_it_rejects_manifest_rows_that_leave_the_root(media_root: Path, tmp_path: Path, row: str) -> None:
    folder = tmp_path / "m"
    write_images(folder, [1])
    column = "url" if row.startswith("file:") else "path"
    (folder / "manifest.csv").write_text(f"{column}\nimg0001.jpg\n{row}\n")
    job = run_import(folder / "manifest.csv")
    assert (job.imported, job.rejected) == (1, 1)
    assert list(rejects(job).values()) == ["path escapes the import root"]


def _import_answer(api, researcher, source: str) -> tuple[int, str]:
    dataset = Dataset.objects.get_or_create(name="globs")[0]
    response = api(researcher).post(f"/api/v1/datasets/{dataset.id}/imports/", {"source": source}, format="json")
    return response.status_code, response.content.decode()


def test_it_checks_a_pattern_before_expanding_it(api, researcher, media_root: Path, tmp_path: Path,
                                                 outside: Path) -> None:
    """Whatever exists outside, a pattern that reaches there gets the same refusal, naming nothing
    found there."""
    write_shard(tmp_path / "shards" / "00000.tar", [{"key": "000000000", "seed": 1}])
    climbing = f"{tmp_path}/shards/{{x,../../{outside.name}}}/*.tar"
    before = _import_answer(api, researcher, climbing)
    write_shard(outside / "x" / "secret-00000.tar", [{"key": "000000000", "seed": 2}])
    after = _import_answer(api, researcher, climbing)
    assert before == after and before[0] == 400 and "secret" not in before[1]
    outside_glob = _import_answer(api, researcher, f"{outside}/x/*.tar")
    assert outside_glob[0] == 400 and "outside the import roots" in outside_glob[1] and "secret" not in outside_glob[1]


def test_it_leaves_out_glob_matches_through_a_symlinked_folder(media_root: Path, tmp_path: Path,
                                                               outside: Path) -> None:
    shards = tmp_path / "shards"
    write_shard(shards / "a" / "00000.tar", [{"key": "000000000", "seed": 1}])
    (shards / "b").symlink_to(outside, target_is_directory=True)
    write_shard(outside / "00001.tar", [{"key": "000010000", "seed": 2, "caption": "secret"}])
    job = run_import(f"{shards}/*/*.tar")
    assert job.status == JobStatus.SUCCEEDED and job.imported == 1
    assert not Image.objects.filter(caption="secret").exists()
    assert not any(str(outside) in source or "00001" in source for source in rejects(job))


def test_it_refuses_an_oversized_tar_member_before_reading_it(media_root: Path, tmp_path: Path,
                                                              settings: pytest.FixtureRequest) -> None:
    small, large = jpeg_bytes(seed=1, size=(32, 32)), jpeg_bytes(seed=2, size=(600, 400))
    settings.IMPORT_MAX_BYTES = len(small) + 100
    assert len(large) > settings.IMPORT_MAX_BYTES
    shard = write_shard(tmp_path / "shards" / "00000.tar", [{"key": "000000000", "jpg": small},
                                                            {"key": "000000001", "jpg": large}])
    job = run_import(shard)
    assert (job.imported, job.rejected) == (1, 1)
    (reason,) = rejects(job).values()
    assert reason == f"too large: {len(large)} bytes exceeds the limit of {settings.IMPORT_MAX_BYTES} bytes " \
                     "(IMPORT_MAX_BYTES)"


def test_it_refuses_an_oversized_image_file_before_reading_it(media_root: Path, tmp_path: Path,
                                                              settings: pytest.FixtureRequest) -> None:
    folder = tmp_path / "src"
    write_images(folder, [1], size=(32, 32))
    (folder / "huge.jpg").write_bytes(jpeg_bytes(seed=2, size=(800, 600)))
    settings.IMPORT_MAX_BYTES = (folder / "img0001.jpg").stat().st_size + 100
    job = run_import(folder)
    assert (job.imported, job.rejected) == (1, 1)
    assert rejects(job)[str(folder / "huge.jpg")].startswith("too large: ")


def test_it_caps_the_read_itself_not_only_the_listing(tmp_path: Path) -> None:
    """The worker checks the size from the open file, so a file that grew after listing, or a
    member whose header lies, is refused without being read whole."""
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg_bytes(seed=3, size=(400, 300)))
    cfg = DecodeConfig(media_root=str(tmp_path / "media"), max_bytes=1000, roots=(str(tmp_path),))
    assert process_item(Item(source=str(big), image=Member(str(big))), cfg).reason.startswith("too large")
    with (tmp_path / "t.tar").open("wb") as handle:
        import tarfile

        with tarfile.open(fileobj=handle, mode="w") as tar:
            add_member(tar, "k.jpg", big.read_bytes())
    member = Member(str(tmp_path / "t.tar"), 512, big.stat().st_size)
    assert process_item(Item(source="t.tar:k.jpg", image=member), cfg).reason.startswith("too large")


def test_it_refuses_a_file_swapped_for_a_symlink_after_listing(tmp_path: Path, outside: Path) -> None:
    (outside / "secret.jpg").write_bytes(jpeg_bytes(seed=4))
    listed = tmp_path / "a.jpg"
    listed.symlink_to(outside / "secret.jpg")  # was a regular file when listed
    cfg = DecodeConfig(media_root=str(tmp_path / "media"), roots=(str(tmp_path),))
    assert process_item(Item(source=str(listed), image=Member(str(listed))), cfg).reason == \
        "path escapes the import root"
