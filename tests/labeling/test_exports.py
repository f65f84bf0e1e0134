"""Exports in every format, the Label Studio round trip, and who may export."""
from __future__ import annotations

import io
import json
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from labeling import exports
from labeling.models import Annotation, AnnotationHistory, CampaignItem
from labeling.selectors.quality import campaign_label_table
from labeling.services.labelstudio import labels_import_labelstudio
from labeling.services.quality import snapshot_create, split_create
from tests.labeling.quality_helpers import labelled_campaign

N, R, A = "natural", "rendition", "ambiguous"
LABELS = [[N, N, R], [R, R, R], [A, A, N], [N, R, A], [N, N, N], [R, R, None]]


@pytest.fixture
def labelled(media_root, researcher):
    return labelled_campaign(labels=LABELS, owner=researcher)


def _get(api, user, campaign, query: str):
    return api(user).get(f"/api/v1/campaigns/{campaign.id}/export/?{query}")


def test_it_exports_csv_jsonl_and_parquet_with_the_same_rows(api, researcher, labelled) -> None:
    campaign, items, _ = labelled
    csv = pd.read_csv(io.BytesIO(_get(api, researcher, campaign, "format=csv").content), keep_default_na=False)
    jsonl = pd.read_json(io.BytesIO(_get(api, researcher, campaign, "format=jsonl").content), lines=True)
    response = _get(api, researcher, campaign, "format=parquet")
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    parquet = pd.read_parquet(io.BytesIO(response.content))
    for frame in (csv, jsonl, parquet):
        assert list(frame.columns) == exports.COLUMNS
        assert len(frame) == 6
        first = frame.iloc[0]
        assert (first["label"], int(first["label_index"]), int(first["label_count"])) == (N, 0, 3)
        assert float(first["agreement"]) == pytest.approx(2 / 3)
        assert first["uid"] == items[0].image.uid
    assert list(parquet["label"]) == [N, R, A, "", N, R]
    assert list(parquet["label_index"]) == [0, 1, 2, -1, 0, 1]


def test_it_exports_the_paper_labels_json_shape(api, researcher, labelled) -> None:
    campaign, items, _ = labelled
    body = _get(api, researcher, campaign, "format=labels_json").json()
    assert body == {items[0].image.uid: 0, items[1].image.uid: 1, items[2].image.uid: 2, items[4].image.uid: 0,
                    items[5].image.uid: 1}


def test_it_exports_label_studio_tasks_and_config(api, researcher, labelled) -> None:
    campaign, items, _ = labelled
    tasks = _get(api, researcher, campaign, "format=labelstudio").json()
    assert tasks[0]["data"]["image"] == f"http://testserver/api/v1/images/{items[0].image_id}/file/"
    result = tasks[0]["annotations"][0]["result"][0]
    assert (result["from_name"], result["to_name"], result["type"]) == ("label", "image", "choices")
    assert result["value"] == {"choices": [N]}
    assert tasks[3]["annotations"] == []  # the tie has no final label
    assert tasks[0]["meta"]["uid"] == items[0].image.uid
    config = api(researcher).get(f"/api/v1/campaigns/{campaign.id}/labelstudio-config/").content.decode()
    assert '<Image name="image" value="$image"/>' in config
    assert '<Choices name="label" toName="image"' in config and '<Choice value="rendition"/>' in config


