"""Label Studio imports: never in a user's name without an explicit mapping, never past k, and a
report of everything skipped with its reason."""
from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from labeling.models import Annotation, Campaign, CampaignItem, ImportedAnnotator
from labeling.selectors.quality import campaign_label_table
from labeling.services.campaigns import campaign_create, campaign_next_items
from labeling.services.labelstudio import labels_import_labelstudio
from tests.factories import make_dataset, make_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(media_root: object, researcher: object) -> Campaign:
    dataset = make_dataset(name="ls-pool")
    make_images(dataset=dataset, n=4)
    return campaign_create(name="ls", datasets=[dataset], k=1, user=researcher)


def _items(campaign: Campaign) -> list[CampaignItem]:
    return list(CampaignItem.objects.filter(campaign=campaign).select_related("image").order_by("id"))


def task(item: CampaignItem, label: str, by: object = None, number: int = 1) -> dict:
    annotation = {"result": [{"type": "choices", "value": {"choices": [label]}}], "was_cancelled": False}
    if by is not None:
        annotation["completed_by"] = by
    return {"id": number, "data": {"image": f"https://ls.example/{item.image_id}.jpg", "uid": item.image.uid},
            "annotations": [annotation]}


def post(api: object, user: object, campaign: Campaign, body: object) -> object:
    return api(user).post(f"/api/v1/campaigns/{campaign.id}/import/labelstudio/", body, format="json")


def test_it_never_writes_labels_in_the_name_a_file_gives(api, researcher, annotator, admin_user,
                                                         campaign: Campaign) -> None:
    items = _items(campaign)
    tasks = [task(items[0], "natural", {"username": "ann"}, 1),
             task(items[1], "rendition", {"id": 99, "email": "adm@x"}, 2),
             task(items[2], "natural", None, 3)]
    admin_user.email = "adm@x"
    admin_user.save()
    response = post(api, researcher, campaign, {"tasks": tasks, "source": "vendor-a"})
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3
    assert not Annotation.objects.filter(annotator__in=[annotator, admin_user, researcher]).exists()
    raters = {r.external_id: r.user for r in ImportedAnnotator.objects.filter(source="vendor-a")}
    assert set(raters) == {"ann", "adm@x", ""}
    for user in raters.values():
        assert not user.is_active and not user.has_usable_password() and not user.groups.exists()
        login = Client().post("/login/", {"username": user.username, "password": ""})
        assert login.status_code != 302 and "_auth_user_id" not in login.client.session
    # The labels count like any: they give the items their final labels.
    table = campaign_label_table(campaign=campaign)
    assert sorted(table.class_names[c] for c in table.final[0] if c >= 0) == ["natural", "natural", "rendition"]


def test_it_attributes_labels_to_users_only_by_an_explicit_map(api, researcher, annotator,
                                                               campaign: Campaign) -> None:
    items = _items(campaign)
    tasks = [task(items[0], "natural", "vendor-ann", 1), task(items[1], "rendition", "stranger", 2)]
    body = post(api, researcher, campaign, {"tasks": tasks, "annotator_map": {"vendor-ann": "ann"}}).json()
    assert body["created"] == 1 and body["skipped_by_reason"] == {"unmapped annotator": 1}
    assert body["skipped"][0]["annotator"] == "stranger" and body["skipped"][0]["task"] == 2
    assert list(Annotation.objects.values_list("item_id", "annotator_id", "label")) == [
        (items[0].id, annotator.id, "natural")]
    both = post(api, researcher, campaign, {"tasks": tasks, "annotator_map": {"vendor-ann": "ann"},
                                            "source": "vendor-b"}).json()
    assert (both["created"], both["unchanged"]) == (1, 1)
    assert Annotation.objects.get(item=items[1]).annotator.imported_as.source == "vendor-b"


