"""Class-name sets: folder keys (WordNet ids, ImageNet-V2 numbers, ObjectNet, DomainNet) -> prompt names."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeling.classnames import ClassNameError, builtin, looks_like_ids, recognize
from labeling.models import Dataset
from tests.labeling.test_import_support import run_import, write_images


def test_it_ships_open_clips_1000_imagenet_names_in_wordnet_id_order() -> None:
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    space = builtin("imagenet-1k")
    assert list(space.names) == list(IMAGENET_CLASSNAMES) and len(space.names) == 1000
    assert list(space.keys) == sorted(space.keys) and space.keys[0] == "n01440764"
    assert space.name_of()["n01440764"] == "tench"
    by_index = builtin("imagenet-1k-index")
    assert by_index.name_of()["0"] == "tench" and by_index.name_of()["999"] == IMAGENET_CLASSNAMES[999]


def test_it_has_the_200_class_subsets_of_imagenet_r_and_a() -> None:
    full = builtin("imagenet-1k").name_of()
    for name in ("imagenet-r", "imagenet-a"):
        space = builtin(name)
        assert len(space.keys) == 200 and all(full[k] == n for k, n in zip(space.keys, space.names, strict=True))
    assert builtin("imagenet-r").keys != builtin("imagenet-a").keys
    assert "goldfish" in builtin("imagenet-r").names  # n01443537 is in IN-R


def test_it_recognizes_keys_by_their_shape_and_the_dataset_name() -> None:
    assert recognize(["n01440764", "n01443537"]).name == "imagenet-1k"
    assert recognize(["n01443537"], hint="ImageNet-R 1k sample").name == "imagenet-r"
    assert recognize(["n01498041"], hint="in-a").name == "imagenet-a"
    assert recognize(["0", "17", "999"]).name == "imagenet-1k-index"
    assert recognize(["cat", "dog"]) is None
    assert recognize(["n01440764"], requested="none") is None
    with pytest.raises(ClassNameError, match="imagenet-r has no class n01440764"):
        recognize(["n01440764"], requested="imagenet-r")  # tench is not an IN-R class
    assert looks_like_ids(["cat", "n01440764", "12"]) == ["n01440764", "12"]


def test_it_reads_objectnets_113_mapped_classes_from_the_download(tmp_path: Path) -> None:
    mappings = tmp_path / "objectnet-1.0" / "mappings"
    mappings.mkdir(parents=True)
    (mappings / "folder_to_objectnet_label.json").write_text(json.dumps(
        {"alarm_clock": "Alarm clock", "air_freshener": "Air freshener", "banana": "Banana"}))
    (mappings / "objectnet_to_imagenet_1k.json").write_text(json.dumps(
        {"Alarm clock": "analog clock; digital clock", "Banana": "banana"}))
    images = tmp_path / "objectnet-1.0" / "images"
    images.mkdir()
    space = recognize(["alarm_clock", "banana", "air_freshener"], search=[images, images.parent])
    assert space.name == "objectnet" and space.keys == ("alarm_clock", "banana")
    assert space.names == ("alarm clock", "banana")


@pytest.mark.django_db
def test_it_names_an_imported_imagefolder_of_wordnet_ids(media_root: Path, tmp_path: Path) -> None:
    for i, wnid in enumerate(["n01440764", "n01443537", "n01484850", "n01491361", "n01494475"]):
        write_images(tmp_path / "inval" / wnid, [i])
    job = run_import(tmp_path / "inval", name="IN-Val-5", kind="testset")
    assert job.options["class_names_applied"] == "imagenet-1k"
    dataset = Dataset.objects.get(name="IN-Val-5")
    assert dataset.class_names["set"] == "imagenet-1k" and len(dataset.class_names["classes"]) == 1000
    # Images keep their folder key; the name comes from the set.
    assert set(dataset.images.values_list("class_name", flat=True)) == {
        "n01440764", "n01443537", "n01484850", "n01491361", "n01494475"}


@pytest.mark.django_db
def test_it_names_domainnet_folders_with_spaces_in_label_order(media_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "domainnet"
    write_images(root / "sketch" / "The_Eiffel_Tower", [1])
    write_images(root / "sketch" / "aircraft_carrier", [2])
    (root / "sketch_test.txt").write_text("sketch/aircraft_carrier/img0002.jpg 0\n"
                                          "sketch/The_Eiffel_Tower/img0001.jpg 1\n")
    job = run_import(root, name="DN-Sketch", kind="testset")
    assert job.options["class_names_applied"] == "domainnet"
    classes = Dataset.objects.get(name="DN-Sketch").class_names["classes"]
    assert classes == [["aircraft_carrier", "aircraft carrier"], ["The_Eiffel_Tower", "The Eiffel Tower"]]


@pytest.mark.django_db
def test_it_fails_an_import_whose_folders_do_not_fit_the_requested_set(media_root: Path, tmp_path: Path) -> None:
    from labeling.services.datasets import dataset_create, import_create, import_run

    write_images(tmp_path / "x" / "n01440764", [1])
    dataset = dataset_create(name="x", kind="testset")
    job = import_run(job=import_create(dataset=dataset, source=str(tmp_path / "x"), class_names="imagenet-r",
                                       enqueue=False))
    assert job.status == "failed" and "imagenet-r has no class n01440764" in job.error


@pytest.mark.django_db
def test_it_names_an_imported_objectnet_download_from_its_mappings(media_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "objectnet-1.0"
    (root / "mappings").mkdir(parents=True)
    (root / "mappings" / "folder_to_objectnet_label.json").write_text(json.dumps(
        {"alarm_clock": "Alarm clock", "air_freshener": "Air freshener"}))
    (root / "mappings" / "objectnet_to_imagenet_1k.json").write_text(json.dumps(
        {"Alarm clock": "analog clock; digital clock"}))
    write_images(root / "images" / "alarm_clock", [1])
    write_images(root / "images" / "air_freshener", [2])
    job = run_import(root / "images", name="ObjectNet", kind="testset")
    assert job.options["class_names_applied"] == "objectnet"
    assert Dataset.objects.get(name="ObjectNet").class_names["classes"] == [["alarm_clock", "alarm clock"]]