def test_it_restores_labels_from_a_label_studio_export(api, researcher, admin_user, labelled) -> None:
    campaign, items, _ = labelled
    tasks = _get(api, researcher, campaign, "format=labelstudio").json()
    before = campaign_label_table(campaign=campaign)
    final_before = [before.class_names[c] if c >= 0 else "" for c in before.final[0]]
    # Label Studio's own export adds fields and numbers users; match by uid and by image URL.
    for task in tasks:
        for annotation in task["annotations"]:
            annotation["completed_by"] = {"id": 1, "email": "someone@elsewhere"}
            annotation["was_cancelled"] = False
    tasks[1]["data"].pop("uid")
    tasks[1]["meta"] = {}
    Annotation.objects.filter(item__campaign=campaign).delete()
    CampaignItem.objects.filter(campaign=campaign).update(labels_count=0)
    response = api(researcher).post(f"/api/v1/campaigns/{campaign.id}/import/labelstudio/", tasks, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 5 and response.json()["skipped_count"] == 0
    after = campaign_label_table(campaign=campaign)
    assert [after.class_names[c] if c >= 0 else "" for c in after.final[0]] == final_before
    assert list(CampaignItem.objects.filter(campaign=campaign).order_by("image_id")
                .values_list("labels_count", flat=True)) == [1, 1, 1, 0, 1, 1]
    assert AnnotationHistory.objects.filter(annotation__item__campaign=campaign).count() == 5
    again = labels_import_labelstudio(campaign=campaign, data=tasks, imported_by=researcher)
    assert (again.created, again.unchanged) == (0, 5)  # importing twice changes nothing


def test_it_refuses_a_malformed_label_studio_file(api, researcher, labelled) -> None:
    campaign, _, _ = labelled
    response = api(researcher).post(f"/api/v1/campaigns/{campaign.id}/import/labelstudio/", {"x": 1}, format="json")
    assert response.status_code == 400 and "list of tasks" in response.json()["detail"]


def test_it_exports_a_snapshot_with_its_split(api, researcher, admin_user, labelled) -> None:
    campaign, _, _ = labelled
    snapshot = snapshot_create(campaign=campaign, name="exp", created_by=admin_user)
    split = split_create(snapshot=snapshot, name="exp-split", preset="ratio", ratios=(0.5, 0.0, 0.5),
                         created_by=admin_user)
    frame = pd.read_csv(io.BytesIO(_get(api, researcher, campaign, f"format=csv&split={split.id}").content))
    assert len(frame) == 5 and set(frame["split"]) <= {"train", "test"}
    assert _get(api, researcher, campaign, "format=xml").status_code == 400


@pytest.mark.parametrize("who", ["annotator", "outsider"])
def test_it_refuses_exports_to_annotators(api, request, labelled, who) -> None:
    campaign, _, _ = labelled
    assert _get(api, request.getfixturevalue(who), campaign, "format=csv").status_code == 403
    assert api(request.getfixturevalue(who)).post(f"/api/v1/campaigns/{campaign.id}/import/labelstudio/", [],
                                                  format="json").status_code == 403


def test_it_exports_and_imports_from_the_command(labelled, researcher, tmp_path: Path) -> None:
    campaign, _, _ = labelled
    out, config = tmp_path / "ls.json", tmp_path / "config.xml"
    err = StringIO()
    call_command("export_labels", campaign.name, "--format", "labelstudio", "-o", str(out),
                 "--labelstudio-config", str(config), stdout=StringIO(), stderr=err)
    assert "exported 6 items (5 with a final label)" in err.getvalue()
    assert len(json.loads(out.read_text())) == 6 and "<Choices" in config.read_text()
    with pytest.raises(CommandError, match="parquet is binary"):
        call_command("export_labels", campaign.name, "--format", "parquet", stdout=StringIO(), stderr=StringIO())
    Annotation.objects.filter(item__campaign=campaign).delete()
    CampaignItem.objects.filter(campaign=campaign).update(labels_count=0)
    err = StringIO()
    call_command("export_labels", campaign.name, "--import-labelstudio", str(out), "--source", "restore",
                 stdout=StringIO(), stderr=err)
    assert "labels created 5" in err.getvalue()


def test_it_writes_an_export_file_from_the_task(labelled, settings) -> None:
    from labeling.tasks.quality import export_labels_task

    campaign, _, _ = labelled
    path = Path(export_labels_task(campaign.id, "parquet"))
    assert path.parent == Path(settings.ARTIFACTS_ROOT) / "exports"
    assert len(pd.read_parquet(path)) == 6
    assert export_labels_task(10**9, "csv") == "missing"