def test_it_never_pushes_an_item_past_k(api, researcher, annotator, annotator2, campaign: Campaign) -> None:
    items = _items(campaign)
    leased = campaign_next_items(campaign=campaign, annotator=annotator2, n=1)[0]  # a live lease holds its room
    labelled = next(i for i in items if i.id != leased.id)
    Annotation.objects.create(item=labelled, annotator=annotator, label="natural")
    CampaignItem.objects.filter(pk=labelled.pk).update(labels_count=1)
    free = next(i for i in items if i.id not in (leased.id, labelled.id))
    tasks = [task(labelled, "rendition", "a", 1), task(leased, "rendition", "a", 2),
             task(free, "rendition", "a", 3), task(free, "natural", "b", 4)]
    body = post(api, researcher, campaign, tasks).json()
    assert body["created"] == 1
    assert body["skipped_by_reason"] == {"over k": 3}
    assert sorted(s["task"] for s in body["skipped"]) == [1, 2, 4]
    counts = dict(CampaignItem.objects.filter(campaign=campaign).values_list("id", "labels_count"))
    assert (counts[labelled.id], counts[leased.id], counts[free.id]) == (1, 0, 1)
    assert all(count <= 1 for count in counts.values())


def test_it_reports_unknown_items_and_labels(api, researcher, campaign: Campaign) -> None:
    items = _items(campaign)
    stray = {"id": 7, "data": {"image": "https://elsewhere/x.jpg", "uid": "nope"},
             "annotations": [{"result": [{"type": "choices", "value": {"choices": ["natural"]}}]}]}
    body = post(api, researcher, campaign, [stray, task(items[0], "cartoon", "a", 8)]).json()
    assert body["created"] == 0
    assert body["skipped_by_reason"] == {"unknown item": 1, "unknown label": 1}
    reasons = {s["task"]: s["reason"] for s in body["skipped"]}
    assert reasons[8].startswith("unknown label") and "natural" in reasons[8]


def test_it_keeps_a_mapped_users_own_label(annotator, campaign: Campaign) -> None:
    item = _items(campaign)[0]
    Annotation.objects.create(item=item, annotator=annotator, label="natural")
    report = labels_import_labelstudio(campaign=campaign, data=[task(item, "rendition", "x")], imported_by=None,
                                       annotator_map={"x": annotator})
    assert report.updated == 0 and [s.reason.split(":")[0] for s in report.skipped] == [
        "the mapped user already gave this item another label; theirs is kept"]
    assert Annotation.objects.get(item=item).label == "natural"


def test_it_previews_an_import_without_writing(api, researcher, campaign: Campaign) -> None:
    items = _items(campaign)
    body = post(api, researcher, campaign, {"tasks": [task(items[0], "natural", "a")], "source": "preview",
                                            "dry_run": True}).json()
    assert (body["dry_run"], body["created"]) == (True, 1)
    assert not Annotation.objects.exists() and not ImportedAnnotator.objects.exists()
    assert not User.objects.filter(username__startswith="import:").exists()


def test_it_refuses_unknown_users_and_bad_source_names(api, researcher, campaign: Campaign) -> None:
    items = _items(campaign)
    unknown = post(api, researcher, campaign, {"tasks": [task(items[0], "natural", "a")],
                                               "annotator_map": {"a": "ghost"}})
    assert unknown.status_code == 400 and "ghost" in unknown.json()["detail"]
    bad = post(api, researcher, campaign, {"tasks": [task(items[0], "natural", "a")], "source": "../../x"})
    assert bad.status_code == 400 and "source" in bad.content.decode()
    assert not Annotation.objects.exists()


def test_it_imports_from_the_command_with_a_map_and_a_report(annotator, campaign: Campaign, tmp_path: Path) -> None:
    import json

    items = _items(campaign)
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task(items[0], "natural", "vendor-ann", 1), task(items[1], "natural", "other", 2),
                                task(items[1], "natural", "third", 3)]))
    err = StringIO()
    call_command("export_labels", campaign.name, "--import-labelstudio", str(path), "--map", "vendor-ann=ann",
                 "--source", "vendor", "--report", str(tmp_path / "skipped.csv"), stdout=StringIO(), stderr=err)
    assert "labels created 2" in err.getvalue() and "skipped 1 (over k 1)" in err.getvalue()
    rows = list(csv.DictReader((tmp_path / "skipped.csv").open()))
    assert [(r["task"], r["annotator"], r["reason"].split(":")[0]) for r in rows] == [("3", "third", "over k")]
    assert Annotation.objects.get(item=items[0]).annotator == annotator
    with pytest.raises(CommandError, match="--as-user is gone"):
        call_command("export_labels", campaign.name, "--import-labelstudio", str(path), "--as-user", "ann",
                     stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="no user 'ghost'"):
        call_command("export_labels", campaign.name, "--import-labelstudio", str(path), "--map", "x=ghost",
                     stdout=StringIO(), stderr=StringIO())
